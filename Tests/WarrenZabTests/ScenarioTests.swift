import XCTest
import WarrenJute
import WarrenTree
@testable import WarrenZab

/// Deterministic replays of ZooKeeper's known synchronization bugs; Warren must come out consistent.
final class ScenarioTests: XCTestCase {
    private func ensemble(seed: UInt64) -> Simulator {
        let sim = Simulator(members: [1: .participant, 2: .participant, 3: .participant], seed: seed)
        sim.tracing = true
        return sim
    }

    private func settle(_ sim: Simulator, leader expected: ServerId? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(sim.run(ticks: 200) { sim.settled }, "no settled leader:\n\(sim.stateDump)", file: file, line: line)
        if let expected { XCTAssertEqual(sim.leader, expected, "\n\(sim.stateDump)", file: file, line: line) }
    }

    /// Submits a write through `via` and runs until its client is acknowledged.
    @discardableResult
    private func commit(_ sim: Simulator, via: ServerId, file: StaticString = #filePath, line: UInt = #line) -> SimRequest {
        let request = sim.write(via: via)
        XCTAssertTrue(sim.run(ticks: 50) { sim.acknowledged[request] != nil }, "write not acknowledged", file: file, line: line)
        return request
    }

    /// Logs writes on `leader` alone (the others are down), so they exist on no other server and are uncommitted.
    private func logAlone(_ sim: Simulator, on leader: ServerId, count: Int) -> [SimRequest] {
        let node = sim.servers[leader]!.node
        let before = node.lastLoggedZxid
        let requests = (0..<count).map { _ in sim.write(via: leader) }
        XCTAssertTrue(sim.run(ticks: 20) { node.durableZxid == node.lastLoggedZxid }, sim.stateDump)
        XCTAssertGreaterThan(node.lastLoggedZxid, before, "the writes were logged")
        return requests
    }

    /// Requests in the final history, by position.
    private func historyRequests(_ sim: Simulator) -> [SimRequest] {
        sim.checker.history.map { entry in
            var r = JuteReader(entry.payload)
            let txn = try! Txn(from: &r)
            return SimRequest(client: txn.header.sessionId, seq: txn.header.cxid)
        }
    }

    /// Every server delivered the whole history, with equal digests, and the checker saw nothing wrong.
    private func assertConverged(_ sim: Simulator, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(sim.checker.violations, [], file: file, line: line)
        let digests = Set(sim.ids.map { sim.servers[$0]!.tree.digest })
        XCTAssertEqual(digests.count, 1, "digests differ:\n\(sim.stateDump)", file: file, line: line)
        for id in sim.ids {
            XCTAssertEqual(sim.servers[id]!.count, sim.checker.history.count, "server \(id)", file: file, line: line)
        }
    }

    /// Checks, as it happens, that a learner acknowledges NEWLEADER only with its log durable through the
    /// NEWLEADER zxid and currentEpoch already written.
    private func watchNewLeaderAcks(_ sim: Simulator) -> () -> Int {
        var acks = 0
        sim.onAction = { server, action in
            guard case let .send(_, .ackNewLeader(epoch, z)) = action else { return }
            acks += 1
            let durable = server.disk.durable.map(\.zxid)
            let logged = server.node.lastLoggedZxid
            XCTAssertEqual(logged, z)
            XCTAssertTrue(server.disk.snapshot.zxid >= z || durable.contains(z) || z == .zero,
                          "server \(server.id) acks NEWLEADER \(z) before its log is durable (durable: \(durable))")
            XCTAssertEqual(server.disk.epochs.currentEpoch, epoch, "currentEpoch must be written before the ack")
        }
        return { acks }
    }

    // MARK: - ZOOKEEPER-2832

    /// A server keeps an uncommitted proposal from an old epoch while other servers move on through two more
    /// epochs; when it syncs again its divergent txn must be truncated, not kept (ZooKeeper's
    /// testDivergenceResync: A=1, B=2, C=3).
    func testZookeeper2832DivergentUncommittedTxnIsTruncated() {
        let sim = ensemble(seed: 2832)
        settle(sim, leader: 3)
        let initial = [commit(sim, via: 3), commit(sim, via: 3)]
        for s in [ServerId(1), 2, 3] { sim.crash(s) }

        sim.restart(1); sim.restart(2)
        settle(sim, leader: 2)
        sim.crash(1)
        let divergent = logAlone(sim, on: 2, count: 1)
        let divergentZxid = sim.servers[2]!.node.lastLoggedZxid
        sim.crash(2)

        sim.restart(1); sim.restart(3)
        settle(sim, leader: 1)  // 1 adopted epoch 2, 3 did not: 1 wins on epoch
        sim.crash(1); sim.crash(3)

        sim.restart(2); sim.restart(3)
        settle(sim, leader: 3)  // 3 adopted epoch 3
        XCTAssertTrue(sim.actions(of: 2).contains { if case let .truncateLog(after) = $0.action { return after < divergentZxid } else { return false } },
                      "server 2 must truncate its divergent \(divergentZxid)")
        let later = commit(sim, via: 3)
        sim.crash(2); sim.crash(3)
        sim.restart(2); sim.restart(3)
        settle(sim)
        sim.restart(1)
        settle(sim)
        XCTAssertTrue(sim.run(ticks: 20) { sim.ids.allSatisfy { sim.servers[$0]!.count == sim.checker.history.count } })

        let final = historyRequests(sim)
        XCTAssertEqual(final, initial + [later])
        XCTAssertFalse(final.contains(divergent[0]))
        XCTAssertTrue(sim.ids.allSatisfy { sim.servers[$0]!.disk.recovered.log.allSatisfy { $0.zxid != divergentZxid } })
        assertConverged(sim)
    }

    // MARK: - ZOOKEEPER-3911

    /// Txns synced by DIFF become committed when a quorum acks NEWLEADER. If the whole quorum then crashes and
    /// the old leader never returns, the txns must still be there (ZooKeeper ≤ 3.6 logged them only after UPTODATE).
    func testZookeeper3911DiffSyncedTxnsSurviveQuorumCrashAfterEstablishment() {
        let sim = ensemble(seed: 3911)
        sim.faults.fsyncUnits = 5...25
        let acks = watchNewLeaderAcks(sim)
        settle(sim, leader: 3)
        sim.crash(1); sim.crash(2)
        let pending = logAlone(sim, on: 3, count: 3)
        sim.crash(3)

        sim.restart(3); sim.restart(1)
        XCTAssertTrue(sim.run(ticks: 100) { sim.servers[3]!.node.isServing }, sim.stateDump)
        XCTAssertEqual(historyRequests(sim), pending, "establishment commits the leader's history")
        sim.crash(1); sim.crash(3)  // right at establishment; unsynced tails are torn

        sim.restart(1); sim.restart(2)  // the old leader stays down
        settle(sim, leader: 1)
        XCTAssertTrue(sim.run(ticks: 20) { sim.servers[2]!.count == 3 })
        sim.restart(3)
        settle(sim)
        XCTAssertEqual(historyRequests(sim), pending)
        XCTAssertGreaterThan(acks(), 0)
        assertConverged(sim)
    }

    // MARK: - ZOOKEEPER-4646

    /// A follower whose disk is slow must not ack NEWLEADER while the synced txns are only in memory; when it
    /// crashes in that window, nothing the leader told clients is lost.
    func testZookeeper4646NoNewLeaderAckBeforeTxnsAreOnDisk() {
        let sim = ensemble(seed: 4646)
        let acks = watchNewLeaderAcks(sim)
        settle(sim, leader: 3)
        sim.crash(1); sim.crash(2)
        let pending = logAlone(sim, on: 3, count: 3)
        sim.crash(3)

        sim.fsyncHeld = [1]
        sim.restart(3); sim.restart(1)
        let acksBefore = acks()
        XCTAssertTrue(sim.run(ticks: 60) { sim.servers[1]!.node.lastLoggedZxid == sim.servers[3]!.node.lastLoggedZxid },
                      "the DIFF arrives\n\(sim.stateDump)")
        sim.run(ticks: 5)
        XCTAssertFalse(sim.servers[3]!.node.isServing, "no quorum may be counted from an unsynced follower")
        XCTAssertEqual(acks(), acksBefore)
        XCTAssertTrue(sim.checker.history.isEmpty)
        sim.crash(1)  // the synced txns were never fsynced: lost on this server
        sim.restart(1)
        sim.releaseFsync(1)
        settle(sim, leader: 3)
        let acknowledged = commit(sim, via: 3)
        sim.crash(3); sim.crash(1)

        sim.restart(1); sim.restart(2)
        settle(sim)
        sim.restart(3)
        settle(sim)
        XCTAssertTrue(sim.run(ticks: 20) { sim.ids.allSatisfy { sim.servers[$0]!.count == sim.checker.history.count } })
        XCTAssertEqual(historyRequests(sim), pending + [acknowledged])
        assertConverged(sim)
    }

    // MARK: - ZOOKEEPER-4643

    /// A follower must not write the new currentEpoch before the synced txns are durable: otherwise, crashing in
    /// between, it restarts with a newer epoch and an older log, wins the next election on epoch and truncates
    /// committed txns on the others.
    func testZookeeper4643CurrentEpochNotWrittenBeforeSyncedTxns() {
        let sim = ensemble(seed: 4643)
        settle(sim, leader: 3)
        sim.crash(1)
        let committed = [commit(sim, via: 3), commit(sim, via: 3), commit(sim, via: 3)]
        sim.crash(2); sim.crash(3)

        sim.fsyncHeld = [1]
        sim.restart(3); sim.restart(1)
        XCTAssertTrue(sim.run(ticks: 60) { sim.servers[1]!.node.lastLoggedZxid == sim.servers[3]!.node.lastLoggedZxid },
                      "the DIFF arrives\n\(sim.stateDump)")
        sim.run(ticks: 5)
        let newEpoch = sim.servers[3]!.disk.epochs.acceptedEpoch
        XCTAssertEqual(sim.servers[1]!.disk.epochs.acceptedEpoch, newEpoch, "server 1 accepted the new epoch")
        XCTAssertLessThan(sim.servers[1]!.disk.epochs.currentEpoch, newEpoch, "but did not adopt it: its log is not durable")
        XCTAssertFalse(sim.log.contains { $0.server == 1 && $0.action == .persistEpochs(EpochState(acceptedEpoch: newEpoch, acceptedLeader: 3, currentEpoch: newEpoch)) })
        sim.crash(1); sim.crash(3)
        sim.releaseFsync(1)

        sim.restart(1); sim.restart(2)
        settle(sim, leader: 2)  // 2 has the committed txns and the same currentEpoch; 1 cannot outvote it
        sim.restart(3)
        settle(sim)
        XCTAssertTrue(sim.run(ticks: 20) { sim.ids.allSatisfy { sim.servers[$0]!.count == sim.checker.history.count } })
        XCTAssertEqual(historyRequests(sim), committed)
        assertConverged(sim)
    }
}
