import WarrenCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import WarrenJute
import WarrenTLS
import WarrenTree
import WarrenZab

/// The server-to-server transport of an ensemble: one TCP connection per pair of servers, carrying length-prefixed
/// Jute-encoded `ZabMessage`s in both directions.
///
/// Which side dials: the server with the higher id connects to the quorum port of each lower-id peer and sends its
/// id as the first frame (8 bytes); the lower-id server accepts. So there is exactly one connection per pair and
/// messages to a peer keep their order. Election notifications travel on the same connection as everything else
/// (ZooKeeper uses a separate election port; Warren binds nothing there). A lost connection is reported once through
/// `onDisconnected`; the dialing side retries with exponential backoff (`reconnectDelayMinMs`…`reconnectDelayMaxMs`),
/// except that a refused connection (the peer's host answers but its server is not listening yet, e.g. still
/// restoring a snapshot) is retried every `reconnectDelayMinMs`: backing off there made a whole-ensemble restart
/// wait up to a second for the last dial after every server was ready.
/// Messages sent while no connection to the peer is up are dropped. Notifications tolerate that (they are resent);
/// any other dropped message is reported through `onDisconnected`, as a broken connection would be, because Zab
/// counts on every gap in a peer's stream being reported: a FOLLOWERINFO dropped silently (a follower that
/// settled on a leader before the connection to it was up) left the follower waiting initLimit × tickTime (20 s
/// with the sample zoo.cfg) for an answer that could not come, instead of looking again at once.
///
/// A SNAP sync's state is not one frame but a stream of chunk frames (`SnapshotStream`), written as the peer reads
/// them (`QuorumOutbound`); the receiving side reassembles it and delivers one `.snapshot` message. Both sides
/// report the transfer's progress (`onSyncProgress`) so Zab does not time out a transfer that moves.
///
/// With quorum TLS (`sslQuorum=true`, `tls`) every connection is TLS in both directions: the accepting side requires
/// the dialer's certificate (signed by the quorum trust store) and the dialer checks the accepting side's
/// certificate against the trust store and, unless `ssl.quorum.hostnameVerification=false`, against the host it
/// dialled. A peer that fails either check never gets past the handshake, so it cannot announce an id.
// Sendable: every mutable table is an NIOLockedValueBox, the rest immutable or Sendable.
final class QuorumTransport: @unchecked Sendable {
    /// Largest frame accepted from a peer: a chunk of a SNAP sync and its header, or a batch of proposals of up to
    /// jute.maxbuffer each; no frame carries a whole snapshot any more.
    static let frameBytesMax = 512 << 20
    static let reconnectDelayMinMs: Int64 = 50
    static let reconnectDelayMaxMs: Int64 = 2000

    let myid: ServerId
    /// Where each member listens: replaced by `updatePeers` when a reconfig changes the membership.
    private let peers: NIOLockedValueBox<[ServerId: (host: String, port: Int)]>
    /// This server's own quorum address (bound once at start).
    private let ownAddress: (host: String, port: Int)?
    /// Outside the membership (`updatePeers`): it redials every lost connection to a member, whichever side dialled.
    private let outsider = NIOLockedValueBox(false)
    let group: EventLoopGroup
    let logger: Logger
    /// Called on an arbitrary I/O thread with the messages of one socket read, in order; the receiver hops to its
    /// own executor (once per batch).
    let onMessages: @Sendable (ServerId, [ZabMessage]) -> Void
    let onDisconnected: @Sendable (ServerId) -> Void
    /// Called on an I/O thread when a snapshot stream to or from a peer moved: `chunks` chunk frames with `bytes`
    /// bytes of state were written to it (`sent`) or received from it since the last call.
    let onSyncProgress: @Sendable (_ peer: ServerId, _ chunks: Int, _ bytes: Int, _ sent: Bool) -> Void
    /// Bytes of state per chunk frame this server sends (`warren.snapshotChunkBytes`).
    let snapshotChunkBytes: Int
    private let serializer: SnapshotSerializer

    private let channels = NIOLockedValueBox([ServerId: QuorumOutbound]())
    private let stopped = NIOLockedValueBox(false)
    private var listener: Channel?
    /// Quorum TLS: the contexts for accepted and for dialled connections; nil = plaintext.
    let tls: (accepting: TLSContextSource, dialling: TLSContextSource)?

    init(myid: ServerId, peers: [ServerId: (host: String, port: Int)], group: EventLoopGroup, logger: Logger,
         snapshotChunkBytes: Int = SnapshotStream.chunkBytesDefault,
         tls: (accepting: TLSContextSource, dialling: TLSContextSource)? = nil,
         makeSnapshotIntake: (@Sendable (_ zxid: Int64, _ totalBytes: Int) -> SnapshotIntake?)? = nil,
         onMessages: @escaping @Sendable (ServerId, [ZabMessage]) -> Void,
         onDisconnected: @escaping @Sendable (ServerId) -> Void,
         onSyncProgress: @escaping @Sendable (ServerId, Int, Int, Bool) -> Void) {
        self.myid = myid
        self.peers = NIOLockedValueBox(peers)
        self.ownAddress = peers[myid]
        self.group = group
        self.logger = logger
        self.serializer = SnapshotSerializer(logger: logger)
        self.onMessages = onMessages
        self.onDisconnected = onDisconnected
        self.onSyncProgress = onSyncProgress
        self.snapshotChunkBytes = snapshotChunkBytes
        self.tls = tls
        self.makeSnapshotIntake = makeSnapshotIntake
    }

    /// Starts the learner-side work on a snapshot stream that just began (nil: the stream is only reassembled).
    let makeSnapshotIntake: (@Sendable (_ zxid: Int64, _ totalBytes: Int) -> SnapshotIntake?)?
    /// Intakes of streams that ended, by peer, in stream order, until the core thread takes them with their
    /// `.snapshot` message (`takeSnapshotIntake`).
    private let finishedIntakes = NIOLockedValueBox([ServerId: [SnapshotIntake]]())

    /// The intake of the `.snapshot(lastZxid: zxid)` message from `peer` being processed, if its stream had one.
    /// Call on the core thread for each such message, in delivery order.
    func takeSnapshotIntake(from peer: ServerId, zxid: Int64) -> SnapshotIntake? {
        finishedIntakes.withLockedValue { table -> SnapshotIntake? in
            guard let first = table[peer]?.first, first.zxid == zxid else { return nil }
            table[peer]!.removeFirst()
            if table[peer]!.isEmpty { table[peer] = nil }
            return first
        }
    }

    fileprivate func intakeFinished(_ intake: SnapshotIntake, from peer: ServerId) {
        finishedIntakes.withLockedValue { $0[peer, default: []].append(intake) }
    }

    /// Binds this server's quorum port and starts dialing the lower-id peers.
    func start() throws {
        guard let me = ownAddress else { throw ConfigError("server.\(myid) is not in the server list") }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.accepting.context))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder(frameBytesMax: QuorumTransport.frameBytesMax, fourLetterWords: false)))
                    try channel.pipeline.syncOperations.addHandler(QuorumPeerHandler(transport: self, peer: nil))
                }
            }
        listener = try bootstrap.bind(host: me.host, port: me.port).wait()
        for peer in peers.withLockedValue({ $0.keys.sorted() }) where peer < myid { dial(peer, delayMs: 0) }
    }

    /// A reconfig changed the membership: dials the new lower-id members (higher ids dial this server). A removed
    /// member's connection stays up while it lasts (it may follow without a vote) but is not dialled again.
    ///
    /// A server outside the membership (`outsider`: removed by a reconfig, and perhaps restarted since) is in no
    /// member's table, so no member dials it: it dials every member itself, higher ids included, and a member takes
    /// a lower id's connection when that id is not in its table.
    func updatePeers(_ new: [ServerId: (host: String, port: Int)], outsider: Bool) {
        self.outsider.withLockedValue { $0 = outsider }
        let added = peers.withLockedValue { table -> [ServerId] in
            let added = new.keys.filter { id in table[id].map { $0 != new[id]! } ?? true }
            table = new
            return added.sorted()
        }
        let connected = Set(connectedPeers)
        let toDial = outsider ? new.keys.sorted() : added.filter { $0 < myid }
        for peer in toDial where peer != myid && !connected.contains(peer) { dial(peer, delayMs: 0) }
    }

    /// Whether `id` is in this server's table (then the higher id of the pair dials).
    func knows(_ id: ServerId) -> Bool { peers.withLockedValue { $0[id] != nil } }

    func stop() {
        stopped.withLockedValue { $0 = true }
        try? listener?.close().wait()
        for out in channels.withLockedValue({ Array($0.values) }) { try? out.channel.close().wait() }
    }

    /// `stop` without waiting for any event loop: for a thread that may be the one those closes run on.
    func abandon() {
        stopped.withLockedValue { $0 = true }
        listener?.close(promise: nil)
        for out in channels.withLockedValue({ Array($0.values) }) { out.channel.close(promise: nil) }
    }

    /// Sends each peer its messages as one write (in call order per peer); drops those for peers not connected.
    /// Peers given the same messages share one encoding: a leader sends every follower the same proposals and
    /// commits, and encoding each 1 KiB proposal once per follower was a copy and an allocation per follower.
    func send(_ outgoing: [ServerId: [ZabMessage]]) {
        var encoded: [(messages: [ZabMessage], buffer: ByteBuffer)] = []
        for (peer, messages) in outgoing {
            guard let out = channels.withLockedValue({ $0[peer] }) else {
                if messages.contains(where: { if case .notification = $0 { false } else { true } }) { onDisconnected(peer) }
                continue
            }
            // Usually a hit on the first comparison, and cheap: shared payload arrays compare by identity.
            if let same = encoded.first(where: { $0.messages == messages }) {
                Self.onLoop(out) { $0.send(same.buffer) }
                continue
            }
            var w = JuteWriter(capacity: Self.encodedBytesEstimate(messages))
            for message in messages {
                let start = w.bytes.count
                w.writeInt(0)
                message.encode(to: &w)
                w.patchInt(Int32(w.bytes.count - start - 4), at: start)
            }
            let buffer = out.channel.allocator.buffer(bytes: w.bytes)
            encoded.append((messages, buffer))
            Self.onLoop(out) { $0.send(buffer) }
        }
    }

    /// Streams the state of `tree` (a committed copy at `lastZxid`) to `peer` as Zab's `.snapshot(epoch:
    /// lastZxid:state:)`, after every message sent to it before and before every message sent after. Serialized
    /// off the calling thread, once per zxid however many peers sync at it. Dropped if the peer is not connected,
    /// and reported like any message.
    func sendSnapshot(to peer: ServerId, epoch: Int64, lastZxid: Zxid, tree: DataTree) {
        guard let out = channels.withLockedValue({ $0[peer] }) else { return onDisconnected(peer) }
        let send = QuorumOutbound.SnapshotSend(shared: serializer.snapshot(zxid: lastZxid.raw, tree: tree),
                                               epoch: epoch, chunkBytes: snapshotChunkBytes)
        Self.onLoop(out) { $0.sendSnapshot(send) }
    }

    /// Runs `body` on the connection's event loop, in call order with the other calls from this thread.
    private static func onLoop(_ out: QuorumOutbound, _ body: @escaping (QuorumOutbound) -> Void) {
        if out.channel.eventLoop.inEventLoop { body(out) } else { out.channel.eventLoop.execute { body(out) } }
    }

    /// Resumes a connection's stream when its socket can take more (called on its event loop).
    fileprivate func writable(_ peer: ServerId, _ ch: Channel) {
        guard let out = channels.withLockedValue({ $0[peer] }), out.channel === ch else { return }
        out.pump()
    }

    /// Enough for `messages` framed and encoded, so the writer does not regrow while copying payloads in.
    private static func encodedBytesEstimate(_ messages: [ZabMessage]) -> Int {
        messages.reduce(0) { total, message in
            switch message {
            case .proposal(_, let entry, _): return total + entry.payload.count + 64
            default: return total + 64
            }
        }
    }

    var connectedPeers: [ServerId] { channels.withLockedValue { $0.keys.sorted() } }

    private func dial(_ peer: ServerId, delayMs: Int64) {
        guard !stopped.withLockedValue({ $0 }), let addr = peers.withLockedValue({ $0[peer] }) else { return }
        let loop = group.next()
        loop.scheduleTask(in: .milliseconds(delayMs)) {
            // Connected meanwhile from the other side (a member that learned this server's address dials it).
            guard self.channels.withLockedValue({ $0[peer] }) == nil else { return }
            let bootstrap = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(2))
                .channelInitializer { [tls = self.tls] channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let tls {
                            let isAddress = (try? SocketAddress(ipAddress: addr.host, port: 0)) != nil
                            try channel.pipeline.syncOperations.addHandler(
                                NIOSSLClientHandler(context: tls.dialling.context, serverHostname: isAddress ? nil : addr.host))
                        }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(LengthPrefixedFrameDecoder(frameBytesMax: QuorumTransport.frameBytesMax, fourLetterWords: false)))
                        try channel.pipeline.syncOperations.addHandler(QuorumPeerHandler(transport: self, peer: peer))
                    }
                }
            bootstrap.connect(host: addr.host, port: addr.port).whenComplete { result in
                switch result {
                case .success(let ch) where !ch.isActive:
                    // Closed before it could be recorded: channelInactive found nothing to report, so retry here.
                    self.dial(peer, delayMs: Self.reconnectDelayMinMs)
                case .success(let ch):
                    var hello = ch.allocator.buffer(capacity: 12)
                    hello.writeInteger(Int32(8))
                    hello.writeInteger(self.myid)
                    ch.writeAndFlush(hello, promise: nil)
                    self.attach(peer, ch)
                case .failure(let error):
                    let next = Self.isRefused(error) ? Self.reconnectDelayMinMs
                        : min(Self.reconnectDelayMaxMs, max(Self.reconnectDelayMinMs, delayMs * 2))
                    self.dial(peer, delayMs: next)
                }
            }
        }
    }

    /// True when every address of the peer refused the connection (nothing listening there).
    static func isRefused(_ error: Error) -> Bool {
        func refused(_ e: Error) -> Bool { (e as? IOError)?.errnoCode == ECONNREFUSED }
        if let multi = error as? NIOConnectionError {
            return !multi.connectionErrors.isEmpty && multi.connectionErrors.allSatisfy { refused($0.error) }
        }
        return refused(error)
    }

    /// Records `ch` as the connection to `peer`, replacing (and closing) an older one.
    fileprivate func attach(_ peer: ServerId, _ ch: Channel) {
        var chunks = 0
        let out = QuorumOutbound(
            channel: ch, peer: peer,
            onProgress: { [weak self] bytes, done in
                guard let self else { return }
                if done {
                    self.logger.info("snapshot sent", metadata: ["peer": "\(peer)", "bytes": "\(bytes)", "chunks": "\(chunks)"])
                    chunks = 0
                } else {
                    chunks += 1
                    self.onSyncProgress(peer, 1, bytes, true)
                }
            },
            onFailure: { [weak self] why in self?.logger.warning("closing quorum connection: \(why)", metadata: ["peer": "\(peer)"]) })
        let old = channels.withLockedValue { channels -> QuorumOutbound? in
            let old = channels[peer]
            channels[peer] = out
            return old
        }
        if let old, old.channel !== ch {
            // Whatever was in flight on the old connection may be lost: Zab must hear about it.
            old.channel.close(promise: nil)
            onDisconnected(peer)
        }
        logger.info("quorum connection up", metadata: ["peer": "\(peer)"])
    }

    fileprivate func detach(_ peer: ServerId, _ ch: Channel, dialer: Bool) {
        let removed = channels.withLockedValue { channels -> Bool in
            guard channels[peer]?.channel === ch else { return false }
            channels[peer] = nil
            return true
        }
        if removed {
            logger.info("quorum connection lost", metadata: ["peer": "\(peer)"])
            onDisconnected(peer)
        }
        // Only the connection currently in use is re-dialed; a replaced one just goes away.
        if removed && (dialer || (outsider.withLockedValue { $0 } && knows(peer))) { dial(peer, delayMs: Self.reconnectDelayMinMs) }
    }
}

/// One end of a quorum connection. On the accepting side the first frame names the peer (and must be a configured
/// server with a higher id); every later frame is a `ZabMessage` or part of a snapshot stream. A malformed frame
/// or a broken stream closes the connection (the peers reconnect and Zab starts the sync over); a stream cut off
/// by a closed connection is dropped whole, so the core never sees part of a snapshot.
final class QuorumPeerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = InboundFrame

    let transport: QuorumTransport
    var peer: ServerId?
    let dialer: Bool
    /// Messages decoded from the current socket read, delivered together at `channelReadComplete`.
    private var batch: [ZabMessage] = []
    private var reassembler = SnapshotReassembler()
    /// The learner-side work on the stream being reassembled, if any.
    private var intake: SnapshotIntake?
    /// When the stream being reassembled began (for the log line at its end).
    private var streamStarted = ContinuousClock.now
    /// Snapshot chunks and their state bytes received in the current socket read.
    private var chunksRead = 0
    private var chunkBytesRead = 0

    init(transport: QuorumTransport, peer: ServerId?) {
        self.transport = transport
        self.peer = peer
        self.dialer = peer != nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .packet(let bytes) = unwrapInboundIn(data) else { return }
        guard let peer else {
            var r = JuteReader(bytes)
            // Any higher id is taken, member or not: a server about to be added by a reconfig connects before the
            // change names it (its address arrives with the change). A lower id is taken only when it is not in
            // this server's table (a server outside the membership, which nobody dials); otherwise this server
            // dials it itself.
            guard let id = try? r.readLong(), id != transport.myid, id > transport.myid || !transport.knows(id) else {
                transport.logger.warning("quorum connection from a server with a lower id this server dials itself, or without an id; closing (a server joining by reconfig needs an id above the current members')")
                context.close(promise: nil)
                return
            }
            self.peer = id
            transport.attach(id, context.channel)
            return
        }
        if SnapshotStream.isStreamFrame(bytes) {
            receiveStreamFrame(bytes, peer: peer, context: context)
            return
        }
        var r = JuteReader(bytes)
        guard !reassembler.isOpen, let message = try? ZabMessage(from: &r) else {
            let what = reassembler.isOpen ? "quorum message inside a snapshot stream" : "malformed quorum message"
            transport.logger.warning("\(what); closing", metadata: ["peer": "\(peer)"])
            context.close(promise: nil)
            return
        }
        batch.append(message)
    }

    private func receiveStreamFrame(_ frame: [UInt8], peer: ServerId, context: ChannelHandlerContext) {
        let before = reassembler.receivedBytes
        let wasOpen = reassembler.isOpen
        if !wasOpen { streamStarted = .now }
        do {
            if let snapshot = try reassembler.accept(frame) {
                transport.logger.info("snapshot received", metadata: [
                    "peer": "\(peer)", "bytes": "\(before)", "ms": "\(Int((ContinuousClock.now - streamStarted) / .milliseconds(1)))"])
                if let intake {
                    intake.finishReceiving()
                    transport.intakeFinished(intake, from: peer)
                    self.intake = nil
                }
                batch.append(snapshot)
            } else if !wasOpen {
                intake = transport.makeSnapshotIntake?(reassembler.lastZxid.raw, Int(reassembler.totalBytes))
            } else if reassembler.receivedBytes > before {
                let bytes = Int(reassembler.receivedBytes - before)
                if let intake {
                    intake.add(frame, payloadStart: frame.count - bytes)
                    keepBytesUnlessTaken(intake)
                }
                chunksRead += 1
                chunkBytesRead += bytes
            }
        } catch {
            transport.logger.warning("bad snapshot stream: \(error); closing", metadata: ["peer": "\(peer)"])
            reassembler = SnapshotReassembler()
            intake?.abandon()
            intake = nil
            context.close(promise: nil)
        }
    }

    /// Once the layout is known: a stream the intake restores piecewise (version 2) and writes to its own file needs
    /// no second copy here; any other layout is kept whole for the core to restore as before.
    private func keepBytesUnlessTaken(_ intake: SnapshotIntake) {
        guard reassembler.keepsBytes, intake.writesFile, let prefix = reassembler.keptPrefix, prefix.count >= 8 else { return }
        let version = prefix.dropFirst(4).prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        if version == UInt32(DataTree.snapshotVersionInline) { reassembler.stopKeepingBytes() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, let peer { transport.writable(peer, context.channel) }
        context.fireChannelWritabilityChanged()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliverBatch()
        context.fireChannelReadComplete()
    }

    private func deliverBatch() {
        if let peer, chunksRead > 0 {
            transport.onSyncProgress(peer, chunksRead, chunkBytesRead, false)
            chunksRead = 0
            chunkBytesRead = 0
        }
        guard let peer, !batch.isEmpty else { return }
        transport.onMessages(peer, batch)
        batch = []
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Messages decoded at end of stream come without a read-complete; they precede the disconnect.
        deliverBatch()
        intake?.abandon()
        intake = nil
        if let peer { transport.detach(peer, context.channel, dialer: dialer) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        transport.logger.info("quorum connection error", metadata: ["peer": "\(peer.map(String.init) ?? "?")", "error": "\(error)"])
        context.close(promise: nil)
    }
}
