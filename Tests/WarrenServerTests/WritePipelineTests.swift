import Logging
import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Persist before reply, apply in zxid order, per-connection FIFO, and reads from the committed tree.
final class WritePipelineTests: XCTestCase {
    func testCreateIsAnsweredWithItsZxidOnlyOnceDurable() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: 1, .create("/x", "v")), [.persist([2])])
        XCTAssertEqual(d.durable(upTo: 1), [], "durability below the txn answers nothing")
        XCTAssertNil(d.core.tree.exists("/x"), "nothing is applied before it is durable")
        XCTAssertEqual(d.durable(upTo: 2), [.ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/x")))])
        XCTAssertEqual(d.core.tree.exists("/x")?.mzxid, 2)
        XCTAssertEqual(d.durable(upTo: 2), [], "a repeated durability report answers nothing twice")
    }

    func testTwoWritesDurableInOneBatchAreAnsweredInOrder() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: 1, .create("/a")), [.persist([2])])
        XCTAssertEqual(d.send(a, xid: 2, .create("/b")), [.persist([3])])
        XCTAssertEqual(
            d.durable(upTo: 3),
            [
                .ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/a"))),
                .ok(a, xid: 2, zxid: 3, .create(CreateResponse(path: "/b"))),
            ])
    }

    func testPartialDurabilityAnswersOnlyThePrefix() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/a"))
        _ = d.send(a, xid: 2, .create("/b"))
        XCTAssertEqual(d.durable(upTo: 2), [.ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/a")))])
        XCTAssertEqual(d.durable(upTo: 3), [.ok(a, xid: 2, zxid: 3, .create(CreateResponse(path: "/b")))])
    }

    /// Another session's pending create makes this create fail; the failure must not overtake that create, or the
    /// client could read right after `nodeExists` and find no node (kazoo's Counter lost increments that way).
    func testFailureCausedByAnotherSessionsPendingWriteWaitsForIt() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        let (b, _) = try d.connectNewSession()
        let zxid = d.core.nextZxid
        XCTAssertEqual(d.send(a, xid: 1, .create("/x", "v")), [.persist([zxid])])
        XCTAssertEqual(d.send(b, xid: 1, .create("/x", "w")), [.persist([zxid + 1])], "b's nodeExists is an error txn after a's create")
        let out = d.durable(upTo: zxid + 1)
        XCTAssertEqual(out.count, 2, "\(out)")
        XCTAssertEqual(out.first, .ok(a, xid: 1, zxid: zxid, .create(CreateResponse(path: "/x"))))
        XCTAssertEqual(out.last?.replyHeader?.xid, 1)
        XCTAssertEqual(out.last?.replyHeader?.errorCode, .nodeExists)
        XCTAssertEqual(d.send(b, xid: 2, .getData("/x")).first?.replyHeader?.errorCode, .ok, "b now reads the node")
    }

    func testPreparedWritesSeeEarlierPendingWrites() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: 1, .create("/p")), [.persist([2])])
        // The parent exists only in the pending overlay; the child's create must still be accepted.
        XCTAssertEqual(d.send(a, xid: 2, .create("/p/c")), [.persist([3])])
        // A conflicting create is refused at once, as an error txn behind the pending writes.
        XCTAssertEqual(d.send(a, xid: 3, .create("/p")), [.persist([4])])
        let out = d.durable(upTo: 4)
        XCTAssertEqual(
            Array(out.prefix(2)),
            [
                .ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/p"))),
                .ok(a, xid: 2, zxid: 3, .create(CreateResponse(path: "/p/c"))),
            ])
        XCTAssertEqual(out.count, 3, "\(out)")
        XCTAssertEqual(out.last?.replyHeader?.xid, 3)
        XCTAssertEqual(out.last?.replyHeader?.errorCode, .nodeExists)
        XCTAssertEqual(out.last?.response, .empty)
    }

    /// ZooKeeper stamps every reply with the last zxid applied when the reply is sent, and the Java client adopts
    /// each reply's zxid as its lastZxidSeen; an older one would move the client's view of history backwards.
    func testQueuedRepliesCarryTheZxidAppliedWhenTheyAreSent() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/p"))
        _ = d.send(a, xid: 2, .create("/p"))
        _ = d.send(a, xid: Xid.ping, .ping)
        XCTAssertEqual(
            d.durable(upTo: 3),
            [
                .ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/p"))), .error(a, xid: 2, zxid: 3, .nodeExists),
                .ok(a, xid: Xid.ping, zxid: 3),
            ])
    }

    func testReadBehindAPendingWriteOfTheSameConnectionWaitsAndSeesIt() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: 1, .create("/x", "v1")), [.persist([2])])
        XCTAssertEqual(d.send(a, xid: 2, .getData("/x")), [], "the read waits behind the write")
        let out = d.durable(upTo: 2)
        XCTAssertEqual(out.count, 2, "\(out)")
        XCTAssertEqual(out.first, .ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/x"))))
        let stat = try XCTUnwrap(d.core.tree.exists("/x"))
        XCTAssertEqual(out.last, .ok(a, xid: 2, zxid: 2, .getData(GetDataResponse(data: Array("v1".utf8), stat: stat))))
    }

    func testReadFromAnotherConnectionIsAnsweredAtOnceFromTheCommittedTree() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        let (b, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: 1, .create("/x", "v1")), [.persist([3])])
        XCTAssertEqual(
            d.send(b, xid: 1, .getData("/x")), [.error(b, xid: 1, zxid: 2, .noNode)],
            "another connection's pending write is invisible")
        XCTAssertEqual(d.durable(upTo: 3), [.ok(a, xid: 1, zxid: 3, .create(CreateResponse(path: "/x")))])
        guard case let .reply(_, header, .getData(data))? = d.send(b, xid: 2, .getData("/x")).first else {
            return XCTFail("no getData reply")
        }
        XCTAssertEqual(header, ReplyHeader(xid: 2, zxid: 3, error: .ok))
        XCTAssertEqual(data.data, Array("v1".utf8))
    }

    func testSyncWaitsForEveryEarlierWriteOfAnyConnection() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        let (b, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        XCTAssertEqual(d.send(b, xid: 7, .sync(SyncRequest(path: "/x"))), [])
        XCTAssertEqual(
            d.durable(upTo: 3),
            [
                .ok(a, xid: 1, zxid: 3, .create(CreateResponse(path: "/x"))),
                .ok(b, xid: 7, zxid: 3, .sync(SyncResponse(path: "/x"))),
            ])
        XCTAssertEqual(
            d.send(b, xid: 8, .sync(SyncRequest(path: "/"))), [.ok(b, xid: 8, zxid: 3, .sync(SyncResponse(path: "/")))],
            "with nothing in flight sync answers at once")
    }

    func testPingIsAnsweredInOrderBehindPendingWrites() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: Xid.ping, .ping), [.ok(a, xid: Xid.ping, zxid: 1)])
        _ = d.send(a, xid: 1, .create("/x"))
        XCTAssertEqual(d.send(a, xid: Xid.ping, .ping), [])
        let out = d.durable(upTo: 2)
        XCTAssertEqual(out.first, .ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/x"))))
        XCTAssertEqual(out.count, 2, "\(out)")
        XCTAssertEqual(out.last?.replyHeader?.xid, Xid.ping)
        XCTAssertEqual(out.last?.replyHeader?.errorCode, .ok)
    }

    func testRepliesToAClosedConnectionAreDroppedButTheWriteApplies() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        XCTAssertEqual(d.closed(a), [])
        XCTAssertEqual(d.durable(upTo: 2), [])
        XCTAssertNotNil(d.core.tree.exists("/x"))
    }

    func testCreate2AndSetDataRepliesCarryTheStat() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        let create2 = Request.create2(CreateRequest(path: "/s", data: [1], acl: ACL.openUnsafe, mode: .persistentSequential))
        let created = d.write(a, xid: 1, create2)
        XCTAssertEqual(created.count, 2, "\(created)")
        guard case let .reply(_, _, .create2(r))? = created.last else { return XCTFail("\(created)") }
        XCTAssertEqual(r.path, "/s0000000000")
        XCTAssertEqual(r.stat.czxid, 2)

        let set = d.write(a, xid: 2, .setData("/s0000000000", "new", version: 0))
        guard case let .reply(_, header, .setData(s))? = set.last else { return XCTFail("\(set)") }
        XCTAssertEqual(header, ReplyHeader(xid: 2, zxid: 3, error: .ok))
        XCTAssertEqual(s.stat.version, 1)
        XCTAssertEqual(s.stat.mzxid, 3)
        XCTAssertEqual(s.stat.dataLength, 3)
    }

    func testBackpressurePausesAndResumesReading() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        var paused: [Event] = []
        for xid in 2...Int32(ServerCore.connectionOutstandingMax + 1) {
            paused = d.send(a, xid: xid, .exists("/x"))
            if !paused.isEmpty { break }
        }
        XCTAssertEqual(paused, [.reading(a, false)])
        let out = d.durable(upTo: 2)
        XCTAssertEqual(out.last, .reading(a, true))
        // Paused as the 1000th request went in flight (globalOutstandingLimit 1000), before a 1001st was read.
        XCTAssertEqual(out.count, ServerCore.connectionOutstandingMax + 1, "every queued request answered, then resume")
    }
}

/// The log is rolled a little before each snapshot falls due, so the boundary precedes the snapshot's zxid.
final class SnapshotRollTests: XCTestCase {
    func testLogRollComesShortlyBeforeEachSnapshot() throws {
        let d = try CoreDriver(config: CoreDriver.config { $0.snapCount = 200 })
        let (a, _) = try d.connectNewSession()
        var events: [Event] = []
        for i in 0..<900 {
            _ = d.send(a, xid: Int32(i + 1), .create("/n\(i)"))
            events += d.durableAll()
        }
        // Count applied txns (replies) from each roll to the snapshot after it, and between snapshots.
        var sinceRoll: Int?
        var sinceSnapshot = 0
        var intervals: [Int] = []
        for e in events {
            switch e {
            case .rollLog:
                XCTAssertNil(sinceRoll, "two rolls without a snapshot between them")
                sinceRoll = 0
            case .snapshot:
                // The first interval also holds the session's createSession, which is not a reply here.
                let interval = intervals.isEmpty ? sinceSnapshot + 1 : sinceSnapshot
                XCTAssertEqual(sinceRoll, ServerCore.snapshotRollLead(interval), "roll \(sinceRoll ?? -1) txns before a snapshot after \(interval)")
                sinceRoll = nil
                intervals.append(interval)
                sinceSnapshot = 0
            case .reply:
                if sinceRoll != nil { sinceRoll! += 1 }
                sinceSnapshot += 1
            default:
                break
            }
        }
        XCTAssertGreaterThanOrEqual(intervals.count, 4)
        XCTAssertTrue(intervals.allSatisfy { (100...200).contains($0) }, "snapshot points within [snapCount/2, snapCount]: \(intervals)")
        XCTAssertGreaterThan(Set(intervals).count, 1, "a new point is drawn after every snapshot: \(intervals)")
    }

    /// The snapshot points come from the seeded generator: the same seed, the same points.
    func testSnapshotPointsFollowTheSeed() throws {
        func points(seed: UInt64) throws -> [Int] {
            let core = try ServerCore(
                config: CoreDriver.config { $0.snapCount = 1000 },
                recovered: RecoveredServerState(tree: DataTree(config: TreeConfig()), sessionSecret: 42), now: Now(monoMs: 0, wallMs: 0),
                logger: Logger(label: "warren-test") { _ in SwiftLogNoOpLogHandler() }, seed: seed)
            return (0..<5).map { _ in core.drawSnapshotThreshold() }
        }
        XCTAssertEqual(try points(seed: 7), try points(seed: 7))
        XCTAssertNotEqual(try points(seed: 7), try points(seed: 8))
    }
}
