import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WarrenJute
import WarrenStorage
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
        let serializer = SnapshotSerializer(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
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
                           inbox: Inbox, chunkBytes: Int, intakeStore: SnapshotStore? = nil) -> QuorumTransport {
        var makeIntake: (@Sendable (_ zxid: Int64, _ totalBytes: Int) -> SnapshotIntake?)?
        if let store = intakeStore {
            makeIntake = { zxid, total in
                SnapshotIntake(zxid: zxid, totalBytes: total, config: TreeConfig(),
                               staged: try? store.stage(zxid: zxid, payloadBytes: Int64(total)))
            }
        }
        return QuorumTransport(
            myid: id, peers: peers, group: group, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
            snapshotChunkBytes: chunkBytes,
            makeSnapshotIntake: makeIntake,
            onMessages: { _, messages in inbox.messages.withLockedValue { $0 += messages } },
            onDisconnected: { _ in },
            onSyncProgress: { _, chunks, bytes, sent in
                inbox.progress.withLockedValue { p in
                    let old = p[sent] ?? (0, 0)
                    p[sent] = (old.chunks + chunks, old.bytes + bytes)
                }
            })
    }

    /// Servers 1 and 2 on loopback, connected; 1 receives (through an intake writing to `intakeStore`, if given).
    private struct Pair {
        let one: QuorumTransport, two: QuorumTransport
        let received: Inbox, sender: Inbox
        func stop() {
            two.stop()
            one.stop()
        }
    }

    private func connectedPair(_ group: EventLoopGroup, chunkBytes: Int, intakeStore: SnapshotStore? = nil) throws -> Pair {
        let peers: [ServerId: (host: String, port: Int)] = [1: ("127.0.0.1", try freePort(group)), 2: ("127.0.0.1", try freePort(group))]
        let received = Inbox(), sender = Inbox()
        let one = transport(1, peers: peers, group: group, inbox: received, chunkBytes: chunkBytes, intakeStore: intakeStore)
        let two = transport(2, peers: peers, group: group, inbox: sender, chunkBytes: chunkBytes)
        try one.start()
        try two.start()
        wait("the connection") { two.connectedPeers == [1] && one.connectedPeers == [2] }
        return Pair(one: one, two: two, received: received, sender: sender)
    }

    private func wait(_ what: String, until done: () -> Bool) {
        let deadline = Date().addingTimeInterval(20)
        while !done() && Date() < deadline { usleep(5_000) }
        XCTAssertTrue(done(), "timed out waiting for \(what)")
    }

    func testSnapshotStreamsInChunksAndKeepsMessageOrder() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let pair = try connectedPair(group, chunkBytes: 64)
        defer { pair.stop() }
        let (two, received, sender) = (pair.two, pair.received, pair.sender)

        let tree = DataTree()
        for i in 0..<40 {
            _ = tree.apply(Txn(header: TxnHeader(sessionId: 0, cxid: 0, zxid: Int64(i + 1), timeMs: 0),
                               body: .create(path: "/n\(i)", data: Array(repeating: UInt8(i), count: 100),
                                             acl: [ACL(perms: .all, id: Id(scheme: "world", id: "anyone"))],
                                             ephemeral: false, parentCVersion: Int32(i + 1))))
        }
        let state = tree.streamingSnapshot()
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

    private func sampleTree(nodes: Int) -> DataTree {
        let tree = DataTree()
        _ = tree.apply(Txn(header: TxnHeader(sessionId: 0, cxid: 0, zxid: 1, timeMs: 0),
                           body: .create(path: "/d", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1)))
        for i in 0..<nodes {
            _ = tree.apply(Txn(header: TxnHeader(sessionId: 0, cxid: 0, zxid: Int64(i + 2), timeMs: 0),
                               body: .create(path: "/d/n\(i)", data: Array(repeating: UInt8(i % 251), count: i % 300),
                                             acl: ACL.openUnsafe, ephemeral: false, parentCVersion: Int32(i + 1))))
        }
        return tree
    }

    /// The learner side of a SNAP sync as a rejoining follower runs it: the intake restores the tree and writes
    /// the snapshot file while the chunks arrive, the transport keeps no second copy of the bytes (the message
    /// carries none), and what the intake made is the leader's tree and a file recovery reads back.
    func testIntakeRestoresAndWritesWhileTheStreamArrives() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intake-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SnapshotStore(directory: dir)
        let pair = try connectedPair(group, chunkBytes: 1000, intakeStore: store)
        defer { pair.stop() }
        let (one, two, received) = (pair.one, pair.two, pair.received)
        let tree = sampleTree(nodes: 2000)
        let zxid = Zxid(raw: tree.lastProcessedZxid)
        two.sendSnapshot(to: 1, epoch: 4, lastZxid: zxid, tree: tree.committedCopy())
        two.send([1: [.commit(epoch: 4, upTo: zxid)]])
        wait("the snapshot and the commit") { received.messages.withLockedValue { $0.count } == 2 }
        XCTAssertEqual(received.messages.withLockedValue { $0 },
                       [.snapshot(epoch: 4, lastZxid: zxid, state: []), .commit(epoch: 4, upTo: zxid)])
        XCTAssertNil(one.takeSnapshotIntake(from: 2, zxid: zxid.raw + 1), "an intake is taken by its own zxid only")
        let intake = try XCTUnwrap(one.takeSnapshotIntake(from: 2, zxid: zxid.raw))
        XCTAssertNil(one.takeSnapshotIntake(from: 2, zxid: zxid.raw), "taken once")
        let prepared = intake.prepared()
        XCTAssertEqual(prepared.notes, [])
        XCTAssertEqual(try XCTUnwrap(prepared.tree).snapshot(), tree.snapshot())
        try XCTUnwrap(prepared.file).commit()
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: zxid.raw, payload: tree.streamingSnapshot()))
    }

    /// A leader that streams another layout (a file's version 3, as an older Warren did): the bytes are kept for
    /// the core's whole restore, the intake restores nothing but still writes the file.
    func testOtherLayoutsAreKeptWholeForTheCore() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intake-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try SnapshotStore(directory: dir)
        let peers: [ServerId: (host: String, port: Int)] = [1: ("127.0.0.1", try freePort(group)), 2: ("127.0.0.1", 1)]
        let received = Inbox()
        let one = transport(1, peers: peers, group: group, inbox: received, chunkBytes: 64, intakeStore: store)
        try one.start()
        defer { one.stop() }
        let tree = sampleTree(nodes: 50)
        let state = tree.snapshot()
        var chunker = SnapshotChunker(epoch: 1, lastZxid: Zxid(raw: tree.lastProcessedZxid), state: state, chunkBytes: 500)
        let raw = try ClientBootstrap(group: group).connect(host: "127.0.0.1", port: peers[1]!.port).wait()
        defer { raw.close(promise: nil) }
        var out = raw.allocator.buffer(capacity: state.count + 1000)
        out.writeInteger(Int32(8))
        out.writeInteger(Int64(2))
        while let (frame, _) = chunker.next() {
            out.writeInteger(Int32(frame.count))
            out.writeBytes(frame)
        }
        try raw.writeAndFlush(out).wait()
        wait("the snapshot") { received.messages.withLockedValue { $0.count } == 1 }
        XCTAssertEqual(received.messages.withLockedValue { $0 },
                       [.snapshot(epoch: 1, lastZxid: Zxid(raw: tree.lastProcessedZxid), state: state)])
        let prepared = try XCTUnwrap(one.takeSnapshotIntake(from: 2, zxid: tree.lastProcessedZxid)).prepared()
        XCTAssertNil(prepared.tree)
        XCTAssertNotNil(prepared.file)
        prepared.file?.discard()
    }
}
