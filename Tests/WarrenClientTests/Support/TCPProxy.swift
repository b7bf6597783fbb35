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
            .childChannelOption(ChannelOptions.autoRead, value: false)
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
        let inboundHandler = Forwarder()
        return inbound.pipeline.addHandler(inboundHandler).flatMap {
            ClientBootstrap(group: inbound.eventLoop)
                .channelInitializer { outbound in
                    outbound.pipeline.addHandler(Forwarder(peer: inbound))
                }
                .connect(host: "127.0.0.1", port: targetPort)
        }.map { outbound in
            inboundHandler.peer = outbound
            self.track(inbound)
            self.track(outbound)
            inbound.read()
        }.flatMapError { _ in inbound.close() }
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

    var peer: Channel?

    init(peer: Channel? = nil) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer?.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
