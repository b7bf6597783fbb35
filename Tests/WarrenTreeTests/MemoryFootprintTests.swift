import Foundation
import WarrenJute
import XCTest

@testable import WarrenTree

/// Opt-in measurement of the tree's memory and snapshot costs (issue 5): run with `WARREN_TREE_MEMORY=1`
/// (`WARREN_TREE_NODES` overrides the default 1,000,000 nodes), preferably in a release build. It only prints
/// numbers; the one assertion is that the restored tree equals the original. Skipped otherwise.
///
/// `WARREN_TREE_SNAPSHOT_OUT=<file>` also saves the snapshot; a later run with `WARREN_TREE_SNAPSHOT_IN=<file>`
/// only restores it, in a fresh process, as a restart does (`testRestoreInAFreshProcess`).
final class MemoryFootprintTests: XCTestCase {
    func testRestoreInAFreshProcess() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["WARREN_TREE_MEMORY"] == "1", let file = env["WARREN_TREE_SNAPSHOT_IN"] else {
            throw XCTSkip("set WARREN_TREE_MEMORY=1 and WARREN_TREE_SNAPSHOT_IN=<file> to measure")
        }
        let bytes = try MemoryFootprintTests.read(file)
        let before = MemoryFootprintTests.residentBytes()
        let start = ContinuousClock.now
        let tree = try DataTree.restore(from: bytes)
        let elapsed = ContinuousClock.now - start
        let rss = MemoryFootprintTests.residentBytes() - before
        let raw = tree.approximateDataSize
        // Uses `bytes` after the restore, so they are not released early and subtracted from the tree's share.
        print("tree-memory: RSS before restore \(before) B (snapshot \(bytes.count) B), after \(before + rss) B")
        print(String(format: "tree-memory: fresh restore of %d nodes in %@: RSS delta %d B, %.1f B/node, RSS/raw %.2f",
                     tree.nodeCount, "\(elapsed)", rss, Double(rss) / Double(tree.nodeCount), Double(rss) / Double(raw)))
    }

    func testMemoryAndRestoreAtScale() throws {
        let env = ProcessInfo.processInfo.environment
        guard env["WARREN_TREE_MEMORY"] == "1" else { throw XCTSkip("set WARREN_TREE_MEMORY=1 to measure") }
        let nodes = env["WARREN_TREE_NODES"].flatMap { Int($0) } ?? 1_000_000
        let valueBytes = env["WARREN_TREE_VALUE_BYTES"].flatMap { Int($0) } ?? 100
        // WARREN_TREE_FANOUT=n puts the nodes n to a parent under "/warren-bench/keys/p<j>" instead of all under one.
        let fanout = env["WARREN_TREE_FANOUT"].flatMap { Int($0) } ?? 0

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
            var parent = "/warren-bench/keys"
            if fanout > 0 {
                parent += "/p\(i / fanout)"
                if i % fanout == 0 { run(.create(path: parent, data: [], acl: ACL.openUnsafe, mode: .persistent)) }
            }
            run(.create(path: parent + "/k\(i)", data: value, acl: ACL.openUnsafe, mode: .persistent))
        }
        let buildTime = ContinuousClock.now - buildStart
        let after = MemoryFootprintTests.residentBytes()
        let raw = tree.approximateDataSize
        let rss = after - before
        print("tree-memory: \(valueBytes)-byte values, fanout \(fanout == 0 ? "all under one parent" : "\(fanout)")")
        print(String(format: "tree-memory: %d nodes, raw %d B, RSS delta %d B, %.1f B/node RSS vs %.1f B/node raw, "
                     + "RSS/raw %.2f, build %@", nodes, raw, rss, Double(rss) / Double(nodes), Double(raw) / Double(nodes),
                     Double(rss) / Double(raw), "\(buildTime)"))

        // What a background snapshot costs the core thread: the copy, then the first write after it, which
        // copies the node table, the index and the touched chunk and children set.
        let copyStart = ContinuousClock.now
        let copy = tree.committedCopy()
        let copyTime = ContinuousClock.now - copyStart
        let writeStart = ContinuousClock.now
        run(.create(path: "/warren-bench/keys/after-copy", data: value, acl: ACL.openUnsafe, mode: .persistent))
        let firstWrite = ContinuousClock.now - writeStart
        let secondStart = ContinuousClock.now
        run(.create(path: "/warren-bench/keys/after-copy-2", data: value, acl: ACL.openUnsafe, mode: .persistent))
        print("tree-memory: committedCopy \(copyTime), first write after it \(firstWrite), second \(ContinuousClock.now - secondStart)")
        withExtendedLifetime(copy) {}
        run(.delete(path: "/warren-bench/keys/after-copy", version: -1))
        run(.delete(path: "/warren-bench/keys/after-copy-2", version: -1))

        let orderStart = ContinuousClock.now
        _ = tree.preorderSlots()
        print("tree-memory: pre-order walk (children sorted by name) \(ContinuousClock.now - orderStart)")
        let snapStart = ContinuousClock.now
        let bytes = tree.snapshot()
        let snapTime = ContinuousClock.now - snapStart
        if let out = env["WARREN_TREE_SNAPSHOT_OUT"] { try Data(bytes).write(to: URL(fileURLWithPath: out)) }
        let beforeRestore = MemoryFootprintTests.residentBytes()
        let restoreStart = ContinuousClock.now
        let restored = try DataTree.restore(from: bytes)
        let restoreTime = ContinuousClock.now - restoreStart
        let restoredRss = MemoryFootprintTests.residentBytes() - beforeRestore
        print("tree-memory: snapshot \(bytes.count) B (\(bytes.count / max(nodes, 1)) B/node) in \(snapTime), "
              + "restore in \(restoreTime), restored tree RSS \(restoredRss / max(nodes, 1)) B/node "
              + String(format: "(%.2fx raw)", Double(restoredRss) / Double(raw)))
        // The previous layout (data inline), for comparison: same records, so its restore should cost the same.
        let v2Start = ContinuousClock.now
        let v2 = tree.snapshot(version: DataTree.snapshotVersionInline)
        let v2SnapTime = ContinuousClock.now - v2Start
        let v2RestoreStart = ContinuousClock.now
        let v2Restored = try DataTree.restore(from: v2)
        print("tree-memory: v2 snapshot \(v2.count) B in \(v2SnapTime), restore in \(ContinuousClock.now - v2RestoreStart)")
        XCTAssertEqual(v2Restored.nodeCount, tree.nodeCount)
        let digestStart = ContinuousClock.now
        _ = restored.digest
        print("tree-memory: first digest of the restored tree in \(ContinuousClock.now - digestStart)")
        XCTAssertEqual(restored.digest, tree.digest)
        XCTAssertEqual(restored.nodeCount, tree.nodeCount)
        XCTAssertEqual(restored.approximateDataSize, raw)
    }

    /// The file's bytes, with the `Data` they were read into already released.
    @inline(never)
    static func read(_ file: String) throws -> [UInt8] {
        let data = try Data(contentsOf: URL(fileURLWithPath: file))
        return [UInt8](data)
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
