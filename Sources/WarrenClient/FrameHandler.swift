import NIOCore
import WarrenJute

/// Splits the inbound byte stream of one connection into frames and hands each payload to `onFrame`, in order.
/// Calls `onClosed` exactly once when the channel goes inactive. A framing error (negative or oversized length)
/// closes the channel. Lives on the connection's event loop; the callbacks run there.
final class FrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var decoder: FrameDecoder
    private let onFrame: ([UInt8]) -> Void
    private let onClosed: (Error?) -> Void
    private var closed = false
    private var lastError: Error?

    init(frameBytesMax: Int, onFrame: @escaping ([UInt8]) -> Void, onClosed: @escaping (Error?) -> Void) {
        decoder = FrameDecoder(frameBytesMax: frameBytesMax)
        self.onFrame = onFrame
        self.onClosed = onClosed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { decoder.feed($0) }
        do {
            while let frame = try decoder.next() {
                onFrame(frame)
            }
        } catch {
            lastError = error
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        lastError = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !closed {
            closed = true
            onClosed(lastError)
        }
        context.fireChannelInactive()
    }
}
