import NIOCore
import NIOPosix
import XCTest

@testable import WarrenServer

/// How the quorum dialer tells "nothing listening yet" (retry soon) from other connect failures (back off).
final class QuorumDialTests: XCTestCase {
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
