import DequeModule
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import WarrenTree
import WarrenZab

/// A tree snapshot serialized once for SNAP syncs at one zxid, shared by every stream that sends it.
///
/// Memory bound on the leader: one serialized copy per distinct zxid being streamed (followers syncing at the same
/// time usually share one, since the leader syncs them at its delivered zxid), plus one chunk per stream; the copy
/// is freed when the last stream using it ends. The serialization runs off the core thread, on a copy of the tree
/// (`DataTree.committedCopy`) taken when Zab asked for the snapshot.
final class SharedSnapshot: @unchecked Sendable {
    let zxid: Int64
    private let lock = NIOLock()
    private var bytes: [[UInt8]]?  // guarded by lock
    private var waiters: [(EventLoop, ([[UInt8]]) -> Void)] = []  // guarded by lock

    init(zxid: Int64) { self.zxid = zxid }

    /// Calls `body` on `loop` with the serialized state, now or once it is ready.
    func whenReady(on loop: EventLoop, _ body: @escaping ([[UInt8]]) -> Void) {
        let ready: [[UInt8]]? = lock.withLock {
            if bytes == nil { waiters.append((loop, body)) }
            return bytes
        }
        if let ready { loop.execute { body(ready) } }
    }

    fileprivate func fulfil(_ serialized: [[UInt8]]) {
        let waiting = lock.withLock {
            bytes = serialized
            defer { waiters = [] }
            return waiters
        }
        for (loop, body) in waiting { loop.execute { body(serialized) } }
    }
}

/// Serializes trees for SNAP syncs on one background queue and shares the result per zxid (see `SharedSnapshot`).
final class SnapshotSerializer: @unchecked Sendable {
    private let queue = DispatchQueue(label: "warren.snapshot-sync")
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }
    private struct Weak { weak var value: SharedSnapshot? }
    private let live = NIOLockedValueBox([Int64: Weak]())

    /// The shared snapshot at `zxid`: the one already serialized or being serialized, or a new serialization of
    /// `tree` (which must be a committed copy at exactly `zxid`).
    func snapshot(zxid: Int64, tree: DataTree) -> SharedSnapshot {
        let (shared, isNew) = live.withLockedValue { live -> (SharedSnapshot, Bool) in
            if let existing = live[zxid]?.value { return (existing, false) }
            live = live.filter { $0.value.value != nil }
            let fresh = SharedSnapshot(zxid: zxid)
            live[zxid] = Weak(value: fresh)
            return (fresh, true)
        }
        if isNew {
            let handoff = TreeHandoff(tree)
            queue.async { [weak shared, self] in
                // Nobody waits any more (every stream for it was dropped): skip the work.
                guard let shared else { return }
                let started = ContinuousClock.now
                let parts = Self.serialize(handoff.tree)
                self.logger.info("snapshot serialized for a SNAP sync", metadata: [
                    "zxid": "0x\(String(zxid, radix: 16))", "bytes": "\(parts.reduce(0) { $0 + $1.count })",
                    "parts": "\(parts.count)", "ms": "\(Int((ContinuousClock.now - started) / .milliseconds(1)))"])
                shared.fulfil(parts)
            }
        }
        return shared
    }
}

extension SnapshotSerializer {
    /// Trees at least this large are serialized in parts on every core (a SNAP sync waits for the whole).
    static let partsNodeCountMin = 100_000
    static let partsMax = 8

    /// The tree's streaming snapshot, in parts serialized side by side when it is large and there are cores for it.
    static func serialize(_ tree: DataTree) -> [[UInt8]] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let count = tree.nodeCount >= partsNodeCountMin ? max(1, min(cores, partsMax)) : 1
        let plan = tree.streamingSnapshotParts(count)
        let results = NIOLockedValueBox([[UInt8]](repeating: [], count: plan.count))
        DispatchQueue.concurrentPerform(iterations: plan.count) { i in
            let bytes = plan.part(i)
            results.withLockedValue { $0[i] = bytes }
        }
        return results.withLockedValue { $0 }
    }
}

/// What one quorum connection still has to write, on its event loop only: normally nothing (messages are written
/// at once), but while a snapshot streams everything sent after it waits here, in order, behind the stream.
///
/// Backpressure: chunk frames are written only while the channel is writable (its outbound buffer under NIO's high
/// watermark) and the rest is resumed from `channelWritabilityChanged`, so at most one chunk is buffered per
/// connection whatever the snapshot's size. Messages queued behind a stream are bounded by `backlogBytesMax`, and
/// messages handed to NIO but not yet taken by the socket (a peer that stopped reading) by `unwrittenBytesMax`;
/// past either the connection is closed (the peer reconnects and syncs again) rather than held without bound.
final class QuorumOutbound {
    enum Item {
        case bytes(ByteBuffer)
        case snapshot(SnapshotSend)
    }

    /// One snapshot stream to send: waits for its serialization, then yields frames.
    final class SnapshotSend {
        let shared: SharedSnapshot
        let epoch: Int64
        let chunkBytes: Int
        var chunker: SnapshotChunker?

        init(shared: SharedSnapshot, epoch: Int64, chunkBytes: Int) {
            self.shared = shared
            self.epoch = epoch
            self.chunkBytes = chunkBytes
        }
    }

    /// Bytes of messages allowed to wait behind a snapshot stream (proposals and pings produced meanwhile).
    static let backlogBytesMaxDefault = 256 << 20
    var backlogBytesMax = QuorumOutbound.backlogBytesMaxDefault
    /// Bytes of messages allowed in NIO's outbound buffer for this peer (written, not yet sent).
    static let unwrittenBytesMaxDefault = 256 << 20
    var unwrittenBytesMax = QuorumOutbound.unwrittenBytesMaxDefault

    let channel: Channel
    let peer: ServerId
    /// Called on the event loop after each chunk frame is written to the socket (with the chunk's state bytes),
    /// and once per finished stream (`done` true, with the totals).
    let onProgress: (_ bytes: Int, _ done: Bool) -> Void
    let onFailure: (String) -> Void
    private var items = Deque<Item>()
    private var backlogBytes = 0

    init(channel: Channel, peer: ServerId, onProgress: @escaping (Int, Bool) -> Void, onFailure: @escaping (String) -> Void) {
        self.channel = channel
        self.peer = peer
        self.onProgress = onProgress
        self.onFailure = onFailure
    }

    /// Writes `buffer` now, or queues it behind a stream in progress. Event loop only.
    func send(_ buffer: ByteBuffer) {
        channel.eventLoop.preconditionInEventLoop()
        guard !items.isEmpty else {
            let unwritten = (try? channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
            guard unwritten + buffer.readableBytes <= unwrittenBytesMax else {
                fail("over \(unwrittenBytesMax) bytes of messages the peer has not read")
                return
            }
            channel.writeAndFlush(buffer, promise: nil)
            return
        }
        guard backlogBytes + buffer.readableBytes <= backlogBytesMax else {
            fail("over \(backlogBytesMax) bytes of messages waiting behind a snapshot stream")
            return
        }
        backlogBytes += buffer.readableBytes
        precondition(backlogBytes <= backlogBytesMax, "backlog \(backlogBytes) bytes")
        items.append(.bytes(buffer))
    }

    /// At a bound: drop what is queued and close; Zab sees the peer disconnect and it syncs again.
    private func fail(_ reason: String) {
        guard channel.isActive else { return }
        onFailure(reason)
        items.removeAll()
        backlogBytes = 0
        channel.close(promise: nil)
    }

    /// Queues a snapshot stream; its frames go out once it is serialized, as fast as the peer reads them.
    func sendSnapshot(_ send: SnapshotSend) {
        channel.eventLoop.preconditionInEventLoop()
        items.append(.snapshot(send))
        send.shared.whenReady(on: channel.eventLoop) { [weak self] state in
            send.chunker = SnapshotChunker(epoch: send.epoch, lastZxid: Zxid(raw: send.shared.zxid), parts: state,
                                           chunkBytes: send.chunkBytes)
            self?.pump()
        }
    }

    /// Writes what can be written now. Called when something is queued or ready, and when the channel becomes
    /// writable again.
    func pump() {
        channel.eventLoop.preconditionInEventLoop()
        var wrote = false
        defer { if wrote { channel.flush() } }
        while channel.isActive, let first = items.first {
            switch first {
            case let .bytes(buffer):
                items.removeFirst()
                backlogBytes -= buffer.readableBytes
                channel.write(buffer, promise: nil)
                wrote = true
            case let .snapshot(send):
                // Not serialized yet, or the socket is full: resumed by `whenReady` or by writability.
                guard send.chunker != nil, channel.isWritable else { return }
                guard let (frame, isChunk) = send.chunker!.next().map({ ($0.frame, $0.isChunk) }) else {
                    items.removeFirst()
                    let total = send.chunker!.totalBytes
                    send.chunker = nil
                    onProgress(total, true)
                    continue
                }
                var buffer = channel.allocator.buffer(capacity: frame.count + 4)
                buffer.writeInteger(Int32(frame.count))
                buffer.writeBytes(frame)
                let promise: EventLoopPromise<Void>? = isChunk ? channel.eventLoop.makePromise() : nil
                let stateBytes = frame.count - 12  // tag, index, buffer length
                promise?.futureResult.whenSuccess { [weak self] in self?.onProgress(stateBytes, false) }
                channel.write(buffer, promise: promise)
                wrote = true
            }
        }
    }
}
