import WarrenJute
import XCTest

@testable import WarrenTree

/// Prepare against the overlay of unapplied txns, and multi semantics.
final class PrepareTests: XCTestCase {
    private func create(_ path: String, mode: CreateMode = .persistent) -> WriteOp {
        .create(path: path, data: [], acl: ACL.openUnsafe, mode: mode)
    }

    func testPreparedChangesAreVisibleBeforeApply() throws {
        let h = TreeHarness()
        let t1 = try h.prepare(create("/a")).get()
        let t2 = try h.prepare(create("/a/b")).get()
        XCTAssertEqual(h.prepare(create("/a")).failure, .nodeExists)
        XCTAssertEqual(h.prepare(.delete(path: "/a", version: -1)).failure, .notEmpty)
        let t3 = try h.prepare(.setData(path: "/a/b", data: [1], version: 0)).get()
        XCTAssertEqual(t3.body, .setData(path: "/a/b", data: [1], version: 1))
        XCTAssertEqual(h.prepare(.setData(path: "/a/b", data: [2], version: 0)).failure, .badVersion)
        let t4 = try h.prepare(.setData(path: "/a/b", data: [2], version: 1)).get()
        XCTAssertNil(h.stat("/a"), "nothing is committed before apply")
        XCTAssertEqual(h.tree.preparedChangeCount, 6)

        for txn in [t1, t2, t3, t4] { XCTAssertEqual(h.apply(txn).errorCode, .ok) }
        XCTAssertEqual(h.stat("/a/b")?.version, 2)
        XCTAssertEqual(h.tree.preparedChangeCount, 0)
        XCTAssertEqual(h.tree.lastProcessedZxid, t4.zxid)
    }

    func testPendingSequentialCreatesGetDistinctNames() throws {
        let h = TreeHarness()
        h.create("/q")
        let first = try h.prepare(create("/q/job-", mode: .persistentSequential)).get()
        let second = try h.prepare(create("/q/job-", mode: .persistentSequential)).get()
        guard case let .create(p1, _, _, _, c1) = first.body, case let .create(p2, _, _, _, c2) = second.body else {
            return XCTFail("\(first.body) \(second.body)")
        }
        XCTAssertEqual([p1, p2], ["/q/job-0000000000", "/q/job-0000000001"])
        XCTAssertEqual([c1, c2], [1, 2])
        h.apply(first)
        h.apply(second)
        XCTAssertEqual(h.children("/q"), ["job-0000000000", "job-0000000001"])
    }

    func testApplyRetiresOnlyUpToItsZxid() throws {
        let h = TreeHarness()
        let t1 = try h.prepare(create("/a")).get()
        _ = try h.prepare(.setData(path: "/a", data: [1], version: -1)).get()
        h.apply(t1)
        // The setData's record must still shadow the committed node.
        XCTAssertEqual(h.prepare(.setData(path: "/a", data: [2], version: 0)).failure, .badVersion)
        XCTAssertNoThrow(try h.prepare(.setData(path: "/a", data: [2], version: 1)).get())
    }

    func testSetACLIsEnforcedForLaterPrepares() throws {
        let h = TreeHarness()
        h.create("/a")
        _ = try h.prepare(.setACL(path: "/a", acl: ACL.readUnsafe, version: -1)).get()
        XCTAssertEqual(h.prepare(.setData(path: "/a", data: [1], version: -1)).failure, .noAuth)
    }

    func testDiscardPreparedForgetsOverlay() throws {
        let h = TreeHarness()
        _ = try h.prepare(create("/a")).get()
        h.tree.discardPrepared()
        XCTAssertEqual(h.tree.preparedChangeCount, 0)
        XCTAssertNoThrow(try h.prepare(create("/a")).get())
    }

    func testMultiSuccessAppliesAtomicallyWithOneZxid() throws {
        let h = TreeHarness()
        h.create("/m", "x")
        let r = try h.run(.multi([
            create("/m/a"),
            .setData(path: "/m", data: [7], version: 0),
            .check(path: "/m/a", version: 0),
            .delete(path: "/m/a", version: 0),
            create("/m/s-", mode: .persistentSequential),
        ])).get()
        guard case let .multi(results) = r.result else { return XCTFail("\(r.result)") }
        XCTAssertEqual(results.count, 5)
        guard case let .create(createdPath, createdStat) = results[0] else { return XCTFail("\(results[0])") }
        XCTAssertEqual(createdPath, "/m/a")
        XCTAssertEqual(createdStat.czxid, r.header.zxid)
        guard case let .setData(stat) = results[1] else { return XCTFail("\(results[1])") }
        XCTAssertEqual(stat.version, 1)
        XCTAssertEqual(results[2], .check)
        XCTAssertEqual(results[3], .delete)
        guard case let .create(seqPath, _) = results[4] else { return XCTFail("\(results[4])") }
        XCTAssertEqual(seqPath, "/m/s-0000000001")
        XCTAssertEqual(r.errorCode, .ok)
        XCTAssertEqual(h.children("/m"), ["s-0000000001"])
        XCTAssertEqual(h.stat("/m")?.pzxid, r.header.zxid)
        XCTAssertEqual(r.triggers.map(\.type), [.nodeCreated, .nodeChildrenChanged, .nodeDataChanged, .nodeDeleted,
                                                 .nodeChildrenChanged, .nodeCreated, .nodeChildrenChanged])
    }

    func testFailedMultiReportsPerOpResultsAndChangesNothing() throws {
        let h = TreeHarness()
        h.create("/m")
        let before = h.tree.digest
        let txn = try h.prepare(.multi([
            create("/m/a"),
            create("/m/s-", mode: .persistentSequential),
            .setData(path: "/m/missing", data: [], version: -1),
            create("/m/b"),
        ])).get()
        XCTAssertEqual(txn.body, .multi([.error(.ok), .error(.ok), .error(.noNode), .error(.runtimeInconsistency)]))
        XCTAssertEqual(h.tree.preparedChangeCount, 0, "the multi's records are rolled back")
        // The rolled-back sequential create must not consume a sequence number.
        let next = try h.prepare(create("/m/s-", mode: .persistentSequential)).get()
        guard case let .create(path, _, _, _, _) = next.body else { return XCTFail() }
        XCTAssertEqual(path, "/m/s-0000000000")

        let r = h.apply(txn)
        XCTAssertEqual(r.result, .multi([.error(.ok), .error(.ok), .error(.noNode), .error(.runtimeInconsistency)]))
        XCTAssertEqual(r.errorCode, .noNode)
        XCTAssertEqual(r.triggers, [])
        XCTAssertEqual(h.tree.digest, before)
        XCTAssertEqual(h.tree.lastProcessedZxid, txn.zxid)
        h.apply(next)
        XCTAssertEqual(h.children("/m"), ["s-0000000000"])
    }

    func testFailedMultiRestoresEarlierPendingRecords() throws {
        let h = TreeHarness()
        h.create("/m")
        let pendingSet = try h.prepare(.setData(path: "/m", data: [1], version: 0)).get()
        let failed = try h.prepare(.multi([
            .setData(path: "/m", data: [2], version: 1),
            .check(path: "/m", version: 99),
        ])).get()
        XCTAssertEqual(failed.body, .multi([.error(.ok), .error(.badVersion)]))
        // The pending setData (version 1) is what later prepares must see, not the multi's version 2.
        XCTAssertEqual(h.prepare(.check(path: "/m", version: 2)).failure, .badVersion)
        XCTAssertNoThrow(try h.prepare(.check(path: "/m", version: 1)).get())
        h.apply(pendingSet)
        h.apply(failed)
        XCTAssertEqual(h.stat("/m")?.version, 1)
    }

    func testMultiOpsSeeEarlierOpsOfTheSameMulti() throws {
        let h = TreeHarness()
        let txn = try h.prepare(.multi([create("/p"), create("/p/c"), .delete(path: "/p/c", version: 0), .delete(path: "/p", version: 0)])).get()
        guard case let .multi(bodies) = txn.body else { return XCTFail() }
        XCTAssertEqual(bodies.map(\.type), [.create, .create, .delete, .delete])
        XCTAssertEqual(h.apply(txn).errorCode, .ok)
        XCTAssertNil(h.stat("/p"))
        XCTAssertEqual(h.stat("/")?.pzxid, txn.zxid)
    }

    func testMultiRejectsNonMultiOps() {
        let h = TreeHarness()
        XCTAssertEqual(h.prepare(.multi([.setACL(path: "/", acl: ACL.openUnsafe, version: -1)])).failure, .marshallingError)
        XCTAssertEqual(h.prepare(.multi([.multi([])])).failure, .marshallingError)
        XCTAssertNoThrow(try h.prepare(.multi([])).get())
    }

    func testCheckStandalone() throws {
        let h = TreeHarness()
        h.create("/c")
        XCTAssertEqual(h.prepare(.check(path: "/c", version: 1)).failure, .badVersion)
        XCTAssertEqual(h.prepare(.check(path: "/nope", version: -1)).failure, .noNode)
        let t = try h.prepare(.check(path: "/c", version: 0)).get()
        XCTAssertEqual(t.body, .check(path: "/c", version: 1))
        XCTAssertEqual(h.apply(t).result, .check)
    }

    func testDeleteContainerRules() throws {
        let h = TreeHarness()
        h.create("/c", mode: .container)
        h.create("/c/x")
        h.create("/e", mode: .ephemeral, ctx: SessionContext(sessionId: 3))
        h.create("/plain")
        XCTAssertEqual(h.prepare(.deleteContainer(path: "/c")).failure, .notEmpty)
        XCTAssertEqual(h.prepare(.deleteContainer(path: "/e")).failure, .badVersion)
        XCTAssertEqual(h.prepare(.deleteContainer(path: "/zookeeper")).failure, .badArguments)
        XCTAssertNoThrow(try h.prepare(.deleteContainer(path: "/plain")).get(), "ZooKeeper only refuses ephemerals")
    }

    func testTxnEncodingRoundTrips() throws {
        let bodies: [TxnBody] = [
            .create(path: "/a", data: [1, 2], acl: ACL.openUnsafe, ephemeral: true, parentCVersion: 3),
            .createContainer(path: "/c", data: [], acl: ACL.creatorAll, parentCVersion: 1),
            .createTTL(path: "/t", data: [9], acl: ACL.readUnsafe, parentCVersion: 2, ttlMs: 500),
            .delete(path: "/a"), .deleteContainer(path: "/c"),
            .setData(path: "/a", data: [3], version: 4), .setACL(path: "/a", acl: ACL.openUnsafe, version: 2),
            .check(path: "/a", version: 1), .error(.noNode), .createSession(timeoutMs: 30_000),
            .closeSession(paths: ["/x", "/y"]),
            .multi([.create(path: "/m", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1), .error(.ok)]),
        ]
        for body in bodies {
            let txn = Txn(header: TxnHeader(sessionId: 0x1234, cxid: 7, zxid: 0x1_0000_0002, timeMs: 99), body: body)
            var r = JuteReader(txn.juteBytes())
            XCTAssertEqual(try Txn(from: &r), txn)
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testTxnDecodingRejectsGarbage() {
        var bad = JuteWriter()
        bad.writeLong(1); bad.writeInt(0); bad.writeLong(1); bad.writeLong(0)
        bad.writeInt(77)  // not an opcode
        var r = JuteReader(bad.bytes)
        XCTAssertThrowsError(try Txn(from: &r))
        let truncated = Array(Txn(header: TxnHeader(sessionId: 1, cxid: 0, zxid: 1, timeMs: 0), body: .delete(path: "/abc")).juteBytes().dropLast(2))
        var r2 = JuteReader(truncated)
        XCTAssertThrowsError(try Txn(from: &r2))
    }
}
