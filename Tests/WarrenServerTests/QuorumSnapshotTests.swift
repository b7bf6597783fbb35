import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WarrenJute
import WarrenTree
import WarrenZab
import XCTest

@testable import WarrenServer

/// Two real quorum transports over loopback: a snapshot sent between other messages arrives as one `.snapshot`
/// message, in order, after travelling as many chunk frames, with progress reported on both ends.
final class QuorumSnapshotTests: XCTestCase {
    private final class Inbox: @unchecked Sendable {
        let messages = NIOLockedValueBox<[ZabMessage]>([])
        let progress = NIOLockedValueBox<[Bool: (chunks: Int, bytes: Int)]>([:])
    }

    private func freePort(_ group: EventLoopGroup) throws -> Int {
        let probe = try ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).wait()
        defer { try? probe.close().wait() }
        return try XCTUnwrap(probe.localAddress?.port)
    }

    private func transport(_ id: ServerId, peers: [ServerId: (host: String, port: Int)], group: EventLoopGroup,
                           inbox: Inbox, chunkBytes: Int) -> QuorumTransport {
        QuorumTransport(
            myid: id, peers: peers, group: group, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            snapshotChunkBytes: chunkBytes,
            onMessages: { _, messages in inbox.messages.withLockedValue { $0 += messages } },
            onDisconnected: { _ in },
            onSyncProgress: { _, chunks, bytes, sent in
                inbox.progress.withLockedValue { p in
                    let old = p[sent] ?? (0, 0)
                    p[sent] = (old.chunks + chunks, old.bytes + bytes)
                }
            })
    }

    private func wait(_ what: String, until done: () -> Bool) {
        let deadline = Date().addingTimeInterval(20)
        while !done() && Date() < deadline { usleep(5_000) }
        XCTAssertTrue(done(), "timed out waiting for \(what)")
    }

    func testSnapshotStreamsInChunksAndKeepsMessageOrder() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let peers: [ServerId: (host: String, port: Int)] = [1: ("127.0.0.1", try freePort(group)), 2: ("127.0.0.1", try freePort(group))]
        let received = Inbox(), sender = Inbox()
        let one = transport(1, peers: peers, group: group, inbox: received, chunkBytes: 64)
        let two = transport(2, peers: peers, group: group, inbox: sender, chunkBytes: 64)
        try one.start()
        try two.start()
        defer {
            two.stop()
            one.stop()
        }
        wait("the connection") { two.connectedPeers == [1] && one.connectedPeers == [2] }

        let tree = DataTree()
        for i in 0..<40 {
            _ = tree.apply(Txn(header: TxnHeader(sessionId: 0, cxid: 0, zxid: Int64(i + 1), timeMs: 0),
                               body: .create(path: "/n\(i)", data: Array(repeating: UInt8(i), count: 100),
                                             acl: [ACL(perms: .all, id: Id(scheme: "world", id: "anyone"))],
                                             ephemeral: false, parentCVersion: Int32(i + 1))))
        }
        let state = tree.snapshot()
        XCTAssertGreaterThan(state.count, 40 * 100, "the nodes were created")
        let zxid = Zxid(raw: tree.lastProcessedZxid)
        two.send([1: [.ping(epoch: 3, committed: .zero)]])
        two.sendSnapshot(to: 1, epoch: 3, lastZxid: zxid, tree: tree.committedCopy())
        two.send([1: [.commit(epoch: 3, upTo: zxid)]])

        wait("three messages") { received.messages.withLockedValue { $0.count } == 3 }
        XCTAssertEqual(received.messages.withLockedValue { $0 },
                       [.ping(epoch: 3, committed: .zero), .snapshot(epoch: 3, lastZxid: zxid, state: state),
                        .commit(epoch: 3, upTo: zxid)])
        let chunks = (state.count + 63) / 64
        wait("progress on both ends") {
            received.progress.withLockedValue { $0[false]?.bytes } == state.count
                && sender.progress.withLockedValue { $0[true]?.bytes } == state.count
        }
        XCTAssertEqual(received.progress.withLockedValue { $0[false]?.chunks }, chunks)
        XCTAssertEqual(sender.progress.withLockedValue { $0[true]?.chunks }, chunks)
    }
}
