import Foundation
import XCTest
@testable import WarrenStorage

/// Opt-in timing of the storage half of a restart (issue 5): write, then load and verify, the newest snapshot of a
/// payload shaped like a version 3 tree snapshot of N nodes with 100 random bytes each (the records: names and
/// varint stats, ~23 B per node; then the values). Run with `WARREN_TREE_MEMORY=1` (`WARREN_TREE_NODES` overrides
/// 1,000,000), in a release build; it only prints numbers.
final class SnapshotLoadTimingTests: StorageTestCase {
    func testLoadTimeOfATreeSizedSnapshot() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["WARREN_TREE_MEMORY"] == "1" else { throw XCTSkip("set WARREN_TREE_MEMORY=1 to measure") }
        let nodes = env["WARREN_TREE_NODES"].flatMap { Int($0) } ?? 1_000_000
        var payload: [UInt8] = []
        payload.reserveCapacity(nodes * 123)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<nodes {
            let name = Array("k\(i)".utf8)
            payload += [0, UInt8(name.count)] + name + [101]
            payload += [0, 0, 0x80 | UInt8(i & 0x7F), UInt8((i >> 7) & 0x7F), 0xE0, 0xB5, 0xD2, 0xCD, 0xBC, 0x31]
        }
        for _ in 0..<(nodes * 100 / 8) { payload += withUnsafeBytes(of: rng.next() as UInt64) { Array($0) } }
        for level: Int32 in [1, -1, 0, 1] {
            let dir = snapDir + "/level\(level)-\(UInt32.random(in: 0...UInt32.max))"
            let store = try SnapshotStore(directory: dir, compressionLevel: level)
            let writeStart = ContinuousClock.now
            let fileBytes = try store.writeSnapshot(zxid: 1, payload: payload)
            let writeTime = ContinuousClock.now - writeStart
            let loadStart = ContinuousClock.now
            let (loaded, _) = try SnapshotStore(directory: dir).latestValidSnapshot()
            let loadTime = ContinuousClock.now - loadStart
            XCTAssertEqual(loaded?.payload.count, payload.count)
            print("snapshot-load: level \(level): payload \(payload.count) B, file \(fileBytes) B, write \(writeTime), "
                  + "load+verify \(loadTime)")
        }
    }
}
