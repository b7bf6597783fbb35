import WarrenJute
import XCTest

@testable import WarrenTree

/// The server keeps /zookeeper/quota<path>/zookeeper_stats equal to the usage below a path with a quota.
final class QuotaTests: XCTestCase {
    /// What zkCli's `setquota` sends for `path`: the /zookeeper/quota chain with null data, the limits, then the
    /// stats node with zero usage.
    static func setQuotaOps(_ path: String) -> [WriteOp] {
        var ops: [WriteOp] = []
        var chain = Quotas.root
        for component in path.split(separator: "/") {
            chain += "/" + component
            ops.append(.create(path: chain, data: nil, acl: ACL.openUnsafe, mode: .persistent))
        }
        ops.append(.create(path: Quotas.limitPath(for: path), data: Array("count=2,bytes=-1".utf8), acl: ACL.openUnsafe, mode: .persistent))
        ops.append(.create(path: Quotas.statPath(for: path), data: Array("count=0,bytes=0".utf8), acl: ACL.openUnsafe, mode: .persistent))
        return ops
    }

    private func setQuota(_ h: TreeHarness, _ path: String, file: StaticString = #filePath, line: UInt = #line) {
        for op in QuotaTests.setQuotaOps(path) {
            // Intermediate nodes may exist already (nested quotas); zkCli ignores nodeExists too.
            if let error = h.error(op), error != .nodeExists { XCTFail("\(op): \(error)", file: file, line: line) }
        }
    }

    private func stats(_ h: TreeHarness, _ path: String) -> String? {
        h.data(Quotas.statPath(for: path))
    }

    func testStatsFollowCreateSetDataAndDelete() throws {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        XCTAssertEqual(stats(h, "/q"), "count=1,bytes=0", "creating the stat node counts the subtree, /q itself")
        XCTAssertEqual(h.data(Quotas.limitPath(for: "/q")), "count=2,bytes=-1", "limits are the client's")
        XCTAssertNil(try h.tree.getData("/zookeeper/quota/q", ctx: .superUser()).get().data)
        let statNodeBefore = try XCTUnwrap(h.stat(Quotas.statPath(for: "/q")))

        h.create("/q/a", "1234")
        h.create("/q/b")
        XCTAssertEqual(stats(h, "/q"), "count=3,bytes=4")
        XCTAssertNil(h.error(.setData(path: "/q/b", data: Array("xy".utf8), version: -1)))
        XCTAssertEqual(stats(h, "/q"), "count=3,bytes=6")
        XCTAssertNil(h.error(.setData(path: "/q/b", data: nil, version: -1)))
        XCTAssertEqual(stats(h, "/q"), "count=3,bytes=4", "null data counts as 0 bytes")
        XCTAssertNil(h.error(.delete(path: "/q/a", version: -1)))
        XCTAssertEqual(stats(h, "/q"), "count=2,bytes=0")

        // Like ZooKeeper, only the data changes: no version, mzxid or mtime bump.
        let statNodeAfter = try XCTUnwrap(h.stat(Quotas.statPath(for: "/q")))
        XCTAssertEqual(statNodeAfter.version, statNodeBefore.version)
        XCTAssertEqual(statNodeAfter.mzxid, statNodeBefore.mzxid)
        XCTAssertEqual(statNodeAfter.mtime, statNodeBefore.mtime)
        XCTAssertEqual(Int(statNodeAfter.dataLength), "count=2,bytes=0".utf8.count)
        XCTAssertConsistentCounters(h.tree)
    }

    func testStatUpdatesFireNoWatchTriggers() throws {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        let r = try h.run(.create(path: "/q/a", data: [1], acl: ACL.openUnsafe, mode: .persistent)).get()
        XCTAssertEqual(r.triggers.map(\.path), ["/q/a", "/q"])
    }

    func testOnlyTheDeepestQuotaIsCharged() {
        let h = TreeHarness()
        h.create("/a")
        h.create("/a/b")
        h.create("/ab")
        setQuota(h, "/a")
        setQuota(h, "/a/b")
        XCTAssertEqual(h.tree.pathsWithQuota, ["/a", "/a/b"])
        XCTAssertEqual(stats(h, "/a"), "count=2,bytes=0")
        XCTAssertEqual(stats(h, "/a/b"), "count=1,bytes=0")
        h.create("/a/b/c", "12")
        XCTAssertEqual(stats(h, "/a/b"), "count=2,bytes=2")
        XCTAssertEqual(stats(h, "/a"), "count=2,bytes=0", "charged to /a/b only, as in ZooKeeper")
        h.create("/a/x", "1")
        XCTAssertEqual(stats(h, "/a"), "count=3,bytes=1")
        h.create("/ab/c", "123")
        XCTAssertEqual(stats(h, "/a"), "count=3,bytes=1", "/ab is not below /a")
    }

    func testDeletingTheLimitNodeEndsTracking() {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        XCTAssertNil(h.error(.delete(path: Quotas.limitPath(for: "/q"), version: -1)))
        XCTAssertEqual(h.tree.pathsWithQuota, [])
        h.create("/q/a", "1")
        XCTAssertEqual(stats(h, "/q"), "count=1,bytes=0", "the stat node stays, frozen")
    }

    func testMissingOrUnparsableStatNodeIsLeftAlone() {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        XCTAssertNil(h.error(.setData(path: Quotas.statPath(for: "/q"), data: Array("count=x".utf8), version: -1)))
        h.create("/q/a", "1")
        XCTAssertEqual(stats(h, "/q"), "count=x")
        XCTAssertNil(h.error(.delete(path: Quotas.statPath(for: "/q"), version: -1)))
        h.create("/q/b", "1")
        XCTAssertEqual(h.tree.pathsWithQuota, ["/q"], "the limit node still marks the quota")
        XCTAssertConsistentCounters(h.tree)
    }

    func testStatUpdateKeepsExtraKeysInZooKeeperLayout() {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        let custom = "count=1;countHardLimit=5,bytes=2;byteHardLimit=10"
        XCTAssertNil(h.error(.setData(path: Quotas.statPath(for: "/q"), data: Array(custom.utf8), version: -1)))
        h.create("/q/a", "12")
        XCTAssertEqual(stats(h, "/q"), "count=2,bytes=4=;byteHardLimit=10;countHardLimit=5")
    }

    func testLimitNodeDirectlyUnderQuotaRootIsIgnored() {
        let h = TreeHarness()
        h.create("/zookeeper/quota/zookeeper_limits", "count=1")
        h.create("/zookeeper/quota/zookeeper_stats", "count=0,bytes=0")
        h.create("/x", "1")
        XCTAssertEqual(h.tree.pathsWithQuota, [])
        XCTAssertEqual(h.data("/zookeeper/quota/zookeeper_stats"), "count=0,bytes=0")
    }

    func testQuotaOnAMissingPathStartsAtZero() {
        let h = TreeHarness()
        setQuota(h, "/later")
        XCTAssertEqual(stats(h, "/later"), "count=0,bytes=0")
        h.create("/later", "abc")
        h.create("/later/x")
        XCTAssertEqual(stats(h, "/later"), "count=2,bytes=3")
    }

    func testClosedSessionsAndMultisAreCharged() throws {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        let s = SessionContext(sessionId: 0x77)
        XCTAssertNil(h.error(.createSession(sessionId: 0x77, timeoutMs: 5_000), s))
        XCTAssertNil(h.error(.multi([
            .create(path: "/q/e1", data: [1, 2], acl: ACL.openUnsafe, mode: .ephemeral),
            .create(path: "/q/e2", data: nil, acl: ACL.openUnsafe, mode: .ephemeral),
        ]), s))
        XCTAssertEqual(stats(h, "/q"), "count=3,bytes=2")
        XCTAssertNil(h.error(.closeSession(sessionId: 0x77), s))
        XCTAssertEqual(stats(h, "/q"), "count=1,bytes=0")
    }

    func testRestoreRebuildsQuotasAndKeepsStoredStats() throws {
        let h = TreeHarness()
        h.create("/q")
        setQuota(h, "/q")
        h.create("/q/a", "123")
        let restored = try DataTree.restore(from: h.tree.snapshot())
        XCTAssertEqual(restored.pathsWithQuota, ["/q"])
        let txn = try h.prepare(.create(path: "/q/b", data: [1], acl: ACL.openUnsafe, mode: .persistent)).get()
        h.apply(txn)
        restored.apply(txn)
        XCTAssertEqual(stats(h, "/q"), "count=3,bytes=4")
        XCTAssertEqual(restored.snapshot(), h.tree.snapshot())
        XCTAssertEqual(restored.digest, h.tree.digest)
    }

    func testStatsTextParsingFollowsZooKeeper() {
        func parse(_ text: String) -> QuotaStats? { QuotaStats(parsing: Array(text.utf8)) }
        XCTAssertEqual(parse("count=3,bytes=4")?.text, "count=3,bytes=4")
        XCTAssertEqual(parse("")?.text, "count=-1,bytes=-1", "absent keys read as -1")
        XCTAssertEqual(parse(",;,")?.text, "count=-1,bytes=-1", "only separators: no pairs")
        XCTAssertEqual(parse("bytes=5=;count=2")?.text, "count=2,bytes=5", "text after a second = is ignored")
        XCTAssertEqual(parse("count==7")?.count, -1, "an empty value reads as -1")
        XCTAssertEqual(parse("count=+7,count=8")?.count, 8, "the last duplicate wins")
        XCTAssertEqual(parse("count=-2")?.count, -2)
        XCTAssertEqual(parse("count=1,z=3,Y=2")?.text, "count=1,bytes=-1=;Y=2;z=3", "extra keys sorted by code unit")
        XCTAssertNil(parse(",count=1"), "a leading separator yields an empty pair")
        XCTAssertNil(parse("count"))
        XCTAssertNil(parse("count="))
        XCTAssertNil(parse("count=1x"))
        XCTAssertNil(parse("count=99999999999999999999"))
        XCTAssertNil(QuotaStats(parsing: nil))
    }

    private func XCTAssertConsistentCounters(_ tree: DataTree, file: StaticString = #filePath, line: UInt = #line) {
        var size: Int64 = 0
        var digest: UInt64 = 0
        for slot in tree.index.slots {
            size += Int64(tree.node(slot).path.utf16.count + tree.node(slot).dataLength)
            digest &+= tree.nodeHash(slot)
        }
        XCTAssertEqual(tree.approximateDataSize, size + Int64(tree.node(0).dataLength), file: file, line: line)
        XCTAssertEqual(tree.nodeDigest, digest, file: file, line: line)
    }
}
