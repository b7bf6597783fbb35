import Foundation
import XCTest
@testable import WarrenStorage

/// Opt-in timing of the storage half of a restart (issue 5): load and verify the newest snapshot of a payload shaped
/// like a version 2 tree snapshot of N nodes with 100 random bytes each (names, varint stats, random values; ~121 B
/// per node). Run with `WARREN_TREE_MEMORY=1` (`WARREN_TREE_NODES` overrides 1,000,000), in a release build; it
/// only prints numbers.
final class SnapshotLoadTimingTests: StorageTestCase {
    func testLoadTimeOfATreeSizedSnapshot() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["WARREN_TREE_MEMORY"] == "1" else { throw XCTSkip("set WARREN_TREE_MEMORY=1 to measure") }
        let nodes = env["WARREN_TREE_NODES"].flatMap { Int($0) } ?? 1_000_000
        var payload: [UInt8] = []
        payload.reserveCapacity(nodes * 122)
        var rng = SystemRandomNumberGenerator()
        for i in 0..<nodes {
            let name = Array("k\(i)".utf8)
            payload += [0, UInt8(name.count)] + name + [101]
            var value: [UInt8] = []
            for _ in 0..<13 { value += withUnsafeBytes(of: rng.next() as UInt64) { Array($0) } }
            payload += value.prefix(100)
            payload += [0, 0, 0x80 | UInt8(i & 0x7F), UInt8((i >> 7) & 0x7F), 0xE0, 0xB5, 0xD2, 0xCD, 0xBC, 0x31]
        }
        for level: Int32 in [1, -1, 1, -1] {
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
