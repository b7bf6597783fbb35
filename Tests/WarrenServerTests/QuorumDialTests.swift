import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WarrenZab
import XCTest

@testable import WarrenServer

/// How the quorum dialer tells "nothing listening yet" (retry soon) from other connect failures (back off), and
/// what the transport does with messages for a peer it has no connection to.
final class QuorumDialTests: XCTestCase {
    /// A stream message for a peer not connected is lost, which Zab must hear about (a FOLLOWERINFO lost silently
    /// left a follower waiting initLimit at start-up); a lost notification is not worth a report (it is resent).
    func testDroppedStreamMessageIsReportedAsDisconnect() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let reported = NIOLockedValueBox([ServerId]())
        // Server 1 dials nobody (lower ids only) and peer 2 never connects.
        let transport = QuorumTransport(
            myid: 1, peers: [1: ("127.0.0.1", 0), 2: ("127.0.0.1", 9)], group: group, logger: Logger(label: "test"),
            onMessages: { _, _ in }, onDisconnected: { peer in reported.withLockedValue { $0.append(peer) } },
            onSyncProgress: { _, _, _, _ in })
        let note = Notification(vote: Vote(leader: 2, zxid: .zero, peerEpoch: 0), electionEpoch: 1, state: .looking)
        transport.send([2: [.notification(note)]])
        XCTAssertEqual(reported.withLockedValue { $0 }, [])
        transport.send([2: [.notification(note), .followerInfo(acceptedEpoch: 0, acceptedLeader: -1, isObserver: false)]])
        XCTAssertEqual(reported.withLockedValue { $0 }, [2])
    }

    func testRefusedConnectionIsRecognised() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // A port that was just free: bind, note it, close.
        let probe = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        let port = try XCTUnwrap(probe.localAddress?.port)
        try probe.close().wait()

        XCTAssertThrowsError(try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: port).wait()) { error in
            XCTAssertTrue(QuorumTransport.isRefused(error), "\(error)")
        }
        XCTAssertFalse(QuorumTransport.isRefused(ChannelError.connectTimeout(.seconds(2))))
        XCTAssertFalse(QuorumTransport.isRefused(IOError(errnoCode: EHOSTUNREACH, reason: "connect")))
    }
}
