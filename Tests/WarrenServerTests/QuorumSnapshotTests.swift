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

    /// Followers syncing at the same zxid share one serialization: the leader holds one copy, not one per follower.
    func testOneSerializationPerZxid() {
        let serializer = SnapshotSerializer()
        let tree = DataTree()
        let first = serializer.snapshot(zxid: 0, tree: tree.committedCopy())
        XCTAssertTrue(serializer.snapshot(zxid: 0, tree: tree.committedCopy()) === first)
        XCTAssertFalse(serializer.snapshot(zxid: 1, tree: tree.committedCopy()) === first)
    }

    /// A peer whose stream breaks the rules loses its connection; the transport goes on accepting connections.
    func testBrokenStreamClosesTheConnection() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let peers: [ServerId: (host: String, port: Int)] = [1: ("127.0.0.1", try freePort(group)), 2: ("127.0.0.1", 1)]
        let received = Inbox()
        let one = transport(1, peers: peers, group: group, inbox: received, chunkBytes: 64)
        try one.start()
        defer { one.stop() }
        var chunker = SnapshotChunker(epoch: 1, lastZxid: .zero, state: Array(repeating: 7, count: 200), chunkBytes: 64)
        _ = chunker.next()  // the begin frame, withheld: the chunk that follows is out of place
        let chunk = try XCTUnwrap(chunker.next()).frame
        for _ in 0..<2 {
            let raw = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: peers[1]!.port).wait()
            var out = raw.allocator.buffer(capacity: 64 + chunk.count)
            out.writeInteger(Int32(8))
            out.writeInteger(Int64(2))  // the hello: "I am server 2"
            out.writeInteger(Int32(chunk.count))
            out.writeBytes(chunk)
            try raw.writeAndFlush(out).wait()
            // Bounded wait: if the transport kept the connection, the test closes it and fails instead of hanging.
            let timedOut = NIOLockedValueBox(false)
            let guardTask = raw.eventLoop.scheduleTask(in: .seconds(10)) {
                timedOut.withLockedValue { $0 = true }
                raw.close(promise: nil)
            }
            try raw.closeFuture.wait()
            guardTask.cancel()
            XCTAssertFalse(timedOut.withLockedValue { $0 }, "the transport kept a connection whose stream was broken")
        }
        XCTAssertEqual(received.messages.withLockedValue { $0 }, [])
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
