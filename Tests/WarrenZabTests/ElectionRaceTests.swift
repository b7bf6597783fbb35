import XCTest

@testable import WarrenZab

/// A server that settles on a leader which then follows someone else must look again at once, not after initLimit.
final class ElectionRaceTests: XCTestCase {
    /// Server 1 hears only server 2's vote before its finalize wait ends, so it follows 2; server 2 meanwhile
    /// learns of server 3 and follows it. Seen on real ensembles restarting together: server 1 served after
    /// initLimit × tickTime (20 s) instead of at once.
    func testLearnerOfANonLeaderLooksAgainPromptly() {
        let c = MiniCluster([1: .participant, 2: .participant, 3: .participant]) { $0.initLimitTicks = 200 }
        // The constructor started every node. Deliver 1's two notifications and 2's first one (vote 2) to 1,
        // then hold everything else that 2 and 3 say to 1.
        c.pump(limit: 3)
        c.heldLinks = [[3, 1], [2, 1]]
        c.pump()
        XCTAssertEqual(c.nodes[2]!.state, .looking)
        // Ticks until 1 has chosen 2 (its finalize wait over) while 2 and 3 settle on 3.
        XCTAssertTrue(c.run(ticks: 20) { c.nodes[1]!.state == .following && c.nodes[1]!.leaderId == 2 },
                      c.nodes[1]!.stateDescription)
        XCTAssertTrue(c.run(ticks: 20) { c.nodes[3]!.state == .leading && c.nodes[2]!.leaderId == 3 })
        c.release()
        // Well inside initLimit (200 ticks): 1 learns that 2 follows 3, looks again and joins 3.
        XCTAssertTrue(c.run(ticks: 20) { c.allServing && c.nodes[1]!.leaderId == 3 }, c.nodes[1]!.stateDescription)
    }

    /// The finalize wait of a peer that votes for itself is not mistaken for "will not lead".
    func testLearnerKeepsWaitingForALeaderStillFinalizing() {
        let c = MiniCluster([1: .participant, 2: .participant, 3: .participant])
        XCTAssertTrue(c.run(ticks: 50) { c.allServing })
        XCTAssertEqual(c.servingLeader, 3)
        XCTAssertEqual(c.nodes[1]!.leaderId, 3)
        XCTAssertEqual(c.nodes[2]!.leaderId, 3)
    }
}
