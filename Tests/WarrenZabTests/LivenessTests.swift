import XCTest
@testable import WarrenZab

/// Leader liveness (`leaderTimeoutTicks`) apart from lag (`syncLimitTicks`): a silent leader is replaced after the
/// liveness timeout, a leader whose pings arrive is kept however slow it is otherwise, a follower that answers but
/// falls behind is dropped by syncLimit only, and a leader cut off from its quorum stops taking writes before its
/// followers give up on it.
final class LivenessTests: XCTestCase {
    let three: [ServerId: MemberRole] = [1: .participant, 2: .participant, 3: .participant]
    /// syncLimit far above the liveness timeout, so each test tells which of the two acted.
    let syncLimit = 60
    let leaderTimeout = 8

    private func cluster(_ members: [ServerId: MemberRole]? = nil) -> MiniCluster {
        let c = MiniCluster(members ?? three) {
            $0.syncLimitTicks = self.syncLimit
            $0.leaderTimeoutTicks = self.leaderTimeout
            $0.initLimitTicks = 100
        }
        XCTAssertTrue(c.run(until: { c.servingLeader != nil && c.allServing }))
        return c
    }

    func testSilentLeaderIsReplacedAfterLeaderTimeout() {
        let c = cluster()
        let old = c.servingLeader!
        let followers = c.nodes.keys.filter { $0 != old }.sorted()
        c.down.insert(old)  // SIGSTOP or a cut cable: no message, no disconnect
        c.tick(leaderTimeout)
        for f in followers { XCTAssertEqual(c.nodes[f]!.state, .following, "server \(f) gave up before the timeout") }
        c.tick(1)
        for f in followers { XCTAssertEqual(c.nodes[f]!.state, .looking, "server \(f) kept a silent leader") }
        XCTAssertTrue(c.run(ticks: 20, until: { c.servingLeader.map { $0 != old } ?? false && followers.allSatisfy { c.nodes[$0]!.isServing } }),
                      "no new leader well inside syncLimit (\(syncLimit) ticks)")
    }

    func testLeaderWhosePingsArriveIsKeptThoughItCommitsNothing() {
        let c = cluster()
        let leader = c.servingLeader!
        // The leader's disk stalls for three liveness timeouts: proposals go out, nothing commits, pings continue.
        c.instantDisks = false
        c.feed(leader, .clientProposal(payload: [1]))
        for _ in 0..<(3 * leaderTimeout) {
            for id in c.nodes.keys where id != leader { c.flushDisk(id) }
            c.tick()
        }
        // Its pings also arrive late, by most of a timeout, now and then.
        for _ in 0..<3 {
            c.heldLinks = Set(c.nodes.keys.filter { $0 != leader }.map { [leader, $0] })
            c.tick(leaderTimeout - 2)
            c.release()
            c.tick(2)
        }
        for id in c.nodes.keys.sorted() {
            XCTAssertTrue(c.actions[id]!.filter { $0 == .becameLooking }.count == 1, "server \(id) looked again")
        }
        c.instantDisks = true
        c.flushDisk(leader)
        c.tick(2)
        XCTAssertEqual(c.delivered[1]!.last?.payload, [1])
    }

    func testLaggingFollowerIsDroppedBySyncLimitNotByLiveness() {
        let c = cluster()
        let leader = c.servingLeader!
        let lagging = c.nodes.keys.filter { $0 != leader }.min()!
        // Its disk stalls: it answers pings but acknowledges nothing.
        c.instantDisks = false
        c.propose([7])
        var ticks = 0
        func tick() {
            for id in c.nodes.keys where id != lagging { c.flushDisk(id) }
            c.tick()
            ticks += 1
        }
        while ticks < 3 * leaderTimeout { tick() }
        XCTAssertEqual(c.nodes[leader]!.followerCounts?.synced, 2, "dropped by the liveness timeout")
        XCTAssertEqual(c.nodes[lagging]!.state, .following)
        while ticks <= syncLimit + 1 { tick() }
        XCTAssertEqual(c.nodes[leader]!.followerCounts?.synced, 1, "kept past syncLimit without acking")
        XCTAssertEqual(c.nodes[leader]!.state, .leading, "the other follower keeps the quorum")
        XCTAssertEqual(c.delivered[leader]!.last?.payload, [7])
    }

    func testIsolatedLeaderStopsTakingWritesBeforeFollowersGiveUp() {
        let c = cluster()
        let leader = c.servingLeader!
        let followers = c.nodes.keys.filter { $0 != leader }.sorted()
        c.heldLinks = Set(followers.flatMap { [[leader, $0], [$0, leader]] })  // partitioned, connections not reset
        var leaderStoppedAt: Int?
        var followerStoppedAt: Int?
        for t in 1...(2 * leaderTimeout) {
            c.tick()
            if leaderStoppedAt == nil && c.nodes[leader]!.state != .leading { leaderStoppedAt = t }
            if followerStoppedAt == nil && followers.contains(where: { c.nodes[$0]!.state == .looking }) { followerStoppedAt = t }
        }
        XCTAssertNotNil(leaderStoppedAt, "the isolated leader kept leading")
        XCTAssertLessThanOrEqual(leaderStoppedAt ?? .max, leaderTimeout)
        XCTAssertLessThan(leaderStoppedAt ?? .max, followerStoppedAt ?? .max, "followers gave up before the old leader")
        XCTAssertNil(c.nodes[leader]!.nextProposalZxid)
        c.feed(leader, .clientProposal(payload: [9]))
        XCTAssertEqual(c.actions[leader]!.last, .rejected(payload: [9], reason: .noLeader))
    }

    func testFiveServersSurviveTwoSilentFollowersButNotThree() {
        let five: [ServerId: MemberRole] = [1: .participant, 2: .participant, 3: .participant, 4: .participant, 5: .participant]
        let c = cluster(five)
        let leader = c.servingLeader!
        let followers = c.nodes.keys.filter { $0 != leader }.sorted()
        c.down.formUnion(followers.prefix(2))
        c.tick(3 * leaderTimeout)
        XCTAssertEqual(c.nodes[leader]!.state, .leading)
        XCTAssertEqual(c.nodes[leader]!.followerCounts?.synced, 4, "silent followers are kept until syncLimit")
        c.down.insert(followers[2])
        c.tick(leaderTimeout)
        XCTAssertNotEqual(c.nodes[leader]!.state, .leading)
    }
}
