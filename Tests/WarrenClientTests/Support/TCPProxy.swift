import Foundation
import NIOCore
import NIOPosix

/// A TCP forwarder on 127.0.0.1 in front of a server, so that a test can cut a client's connection (or refuse new
/// ones for a while) without touching the server.
final class TCPProxy: @unchecked Sendable {
    let port: Int
    private let listener: Channel
    private let state: ProxyState

    var connectString: String { "127.0.0.1:\(port)" }

    init(targetPort: Int, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        let state = ProxyState()
        self.state = state
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { inbound in state.accept(inbound, targetPort: targetPort) }
        listener = try bootstrap.bind(host: "127.0.0.1", port: 0).wait()
        port = listener.localAddress?.port ?? 0
    }

    /// Closes every forwarded connection (both sides) now.
    func cutConnections() { state.cutConnections() }

    /// While `refusing`, new connections are accepted and closed at once, as with a partitioned server.
    func setRefusing(_ value: Bool) { state.setRefusing(value) }

    func stop() {
        cutConnections()
        try? listener.close().wait()
    }

    deinit { try? listener.close().wait() }
}

private final class ProxyState: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [ObjectIdentifier: Channel] = [:]
    private var refusing = false

    func accept(_ inbound: Channel, targetPort: Int) -> EventLoopFuture<Void> {
        let refuse: Bool = lock.withLock { refusing }
        if refuse { return inbound.close() }
        // Bytes that arrive before the server side is connected wait in the inbound forwarder.
        let inboundHandler = Forwarder()
        ClientBootstrap(group: inbound.eventLoop)
            .channelInitializer { outbound in outbound.pipeline.addHandler(Forwarder(peer: inbound)) }
            .connect(host: "127.0.0.1", port: targetPort)
            .whenComplete { result in
                switch result {
                case let .success(outbound):
                    inboundHandler.attach(outbound)
                    self.track(inbound)
                    self.track(outbound)
                case .failure:
                    inbound.close(promise: nil)
                }
            }
        return inbound.pipeline.addHandler(inboundHandler)
    }

    private func track(_ channel: Channel) {
        let id = ObjectIdentifier(channel)
        lock.withLock { open[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.lock.withLock { self?.open.removeValue(forKey: id) }
        }
    }

    func cutConnections() {
        let channels = lock.withLock { Array(open.values) }
        for c in channels { try? c.close().wait() }
    }

    func setRefusing(_ value: Bool) {
        lock.withLock { refusing = value }
    }
}

/// Writes everything read on one channel to `peer`, and closes `peer` when this side closes.
private final class Forwarder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var peer: Channel?
    private var pending: [ByteBuffer] = []
    private var closed = false

    init(peer: Channel? = nil) { self.peer = peer }

    /// Sets the other side and forwards what arrived before it existed. Runs on the channel's event loop.
    func attach(_ peer: Channel) {
        if closed {
            peer.close(promise: nil)
            return
        }
        self.peer = peer
        for buffer in pending { peer.write(buffer, promise: nil) }
        pending = []
        peer.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if let peer { peer.writeAndFlush(buffer, promise: nil) } else { pending.append(buffer) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        peer?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
