import Foundation
import WarrenJute
import XCTest

@testable import WarrenTree

/// Opt-in measurement of the tree's memory and snapshot costs (issue 5): run with `WARREN_TREE_MEMORY=1`
/// (`WARREN_TREE_NODES` overrides the default 1,000,000 nodes), preferably in a release build. It only prints
/// numbers; the one assertion is that the restored tree equals the original. Skipped otherwise.
final class MemoryFootprintTests: XCTestCase {
    func testMemoryAndRestoreAtScale() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["WARREN_TREE_MEMORY"] == "1" else { throw XCTSkip("set WARREN_TREE_MEMORY=1 to measure") }
        let nodes = env["WARREN_TREE_NODES"].flatMap { Int($0) } ?? 1_000_000
        let valueBytes = 100

        let before = MemoryFootprintTests.residentBytes()
        let tree = DataTree()
        var zxid: Int64 = 0
        func run(_ op: WriteOp) {
            zxid += 1
            guard case let .success(txn) = tree.prepare(op, ctx: .anyone, zxid: zxid, timeMs: 1_700_000_000_000 + zxid) else {
                preconditionFailure("prepare of \(op) failed")
            }
            tree.apply(txn)
        }
        run(.create(path: "/warren-bench", data: [], acl: ACL.openUnsafe, mode: .persistent))
        run(.create(path: "/warren-bench/keys", data: [], acl: ACL.openUnsafe, mode: .persistent))
        var value = [UInt8](repeating: 0, count: valueBytes)
        let buildStart = ContinuousClock.now
        for i in 0..<nodes {
            for j in 0..<valueBytes { value[j] = UInt8(truncatingIfNeeded: i &* 31 &+ j &* 7) }
            run(.create(path: "/warren-bench/keys/k\(i)", data: value, acl: ACL.openUnsafe, mode: .persistent))
        }
        let buildTime = ContinuousClock.now - buildStart
        let after = MemoryFootprintTests.residentBytes()
        let raw = tree.approximateDataSize
        let rss = after - before
        print(String(format: "tree-memory: %d nodes, raw %d B, RSS delta %d B, %.1f B/node RSS vs %.1f B/node raw, "
                     + "RSS/raw %.2f, build %@", nodes, raw, rss, Double(rss) / Double(nodes), Double(raw) / Double(nodes),
                     Double(rss) / Double(raw), "\(buildTime)"))

        let snapStart = ContinuousClock.now
        let bytes = tree.snapshot()
        let snapTime = ContinuousClock.now - snapStart
        let beforeRestore = MemoryFootprintTests.residentBytes()
        let restoreStart = ContinuousClock.now
        let restored = try DataTree.restore(from: bytes)
        let restoreTime = ContinuousClock.now - restoreStart
        let restoredRss = MemoryFootprintTests.residentBytes() - beforeRestore
        print("tree-memory: snapshot \(bytes.count) B (\(bytes.count / max(nodes, 1)) B/node) in \(snapTime), "
              + "restore in \(restoreTime), restored tree RSS \(restoredRss / max(nodes, 1)) B/node "
              + String(format: "(%.2fx raw)", Double(restoredRss) / Double(raw)))
        let digestStart = ContinuousClock.now
        _ = restored.digest
        print("tree-memory: first digest of the restored tree in \(ContinuousClock.now - digestStart)")
        XCTAssertEqual(restored.digest, tree.digest)
        XCTAssertEqual(restored.nodeCount, tree.nodeCount)
        XCTAssertEqual(restored.approximateDataSize, raw)
    }

    /// VmRSS of this process from /proc/self/status, in bytes (0 where there is no /proc).
    static func residentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        return 0
    }
}
