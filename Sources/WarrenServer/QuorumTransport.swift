import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WarrenJute
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
/// Messages sent while no connection to the peer is up are dropped: Zab tolerates it (notifications are resent,
/// learners time out and start over).
final class QuorumTransport: @unchecked Sendable {
    /// Largest frame accepted from a peer (a SNAP sync carries the whole serialized tree in one frame).
    static let frameBytesMax = 512 << 20
    static let reconnectDelayMinMs: Int64 = 50
    static let reconnectDelayMaxMs: Int64 = 2000

    let myid: ServerId
    let peers: [ServerId: (host: String, port: Int)]
    let group: EventLoopGroup
    let logger: Logger
    /// Called on an arbitrary I/O thread with the messages of one socket read, in order; the receiver hops to its
    /// own executor (once per batch).
    let onMessages: @Sendable (ServerId, [ZabMessage]) -> Void
    let onDisconnected: @Sendable (ServerId) -> Void

    private let channels = NIOLockedValueBox([ServerId: Channel]())
    private let stopped = NIOLockedValueBox(false)
    private var listener: Channel?

    init(myid: ServerId, peers: [ServerId: (host: String, port: Int)], group: EventLoopGroup, logger: Logger,
         onMessages: @escaping @Sendable (ServerId, [ZabMessage]) -> Void,
         onDisconnected: @escaping @Sendable (ServerId) -> Void) {
        self.myid = myid
        self.peers = peers
        self.group = group
        self.logger = logger
        self.onMessages = onMessages
        self.onDisconnected = onDisconnected
    }

    /// Binds this server's quorum port and starts dialing the lower-id peers.
    func start() throws {
        guard let me = peers[myid] else { throw ConfigError("server.\(myid) is not in the server list") }
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(QuorumFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(QuorumPeerHandler(transport: self, peer: nil))
                }
            }
        listener = try bootstrap.bind(host: me.host, port: me.port).wait()
        for peer in peers.keys.sorted() where peer < myid { dial(peer, delayMs: 0) }
    }

    func stop() {
        stopped.withLockedValue { $0 = true }
        try? listener?.close().wait()
        for ch in channels.withLockedValue({ Array($0.values) }) { try? ch.close().wait() }
    }

    /// Sends each peer its messages as one write (in call order per peer); drops those for peers not connected.
    /// Peers given the same messages share one encoding: a leader sends every follower the same proposals and
    /// commits, and encoding each 1 KiB proposal once per follower was a copy and an allocation per follower.
    func send(_ outgoing: [ServerId: [ZabMessage]]) {
        var encoded: [(messages: [ZabMessage], buffer: ByteBuffer)] = []
        for (peer, messages) in outgoing {
            guard let ch = channels.withLockedValue({ $0[peer] }) else { continue }
            // Usually a hit on the first comparison, and cheap: shared payload arrays compare by identity.
            if let same = encoded.first(where: { $0.messages == messages }) {
                ch.writeAndFlush(same.buffer, promise: nil)
                continue
            }
            var w = JuteWriter(capacity: Self.encodedBytesEstimate(messages))
            for message in messages {
                let start = w.bytes.count
                w.writeInt(0)
                message.encode(to: &w)
                w.patchInt(Int32(w.bytes.count - start - 4), at: start)
            }
            let buffer = ch.allocator.buffer(bytes: w.bytes)
            encoded.append((messages, buffer))
            ch.writeAndFlush(buffer, promise: nil)
        }
    }

    /// Enough for `messages` framed and encoded, so the writer does not regrow while copying payloads in.
    private static func encodedBytesEstimate(_ messages: [ZabMessage]) -> Int {
        messages.reduce(0) { total, message in
            switch message {
            case .proposal(_, let entry, _): return total + entry.payload.count + 64
            case .snapshot(_, _, let state): return total + state.count + 64
            default: return total + 64
            }
        }
    }

    var connectedPeers: [ServerId] { channels.withLockedValue { $0.keys.sorted() } }

    private func dial(_ peer: ServerId, delayMs: Int64) {
        guard !stopped.withLockedValue({ $0 }), let addr = peers[peer] else { return }
        let loop = group.next()
        loop.scheduleTask(in: .milliseconds(delayMs)) {
            let bootstrap = ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connectTimeout(.seconds(2))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(QuorumFrameDecoder()))
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
        let old = channels.withLockedValue { channels -> Channel? in
            let old = channels[peer]
            channels[peer] = ch
            return old
        }
        if let old, old !== ch {
            // Whatever was in flight on the old connection may be lost: Zab must hear about it.
            old.close(promise: nil)
            onDisconnected(peer)
        }
        logger.info("quorum connection up", metadata: ["peer": "\(peer)"])
    }

    fileprivate func detach(_ peer: ServerId, _ ch: Channel, dialer: Bool) {
        let removed = channels.withLockedValue { channels -> Bool in
            guard channels[peer] === ch else { return false }
            channels[peer] = nil
            return true
        }
        if removed {
            logger.info("quorum connection lost", metadata: ["peer": "\(peer)"])
            onDisconnected(peer)
        }
        // Only the connection currently in use is re-dialed; a replaced one just goes away.
        if dialer && removed { dial(peer, delayMs: Self.reconnectDelayMinMs) }
    }
}

/// Splits a quorum connection's bytes into frames by their 4-byte big-endian length (bounded).
final class QuorumFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard length >= 0 && Int(length) <= QuorumTransport.frameBytesMax else {
            throw FrameLengthError(length: length, frameBytesMax: QuorumTransport.frameBytesMax)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        context.fireChannelRead(wrapInboundOut(buffer.readBytes(length: Int(length))!))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// One end of a quorum connection. On the accepting side the first frame names the peer (and must be a configured
/// server with a higher id); every later frame is a `ZabMessage`. A malformed frame closes the connection.
final class QuorumPeerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = [UInt8]

    let transport: QuorumTransport
    var peer: ServerId?
    let dialer: Bool
    /// Messages decoded from the current socket read, delivered together at `channelReadComplete`.
    private var batch: [ZabMessage] = []

    init(transport: QuorumTransport, peer: ServerId?) {
        self.transport = transport
        self.peer = peer
        self.dialer = peer != nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let peer else {
            var r = JuteReader(bytes)
            guard let id = try? r.readLong(), transport.peers[id] != nil, id > transport.myid else {
                transport.logger.warning("quorum connection from an unknown server; closing")
                context.close(promise: nil)
                return
            }
            self.peer = id
            transport.attach(id, context.channel)
            return
        }
        var r = JuteReader(bytes)
        guard let message = try? ZabMessage(from: &r) else {
            transport.logger.warning("malformed quorum message; closing", metadata: ["peer": "\(peer)"])
            context.close(promise: nil)
            return
        }
        batch.append(message)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliverBatch()
        context.fireChannelReadComplete()
    }

    private func deliverBatch() {
        guard let peer, !batch.isEmpty else { return }
        transport.onMessages(peer, batch)
        batch = []
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Messages decoded at end of stream come without a read-complete; they precede the disconnect.
        deliverBatch()
        if let peer { transport.detach(peer, context.channel, dialer: dialer) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        transport.logger.info("quorum connection error", metadata: ["peer": "\(peer.map(String.init) ?? "?")", "error": "\(error)"])
        context.close(promise: nil)
    }
}
