import Logging
import NIOConcurrencyHelpers
import NIOCore

/// The shell's view of one client socket. The core addresses it by `id` only; sending and closing are safe from
/// any thread because they hop to the channel's event loop.
final class ClientConnection: @unchecked Sendable {
    let id: UInt64
    let channel: Channel
    let remoteAddress: String
    let remoteIP: String
    /// Bytes handed to the socket but not yet written. A client that stops reading makes this grow; past
    /// `outboundBytesMax` the connection is closed so it cannot make the server buffer without bound.
    private let pendingOutboundBytes = NIOLockedValueBox(0)
    let outboundBytesMax: Int
    let logger: Logger

    init(id: UInt64, channel: Channel, outboundBytesMax: Int, logger: Logger) {
        self.id = id
        self.channel = channel
        self.outboundBytesMax = outboundBytesMax
        self.logger = logger
        let addr = channel.remoteAddress
        remoteIP = addr?.ipAddress ?? "unknown"
        remoteAddress = "/\(remoteIP):\(addr?.port ?? 0)"
    }

    /// Queues length-prefixed packets as one write (one hop to the channel's loop, one syscall when the socket
    /// takes it all). Order of calls, and of packets within a call, is the order on the wire.
    func send(_ payloads: [[UInt8]]) {
        let total = payloads.reduce(0) { $0 + $1.count + 4 }
        let overLimit = pendingOutboundBytes.withLockedValue { pending -> Bool in
            pending += total
            return pending > outboundBytesMax
        }
        if overLimit {
            close(reason: "client is not reading its responses (more than \(outboundBytesMax) bytes queued)")
            return
        }
        var buf = channel.allocator.buffer(capacity: total)
        for p in payloads {
            buf.writeInteger(Int32(p.count))
            buf.writeBytes(p)
        }
        let promise = channel.eventLoop.makePromise(of: Void.self)
        promise.futureResult.whenComplete { [pendingOutboundBytes] _ in
            pendingOutboundBytes.withLockedValue { $0 -= total }
        }
        channel.writeAndFlush(buf, promise: promise)
    }

    /// Whether the socket is read: the core can pause it (backpressure, `CoreAction.setReading`), and so can the
    /// connection itself while `batchesInFlightMax` socket reads wait for the core (only possible with separate
    /// I/O loops, `warren.ioThreads` > 0), which bounds what one connection can queue on the core loop.
    private struct ReadGate {
        var batchesInFlight = 0
        var corePaused = false
        var reading = true
        var wanted: Bool { !corePaused && batchesInFlight < ClientConnection.batchesInFlightMax }
    }
    private let readGate = NIOLockedValueBox(ReadGate())
    static let batchesInFlightMax = 4

    /// I/O loop: a socket read's packets are about to hop to the core.
    func batchSubmitted() { updateReadGate { $0.batchesInFlight += 1 } }
    /// Core loop: the core has handled one batch.
    func batchHandled() { updateReadGate { $0.batchesInFlight -= 1 } }
    /// Core loop: the core paused (true) or resumed (false) this connection.
    func setCorePaused(_ paused: Bool) { updateReadGate { $0.corePaused = paused } }

    private func updateReadGate(_ change: (inout ReadGate) -> Void) {
        let changed = readGate.withLockedValue { gate -> Bool in
            change(&gate)
            precondition(gate.batchesInFlight >= 0 && gate.batchesInFlight <= Self.batchesInFlightMax + 1,
                         "socket reads waiting for the core: \(gate.batchesInFlight)")
            return gate.wanted != gate.reading
        }
        guard changed else { return }
        // Applied on the channel's loop from the state as it is then, so hops from two threads cannot leave it
        // in the older of two states.
        let apply = { [readGate, channel] in
            let on = readGate.withLockedValue { gate -> Bool? in
                guard gate.wanted != gate.reading else { return nil }
                gate.reading = gate.wanted
                return gate.reading
            }
            guard let on else { return }
            channel.setOption(ChannelOptions.autoRead, value: on).whenComplete { _ in
                if on { channel.read() }
            }
        }
        if channel.eventLoop.inEventLoop { apply() } else { channel.eventLoop.execute(apply) }
    }

    /// Sends raw text (a four-letter-word answer) and closes.
    func sendTextAndClose(_ text: String) {
        var buf = channel.allocator.buffer(capacity: text.utf8.count)
        buf.writeString(text)
        channel.writeAndFlush(buf).whenComplete { [channel] _ in channel.close(promise: nil) }
    }

    func close(reason: String?) {
        if let reason { logger.info("closing connection", metadata: ["client": "\(remoteAddress)", "reason": "\(reason)"]) }
        channel.close(promise: nil)
    }
}

/// Feeds a connection's frames to the core. Decoding errors (bad lengths) close only this connection.
final class ClientChannelHandler: ChannelInboundHandler {
    typealias InboundIn = InboundFrame

    let server: ServerShell
    var connection: ClientConnection?
    /// Packets decoded from the current socket read, handed to the core together at `channelReadComplete`.
    private var batch: [[UInt8]] = []

    init(server: ServerShell) {
        self.server = server
    }

    func channelActive(context: ChannelHandlerContext) {
        let conn = server.register(channel: context.channel)
        connection = conn
        if conn == nil { context.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        switch unwrapInboundIn(data) {
        case .fourLetterWord(let word):
            submitBatch()
            server.fourLetterWord(word, on: connection)
        case .packet(let bytes): batch.append(bytes)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        submitBatch()
        context.fireChannelReadComplete()
    }

    private func submitBatch() {
        guard let connection, !batch.isEmpty else { return }
        server.packets(batch, on: connection)
        batch = []
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Frames decoded at end of stream arrive without a read-complete.
        submitBatch()
        if let connection { server.closed(connection) }
        connection = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let who = connection?.remoteAddress ?? "\(context.remoteAddress.map { "\($0)" } ?? "?")"
        server.logger.warning("closing connection", metadata: ["client": "\(who)", "reason": "\(error)"])
        context.close(promise: nil)
    }
}
