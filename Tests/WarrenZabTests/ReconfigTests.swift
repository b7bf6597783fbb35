import XCTest
@testable import WarrenZab

/// Membership changes through the core (`MiniCluster`'s opaque reconfig payloads): joint consensus on the old and
/// new voters, activation at delivery, learners outside the membership, role changes and a removed leader.
final class ReconfigTests: XCTestCase {
    let three: [ServerId: MemberRole] = [1: .participant, 2: .participant, 3: .participant]

    func testAJoiningServerFollowsAsNonVoterAndTheAddCommitsOnlyWithTheNewVotersAcks() {
        var four = three
        four[4] = .participant
        let c = MiniCluster(three, joining: [4: four])
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        XCTAssertEqual(c.servingLeader, 3, "a server outside the membership is never elected")
        XCTAssertEqual(c.nodes[4]!.state, .following)
        c.propose([7])
        c.tick(2)
        XCTAssertEqual(c.delivered[4]!.map(\.payload), [[7]], "a non-voting follower still gets every commit")

        // Acks from servers 2 and 4 held: 3 and 1 are a quorum of the old voters but not of the new ones.
        c.heldLinks = [[2, 3], [4, 3]]
        c.propose(MiniCluster.reconfigPayload(four))
        c.tick(3)
        XCTAssertEqual(c.delivered[3]!.count, 1, "reconfig committed without a quorum of the new voters")
        XCTAssertTrue(c.nodes[3]!.reconfigInProgress)
        XCTAssertEqual(c.nodes[3]!.config.members, three)
        c.release()
        c.tick(3)
        for id in [ServerId(1), 2, 3, 4] {
            XCTAssertEqual(c.delivered[id]!.count, 2, "server \(id)")
            XCTAssertEqual(c.nodes[id]!.config.members, four, "server \(id)")
            XCTAssertTrue(c.actions[id]!.contains { if case .membershipChanged(_, four) = $0 { true } else { false } })
        }
        XCTAssertFalse(c.nodes[3]!.reconfigInProgress)
        XCTAssertEqual(c.servingLeader, 3, "adding a voter keeps the leader")

        // Four voters: 3 of them are a quorum, and server 4's ack is one of them.
        c.down = [1]
        c.propose([8])
        c.tick(3)
        XCTAssertEqual(c.delivered[4]!.last?.payload, [8])
        c.down = [1, 2]
        c.propose([9])
        c.tick(3)
        XCTAssertNotEqual(c.delivered[3]!.last?.payload, [9], "two of four voters committed a write")
    }

    func testEntriesBeforeAPendingReconfigCommitOnTheOldQuorum() {
        var four = three
        four[4] = .participant
        let c = MiniCluster(three, joining: [4: four])
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        // Server 4 hears nothing more from the leader: it can ack neither entry.
        c.heldLinks = [[3, 4], [2, 3]]
        c.propose([1])
        c.propose(MiniCluster.reconfigPayload(four))
        c.tick(2)
        XCTAssertEqual(c.delivered[3]!.map(\.payload), [[1]], "the entry before the reconfig waits for it")
        XCTAssertEqual(c.delivered[1]!.map(\.payload), [[1]])
        XCTAssertEqual(c.nodes[3]!.config.members, three)
    }

    func testRemovingTheLeaderHandsTheEnsembleToTheRemainingVoters() {
        let c = MiniCluster(three)
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        XCTAssertEqual(c.servingLeader, 3)
        let two: [ServerId: MemberRole] = [1: .participant, 2: .participant]
        c.propose(MiniCluster.reconfigPayload(two))
        // The followers look at once when their leader, no longer a voter, says it looks: well within the leader
        // timeout they would otherwise wait (5 ticks here).
        let timeout = c.nodes[1]!.config.leaderTimeoutTicks
        XCTAssertTrue(c.run(ticks: timeout - 2, until: { c.servingLeader.map { $0 != 3 } ?? false && c.allServing }),
                      "no new leader within \(timeout - 2) ticks")
        for id in [ServerId(1), 2, 3] { XCTAssertEqual(c.nodes[id]!.config.members, two, "server \(id)") }
        XCTAssertEqual(c.servingLeader, 2)
        XCTAssertEqual(c.nodes[3]!.state, .following, "a removed server may stay on as a non-voting follower")
        c.down = [3]
        c.propose([5])
        c.tick(3)
        XCTAssertEqual(c.delivered[1]!.last?.payload, [5], "the two remaining voters commit alone")
    }

    func testAnObserverTurnedParticipantReconnectsAndItsAcksCount() {
        var members = three
        members[4] = .observer
        let c = MiniCluster(members)
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        XCTAssertEqual(c.nodes[4]!.state, .observing)
        var promoted = members
        promoted[4] = .participant
        c.propose(MiniCluster.reconfigPayload(promoted))
        XCTAssertTrue(c.run(until: { c.nodes[4]!.state == .following && c.allServing }))
        XCTAssertEqual(c.nodes[3]!.config.members, promoted)
        c.down = [1]
        c.propose([6])
        c.tick(3)
        XCTAssertEqual(c.delivered[2]!.last?.payload, [6], "server 4's ack makes 3 of 4 voters")
    }

    func testANewLeaderWithAnUndeliveredReconfigInItsHistoryNeedsTheNewVotersToEstablish() {
        // Server 3 logged a reconfig to {3, 4, 5} that nobody delivered; 4 and 5 are down, so of the new voters
        // only 3 itself holds it: 1, 2 and 3 are a quorum of the old voters, not of the new ones.
        let next: [ServerId: MemberRole] = [3: .participant, 4: .participant, 5: .participant]
        let entry = LogEntry(zxid: Zxid(epoch: 1, counter: 1), payload: MiniCluster.reconfigPayload(next))
        let history = DurableState(epochs: EpochState(acceptedEpoch: 1, acceptedLeader: 3, currentEpoch: 1), log: [entry])
        let c = MiniCluster(three, durable: [3: history], joining: [4: next, 5: next])
        c.down = [4, 5]
        c.tick(40)
        XCTAssertNil(c.servingLeader, "established with only one of the three new voters holding the reconfig")
        c.down = [5]
        XCTAssertTrue(c.run(ticks: 200, until: { c.servingLeader != nil && c.nodes[4]!.isServing }),
                      c.nodes.keys.sorted().map { c.nodes[$0]!.stateDescription }.joined(separator: "\n"))
        XCTAssertEqual(c.nodes[c.servingLeader!]!.config.members, next)
        XCTAssertEqual(c.nodes[4]!.config.members, next)
    }
}
