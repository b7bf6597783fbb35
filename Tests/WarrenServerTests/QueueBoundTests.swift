import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WarrenZab
import XCTest

@testable import WarrenServer

/// Each internal queue driven to its bound: the group-commit queue blocks its producer, a peer or a client that
/// does not read loses its connection, messages behind a snapshot stream are capped. Real sockets over loopback,
/// every wait bounded.
final class QueueBoundTests: XCTestCase {
    // MARK: group commit

    func testGroupCommitSubmitBlocksAtItsBoundUntilTheWriterTakesTheQueue() throws {
        let gate = DispatchSemaphore(value: 0)
        let durable = NIOLockedValueBox<[Int64]>([])
        let syncs = NIOLockedValueBox(0)
        let writer = GroupCommitWriter(
            write: { _ in },
            sync: {
                if syncs.withLockedValue({ $0 += 1; return $0 }) == 1 { _ = gate.wait(timeout: .now() + 10) }
            },
            onDurable: { zxid, _ in durable.withLockedValue { $0.append(zxid) } },
            onFailure: { _, _, _ in XCTFail("no failure expected") },
            queueBytesMax: 10)
        writer.start()
        defer { writer.stop() }
        @Sendable func record(_ zxid: Int64) -> GroupCommitWriter.Record { (zxid, [UInt8](repeating: 1, count: 4)) }

        writer.submit([record(1)])
        XCTAssertTrue(wait { syncs.withLockedValue { $0 } == 1 }, "the writer is inside its first sync")
        writer.submit([record(2), record(3)])  // 8 bytes: within the bound
        XCTAssertEqual(writer.queuedCount, 2)
        let third = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            writer.submit([record(4)])  // 12 bytes would be over: waits
            third.signal()
        }
        XCTAssertEqual(third.wait(timeout: .now() + 0.3), .timedOut, "submit returned with the queue at its bound")
        XCTAssertEqual(writer.queuedCount, 2, "the queue never grew past its bound")
        gate.signal()
        XCTAssertEqual(third.wait(timeout: .now() + 10), .success, "submit went on once the writer took the queue")
        XCTAssertTrue(wait { durable.withLockedValue { $0.last } == 4 })
    }

    // MARK: sockets

    /// A connected pair over loopback whose accepting side never reads.
    private func stalledPair(_ group: EventLoopGroup) throws -> (client: Channel, server: Channel) {
        let accepted = group.next().makePromise(of: Channel.self)
        let listener = try ServerBootstrap(group: group)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { ch in
                accepted.succeed(ch)
                return ch.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        let client = try ClientBootstrap(group: group).connect(to: listener.localAddress!).wait()
        let server = try accepted.futureResult.wait()
        try listener.close().wait()
        return (client, server)
    }

    func testQuorumPeerThatDoesNotReadIsDisconnectedAtTheUnwrittenBound() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (client, server) = try stalledPair(group)
        defer { server.close(promise: nil) }
        let failures = NIOLockedValueBox<[String]>([])
        let sent = try client.eventLoop.submit { () -> Int in
            let out = QuorumOutbound(channel: client, peer: 2, onProgress: { _, _ in },
                                     onFailure: { reason in failures.withLockedValue { $0.append(reason) } })
            out.unwrittenBytesMax = 1 << 20
            var total = 0
            // 256 MiB at most: far past what the kernel's socket buffers take.
            for _ in 0..<4096 where client.isActive {
                var b = client.allocator.buffer(capacity: 64 << 10)
                b.writeRepeatingByte(7, count: 64 << 10)
                out.send(b)
                total += 64 << 10
            }
            return total
        }.wait()
        try client.closeFuture.wait()
        XCTAssertEqual(failures.withLockedValue { $0.count }, 1)
        XCTAssertTrue(failures.withLockedValue { $0.first ?? "" }.contains("has not read"))
        XCTAssertLessThan(sent, 256 << 20, "closed before everything was queued")
    }

    func testMessagesBehindASnapshotStreamAreBounded() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (client, server) = try stalledPair(group)
        defer { server.close(promise: nil) }
        let failures = NIOLockedValueBox<[String]>([])
        try client.eventLoop.submit {
            let out = QuorumOutbound(channel: client, peer: 2, onProgress: { _, _ in },
                                     onFailure: { reason in failures.withLockedValue { $0.append(reason) } })
            out.backlogBytesMax = 100_000
            // A stream whose serialization never finishes: everything sent after it waits behind it.
            out.sendSnapshot(.init(shared: SharedSnapshot(zxid: 1), epoch: 1, chunkBytes: 1024))
            for _ in 0..<20 where client.isActive {
                var b = client.allocator.buffer(capacity: 10_000)
                b.writeRepeatingByte(1, count: 10_000)
                out.send(b)
            }
        }.wait()
        try client.closeFuture.wait()
        XCTAssertEqual(failures.withLockedValue { $0 }.count, 1)
        XCTAssertTrue(failures.withLockedValue { $0.first ?? "" }.contains("behind a snapshot stream"))
    }

    /// The per-client output bound leaves room for four replies of the largest value jute.maxbuffer allows.
    func testOutboundBoundGrowsWithJuteMaxBuffer() {
        XCTAssertEqual(ServerShell.outboundBytesMax(juteMaxBufferBytes: 0xfffff), 16 << 20, "the default stays 16 MiB")
        XCTAssertEqual(ServerShell.outboundBytesMax(juteMaxBufferBytes: 16 << 20), 4 * ((16 << 20) + 4096))
        XCTAssertGreaterThan(ServerShell.outboundBytesMax(juteMaxBufferBytes: 16 << 20), 2 * ((8 << 20) + 4096),
                             "two pipelined 8 MiB replies fit")
    }

    func testClientThatDoesNotReadItsRepliesIsDisconnectedAtTheOutboundBound() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        // The server's socket is `ch`; its peer never reads.
        let (ch, stalledPeer) = try stalledPair(group)
        defer { stalledPeer.close(promise: nil) }
        let conn = ClientConnection(id: 1, channel: ch, outboundBytesMax: 1 << 20,
                                    logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        var sent = 0
        let payload = [UInt8](repeating: 3, count: 64 << 10)
        while ch.isActive && sent < 256 << 20 {
            conn.send([payload])
            sent += payload.count
            if sent % (4 << 20) == 0 { try ch.eventLoop.submit {}.wait() }  // let the queued writes run
        }
        try ch.closeFuture.wait()
        XCTAssertLessThan(sent, 256 << 20)
    }

    // MARK: core queue

    /// The producer-side check behind `ServerShell.coreQueueLengthMax`: a connection stops being read once
    /// `batchesInFlightMax` of its socket reads wait for the core, and is read again when the core catches up;
    /// a pause from the core (globalOutstandingLimit) holds reading off whatever the batch count.
    func testSocketReadsWaitingForTheCoreAreBoundedPerConnection() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let (ch, peer) = try stalledPair(group)
        defer {
            ch.close(promise: nil)
            peer.close(promise: nil)
        }
        let conn = ClientConnection(id: 1, channel: ch, outboundBytesMax: 1 << 20,
                                    logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        func autoRead() throws -> Bool { try ch.getOption(ChannelOptions.autoRead).wait() }
        XCTAssertTrue(try autoRead())
        for _ in 0..<(ClientConnection.batchesInFlightMax - 1) { conn.batchSubmitted() }
        XCTAssertTrue(try autoRead(), "below the bound the socket is read")
        conn.batchSubmitted()
        XCTAssertFalse(try autoRead(), "at the bound reading stops")
        conn.batchHandled()
        XCTAssertTrue(try autoRead(), "one handled: reading resumes")
        conn.setCorePaused(true)
        XCTAssertFalse(try autoRead(), "paused by the core")
        for _ in 0..<(ClientConnection.batchesInFlightMax - 1) { conn.batchHandled() }
        XCTAssertFalse(try autoRead(), "no batches waiting, but the core's pause holds")
        conn.setCorePaused(false)
        XCTAssertTrue(try autoRead())
    }

    private func wait(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while !condition() {
            if Date() > deadline { return false }
            usleep(1000)
        }
        return true
    }
}
