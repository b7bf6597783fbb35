import WarrenJute
import WarrenTree
import WarrenZab
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// A follower's sync whose answer is overtaken by the commit of a write the follower forwarded after it: the leader
/// answers the sync right after the commit covering what it had proposed when the sync arrived, and one commit can
/// cover more than that. Found by the fault runner (Tests/faults): the write was applied as another server's, its
/// entry blocked the follower's pipeline for good (the follower stopped answering) and the next sync's answer hit
/// `completeSync`'s precondition (the follower crashed).
final class EnsembleSyncOvertakenTests: XCTestCase {
    /// The reply headers `id` sent so far, by connection.
    private func replies(_ e: MiniEnsemble, _ id: ServerId) -> [UInt64: [ReplyHeader]] {
        Dictionary(grouping: e.takeSent(id), by: \.0).mapValues { packets in
            packets.map { packet in
                var r = JuteReader(packet.1)
                return try! r.read(ReplyHeader.self)
            }
        }
    }

    func testAWriteCommittedBeforeTheAnswerOfAnEarlierSyncIsAnsweredAndTheFollowerGoesOn() throws {
        let e = try MiniEnsemble()
        for _ in 0..<30 where Set(e.modes.values) != ["leader", "follower"] { e.tick() }
        XCTAssertEqual(e.modes[3], "leader", "modes \(e.modes)")
        let (leaderConn, _) = e.connect(3, conn: 1)
        let (syncConn, _) = e.connect(2, conn: 1)
        let (writeConn, _) = e.connect(2, conn: 2)
        // Both followers' disks are slow: the leader's write below stays uncommitted while the sync and the
        // forwarded write reach the leader, so the sync waits and the write is proposed behind the leader's one.
        e.holdDurable = [1, 2]
        e.perform(3, e.cores[3]!.onPacket(
            leaderConn, Request.create(CreateRequest(path: "/l", data: nil, acl: ACL.openUnsafe, flags: 0)).packet(xid: 1),
            now: e.now))
        e.perform(2, e.cores[2]!.onPacket(syncConn, Request.sync(SyncRequest(path: "/")).packet(xid: 1), now: e.now))
        e.perform(2, e.cores[2]!.onPacket(
            writeConn, Request.create(CreateRequest(path: "/w", data: nil, acl: ACL.openUnsafe, flags: 0)).packet(xid: 1),
            now: e.now))
        e.settle()
        XCTAssertTrue(replies(e, 2).isEmpty, "nothing is committed yet")
        // Follower 2's disk catches up: one ack covers both proposals, one commit covers both, then the sync's answer.
        e.releaseDurable(2)
        e.settle()
        let answered = replies(e, 2)
        XCTAssertEqual(answered[syncConn]?.map(\.xid), [1], "the sync is answered")
        XCTAssertEqual(answered[writeConn]?.map { [$0.xid, $0.err] }, [[1, 0]], "the write is answered")
        XCTAssertNotNil(e.cores[2]!.tree.exists("/w"))
        // The follower goes on: a later sync and a later write through it are answered.
        XCTAssertEqual(e.request(2, conn: syncConn, xid: 2, .sync(SyncRequest(path: "/"))).map(\.0.err), [0])
        XCTAssertEqual(e.request(2, conn: writeConn, xid: 2,
                                 .create(CreateRequest(path: "/w2", data: nil, acl: ACL.openUnsafe, flags: 0))).map(\.0.err), [0])
        e.releaseDurable(1)
        e.settle()
        for id in [1, 2, 3] as [ServerId] {
            XCTAssertNotNil(e.cores[id]!.tree.exists("/w2"), "server \(id)")
            XCTAssertEqual(e.modes[id], id == 3 ? "leader" : "follower")
        }
    }

    /// A write this follower forwarded that the leader never proposed (a leader whose zxid counter is exhausted
    /// drops forwarded writes; the fault runner met the same state), then a sync the leader answers: the write
    /// ahead of the sync can never be delivered in this leadership. Its client's connection is closed (the outcome
    /// is unknown to it, as after any lost connection; it was not applied), the sync is answered, and the follower
    /// goes on — before, `completeSync`'s precondition crashed it (seen by Tests/faults, seed 3002).
    func testASyncAnsweredPastAForwardedWriteTheLeaderNeverGotFailsThatWriteAndTheFollowerGoesOn() throws {
        let e = try MiniEnsemble()
        for _ in 0..<30 where Set(e.modes.values) != ["leader", "follower"] { e.tick() }
        XCTAssertEqual(e.modes[3], "leader", "modes \(e.modes)")
        let (writeConn, _) = e.connect(2, conn: 1)
        let (syncConn, _) = e.connect(2, conn: 2)
        var dropped = 0
        e.dropQuorum = { from, to, message in
            guard from == 2, to == 3, case .forward = message, dropped == 0 else { return false }
            dropped += 1
            return true
        }
        e.perform(2, e.cores[2]!.onPacket(
            writeConn, Request.create(CreateRequest(path: "/lost", data: nil, acl: ACL.openUnsafe, flags: 0)).packet(xid: 1),
            now: e.now))
        e.settle()
        XCTAssertEqual(dropped, 1)
        e.dropQuorum = nil
        XCTAssertEqual(e.request(2, conn: syncConn, xid: 1, .sync(SyncRequest(path: "/"))).map(\.0.err), [0],
                       "the sync is answered")
        XCTAssertEqual(e.closed[2] ?? [], [writeConn], "the lost write's connection is closed")
        XCTAssertNil(e.cores[2]!.tree.exists("/lost"))
        XCTAssertEqual(e.modes[2], "follower")
        let (again, _) = e.connect(2, conn: 3)
        XCTAssertEqual(e.request(2, conn: again, xid: 1,
                                 .create(CreateRequest(path: "/after", data: nil, acl: ACL.openUnsafe, flags: 0))).map(\.0.err), [0])
        XCTAssertEqual(e.request(2, conn: syncConn, xid: 2, .sync(SyncRequest(path: "/"))).map(\.0.err), [0])
    }
}
