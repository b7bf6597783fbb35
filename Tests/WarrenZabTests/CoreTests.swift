import XCTest
@testable import WarrenZab

/// The core with opaque payloads (no DataTree), through `MiniCluster`.
final class CoreTests: XCTestCase {
    let three: [ServerId: MemberRole] = [1: .participant, 2: .participant, 3: .participant]

    func testVotesOrderByEpochThenZxidThenId() {
        let a = Vote(leader: 9, zxid: Zxid(epoch: 1, counter: 50), peerEpoch: 1)
        let b = Vote(leader: 1, zxid: Zxid(epoch: 1, counter: 2), peerEpoch: 2)
        let c = Vote(leader: 2, zxid: Zxid(epoch: 1, counter: 2), peerEpoch: 2)
        XCTAssertLessThan(a, b)
        XCTAssertLessThan(b, c)
        XCTAssertEqual([c, a, b].max(), c)
    }

    func testEmptyEnsembleElectsHighestIdAndCommitsInOrder() {
        let c = MiniCluster(three)
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        XCTAssertEqual(c.servingLeader, 3)
        XCTAssertEqual(c.nodes[1]!.leaderId, 3)
        for i in 1...5 { c.propose([UInt8(i)]) }
        c.tick(2)
        for id in [ServerId(1), 2, 3] {
            XCTAssertEqual(c.delivered[id]!.map(\.payload), [[1], [2], [3], [4], [5]], "server \(id)")
            XCTAssertEqual(c.delivered[id]!.map(\.zxid), (1...5).map { Zxid(epoch: 1, counter: Int64($0)) })
        }
        XCTAssertEqual(c.nodes[3]!.epochs, EpochState(acceptedEpoch: 1, acceptedLeader: 3, currentEpoch: 1))
    }

    func testElectionPrefersCurrentEpochOverLongerLog() {
        let c = MiniCluster(three, durable: [1: .history(epoch: 2, count: 1), 3: .history(epoch: 1, count: 9)])
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        XCTAssertEqual(c.servingLeader, 1)
        // Server 3's epoch-1 entries after the common prefix are not in the leader's history: truncated away.
        XCTAssertEqual(c.nodes[3]!.lastLoggedZxid, Zxid(epoch: 2, counter: 1))
        XCTAssertTrue(c.sent.contains { $0.from == 1 && $0.to == 3 && $0.message == .trunc(epoch: 3, to: .zero) })
    }

    func testElectionPrefersLongerLogInSameEpoch() {
        let c = MiniCluster(three, durable: [1: .history(epoch: 1, count: 6), 3: .history(epoch: 1, count: 4)])
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        XCTAssertEqual(c.servingLeader, 1)
        XCTAssertTrue(c.sent.contains { $0.from == 1 && $0.to == 3 && $0.message == .diff(epoch: 2, from: Zxid(epoch: 1, counter: 4)) })
        for id in [ServerId(1), 2, 3] {
            XCTAssertEqual(c.delivered[id]!.count, 6, "the new leader commits its whole history on server \(id)")
        }
    }

    /// The follower's NEWLEADER ack waits for its log, and the currentEpoch write comes between the two.
    func testNewLeaderAckWaitsForDurableLogThenEpoch() {
        let c = MiniCluster(three, durable: [3: .history(epoch: 1, count: 3)])
        c.instantDisks = false
        c.run(ticks: 20) { c.nodes[1]!.state == .following && c.nodes[1]!.lastLoggedZxid == Zxid(epoch: 1, counter: 3) }
        c.tick(3)
        XCTAssertFalse(c.sent.contains { if case .ackNewLeader = $0.message { return true } else { return false } },
                       "no follower may ack NEWLEADER before its synced entries are durable")
        XCTAssertEqual(c.nodes[1]!.epochs.currentEpoch, 0)
        XCTAssertEqual(c.nodes[1]!.epochs.acceptedEpoch, 2)

        let before = c.actions[1]!.count
        c.flushDisk(1)
        let after = Array(c.actions[1]![before...])
        let epochWrite = after.firstIndex(of: .persistEpochs(EpochState(acceptedEpoch: 2, acceptedLeader: 3, currentEpoch: 2)))
        let ack = after.firstIndex(of: .send(to: 3, .ackNewLeader(epoch: 2, lastZxid: Zxid(epoch: 1, counter: 3))))
        XCTAssertNotNil(epochWrite)
        XCTAssertNotNil(ack)
        XCTAssertLessThan(epochWrite!, ack!)
        c.pump()
        XCTAssertEqual(c.servingLeader, 3, "the leader's own history was durable already; one ack makes a quorum")
    }

    func testFarBehindFollowerGetsSnapshot() {
        let c = MiniCluster(three, configure: { $0.retainedEntriesMax = 3 })
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        c.down.insert(1)
        for i in 1...10 { c.propose([UInt8(i)]) }
        c.tick()
        XCTAssertEqual(c.delivered[2]!.count, 10)
        c.down.remove(1)
        c.feed(1, .peerDisconnected(3))  // its session with the leader is gone; it looks again
        XCTAssertTrue(c.run(until: { c.nodes[1]!.isServing }), c.nodes.values.map(\.stateDescription).joined(separator: "\n"))
        XCTAssertTrue(c.sent.contains { if $0.to == 1, case .snapshot = $0.message { return true } else { return false } })
        XCTAssertEqual(c.nodes[1]!.lastDeliveredZxid, Zxid(epoch: 1, counter: 10))
    }

    /// The byte bound alone (the count bound far away) sends a learner behind by more payload than is retained a
    /// snapshot: with large values, DIFF would otherwise need 500 × their size in memory.
    func testFollowerBehindByMoreBytesThanRetainedGetsSnapshot() {
        let c = MiniCluster(three, configure: { $0.retainedEntriesMax = 500; $0.retainedBytesMax = 3 * 64 })
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        c.down.insert(1)
        for i in 1...10 { c.propose([UInt8](repeating: UInt8(i), count: 64)) }
        c.tick()
        XCTAssertEqual(c.delivered[2]!.count, 10)
        c.down.remove(1)
        c.feed(1, .peerDisconnected(3))
        XCTAssertTrue(c.run(until: { c.nodes[1]!.isServing }), c.nodes.values.map(\.stateDescription).joined(separator: "\n"))
        XCTAssertTrue(c.sent.contains { if $0.to == 1, case .snapshot = $0.message { return true } else { return false } })
        XCTAssertEqual(c.nodes[1]!.lastDeliveredZxid, Zxid(epoch: 1, counter: 10))
    }

    /// A SNAP transfer far longer than syncLimit and initLimit: while the shells report progress neither side gives
    /// up; once progress stops, the learner looks again after initLimit and the leader forgets it.
    func testSnapshotTransferIsKeptAliveByProgressOnly() {
        let c = MiniCluster(three, configure: { $0.retainedEntriesMax = 3 })
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        XCTAssertEqual(c.servingLeader, 3)
        c.down.insert(1)
        for i in 1...10 { c.propose([UInt8(i)]) }
        c.tick()
        c.down.remove(1)
        // The snapshot and everything after it "stream" for as long as the link is held.
        c.holdLinkAt = { from, to, m in
            if from == 3, to == 1, case .snapshot = m { return true } else { return false }
        }
        c.feed(1, .peerDisconnected(3))
        XCTAssertTrue(c.run(until: { c.heldLinks.contains([3, 1]) }))
        let config = c.nodes[3]!.config
        for _ in 0..<(3 * config.initLimitTicks) {
            c.feed(3, .syncProgress(1))
            c.feed(1, .syncProgress(3))
            c.tick()
        }
        XCTAssertEqual(c.nodes[1]!.state, .following, c.nodes[1]!.stateDescription)
        XCTAssertTrue(c.nodes[3]!.stateDescription.contains("1: fol syncing"), c.nodes[3]!.stateDescription)
        c.holdLinkAt = nil
        c.release()
        XCTAssertTrue(c.run(until: { c.nodes[1]!.isServing }), c.nodes.values.map(\.stateDescription).joined(separator: "\n"))
        XCTAssertEqual(c.nodes[1]!.lastDeliveredZxid, Zxid(epoch: 1, counter: 10))

        // The same stall without progress: the learner gives up after initLimit, the leader forgets it.
        c.feed(1, .peerDisconnected(3))
        c.holdLinkAt = { from, to, m in
            if from == 3, to == 1, case .diff = m { return true } else { return false }
        }
        XCTAssertTrue(c.run(until: { c.heldLinks.contains([3, 1]) }))
        let before = c.actions[1]!.count
        c.tick(config.initLimitTicks + 2)
        XCTAssertTrue(c.actions[1]![before...].contains(.becameLooking), c.nodes[1]!.stateDescription)
        XCTAssertFalse(c.nodes[3]!.stateDescription.contains("1: fol syncing"), c.nodes[3]!.stateDescription)
    }

    func testObserverFollowsCommitsButDoesNotCountTowardQuorum() {
        let c = MiniCluster([1: .participant, 2: .participant, 3: .observer])
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        XCTAssertEqual(c.servingLeader, 2)
        XCTAssertEqual(c.nodes[3]!.state, .observing)
        for i in 1...3 { c.propose([UInt8(i)]) }
        c.tick()
        XCTAssertEqual(c.delivered[3]!.map(\.payload), [[1], [2], [3]])
        // Without voter 1 the leader has no quorum: nothing more commits, and it gives up leading.
        c.down.insert(1)
        c.feed(2, .peerDisconnected(1))
        c.propose([4])
        c.tick()
        XCTAssertEqual(c.delivered[2]!.count, 3)
        XCTAssertNotEqual(c.nodes[2]!.state, .leading)
    }

    func testFollowerForwardsClientWritesToLeader() {
        let c = MiniCluster(three)
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        c.feed(1, .clientProposal(payload: [42]))
        XCTAssertEqual(c.sent.last?.message, .forward(payload: [42]))
        c.pump()
        XCTAssertEqual(c.actions[3]!.last, .forwarded(from: 1, payload: [42]))
    }

    /// A follower's sync is ZooKeeper's SYNC: no proposal, no zxid; the leader answers once what it had proposed is
    /// committed, and the follower reports it only after delivering those commits.
    func testFollowerSyncWaitsForTheLeadersProposalsWithoutAZxid() {
        let c = MiniCluster(three)
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        let leader = c.servingLeader!
        let follower = [ServerId(1), 2, 3].first { $0 != leader }!
        c.instantDisks = false  // nobody's log is durable, so [7] cannot commit yet
        c.propose([7])
        c.pump()
        let logged = c.nodes[leader]!.lastLoggedZxid
        c.actions[follower] = []
        c.feed(follower, .clientSync(token: [1, 2]))
        XCTAssertEqual(c.sent.last?.message, .syncRequest(token: [1, 2]))
        c.pump()
        XCTAssertEqual(c.nodes[leader]!.pendingSyncCount, 1, "held until [7] commits")
        XCTAssertFalse(c.actions[follower]!.contains(.synced(token: [1, 2])))
        c.instantDisks = true
        for id in [ServerId(1), 2, 3] { c.flushDisk(id) }
        c.pump()
        let out = c.actions[follower]!
        let synced = out.firstIndex(of: .synced(token: [1, 2]))
        let delivered = out.firstIndex { if case let .deliver(e) = $0 { return e.contains { $0.payload == [7] } } else { return false } }
        XCTAssertNotNil(synced)
        XCTAssertNotNil(delivered)
        XCTAssertLessThan(delivered ?? .max, synced ?? .min, "the commit is delivered before the sync completes")
        XCTAssertEqual(c.nodes[leader]!.lastLoggedZxid, logged, "a sync takes no zxid")
        XCTAssertEqual(c.nodes[leader]!.pendingSyncCount, 0)
    }

    /// A sync asked by a learner that the leader has since dropped and taken back (it restarted, or its connection
    /// broke) is not answered in the new session: the server there holds no such request, and the answer made a
    /// restarted follower stop (EnsembleSim seed 1786).
    func testSyncOfAnEarlierLearnerSessionIsNotAnsweredInALaterOne() {
        let c = MiniCluster(three)
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        let leader = c.servingLeader!
        let follower = [ServerId(1), 2, 3].first { $0 != leader }!
        c.instantDisks = false
        c.propose([7])
        c.pump()
        c.feed(follower, .clientSync(token: [9, 9]))
        c.pump()
        XCTAssertEqual(c.nodes[leader]!.pendingSyncCount, 1, "held until [7] commits")
        // The connection breaks both ways; the follower looks again and rejoins the same leader.
        c.feed(leader, .peerDisconnected(follower))
        c.feed(follower, .peerDisconnected(leader))
        // It is back before [7] commits: only its own disk completes writes meanwhile.
        XCTAssertTrue(c.run(until: {
            c.flushDisk(follower)
            return c.nodes[follower]!.isServing && c.nodes[follower]!.leaderId == leader
        }))
        XCTAssertEqual(c.nodes[leader]!.pendingSyncCount, 1, "[7] still not committed")
        c.instantDisks = true
        for id in [ServerId(1), 2, 3] { c.flushDisk(id) }
        c.pump()
        let replies = c.sent.filter { if case let .syncReply(_, _, token) = $0.message { return token == [9, 9] } else { return false } }
        XCTAssertEqual(replies.count, 0, "answered in a later session: \(replies)")
        XCTAssertEqual(c.nodes[leader]!.pendingSyncCount, 0, "dropped once [7] committed")
    }

    /// With a tiny counter limit the leader re-elects every few proposals; accepted writes are never lost or
    /// reordered, and every epoch change is a new election.
    func testZxidCounterExhaustionForcesNewEpochWithoutLoss() {
        let c = MiniCluster(three, configure: { $0.zxidCounterMax = 3 })
        var accepted: [[UInt8]] = []
        var next: UInt8 = 0
        for _ in 0..<400 where accepted.count < 10 {
            if let l = c.servingLeader, c.nodes[l]!.nextProposalZxid != nil {
                next += 1
                c.propose([next])
                accepted.append([next])
            }
            c.tick()
        }
        c.run { c.allServing && c.servingLeader != nil && c.delivered[1]!.count == accepted.count }
        for id in [ServerId(1), 2, 3] { XCTAssertEqual(c.delivered[id]!.map(\.payload), accepted, "server \(id)") }
        let zxids = c.delivered[1]!.map(\.zxid)
        XCTAssertEqual(zxids, zxids.sorted())
        XCTAssertTrue(zxids.allSatisfy { $0.counter <= 3 })
        XCTAssertGreaterThanOrEqual(Set(zxids.map(\.epoch)).count, 4)
    }

    func testExhaustedLeaderRejectsThenStepsDown() {
        let c = MiniCluster(three, configure: { $0.zxidCounterMax = 2 })
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        let leader = c.servingLeader!
        c.instantDisks = false
        c.feed(leader, .clientProposal(payload: [1]))
        c.feed(leader, .clientProposal(payload: [2]))
        c.feed(leader, .clientProposal(payload: [3]))
        XCTAssertEqual(c.actions[leader]!.last, .rejected(payload: [3], reason: .zxidExhausted))
        XCTAssertEqual(c.nodes[leader]!.state, .leading, "it drains in-flight proposals before stepping down")
        c.instantDisks = true
        for id in c.nodes.keys.sorted() { c.flushDisk(id) }
        c.pump()
        for id in c.nodes.keys.sorted() { c.flushDisk(id) }
        c.pump()
        XCTAssertEqual(c.delivered[leader]!.map(\.payload), [[1], [2]])
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        XCTAssertEqual(c.nodes[c.servingLeader!]!.epoch, 2)
    }

    func testLeaderWithoutQuorumStepsDownAfterSyncLimit() {
        let c = MiniCluster(three)
        XCTAssertTrue(c.run(until: { c.allServing && c.servingLeader != nil }))
        c.down.formUnion([1, 2])
        c.tick(c.nodes[3]!.config.syncLimitTicks + 2)
        XCTAssertEqual(c.nodes[3]!.state, .looking)
        XCTAssertEqual(c.actions[3]!.last(where: { $0 == .becameLooking }), .becameLooking)
    }
}
