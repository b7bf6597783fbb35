import NIOCore

/// What arrives on a client socket: a length-prefixed packet, or (only as the very first bytes of a connection) a
/// four-letter word such as `ruok`, which ZooKeeper answers in plain text and then closes.
enum InboundFrame {
    case packet([UInt8])
    case fourLetterWord(String)
}

/// A packet whose length prefix the server refuses. The connection is closed; nothing else is affected.
struct FrameLengthError: Error, CustomStringConvertible {
    let length: Int32
    let frameBytesMax: Int
    var description: String {
        length < 0
            ? "negative packet length \(length)"
            : "packet length \(length) exceeds jute.maxbuffer (\(frameBytesMax) bytes)"
    }
}

/// Splits the byte stream into packets by their 4-byte big-endian length prefix.
///
/// Bounds: a length above `frameBytesMax` or below zero is rejected before any byte of the body is buffered, so a
/// hostile length cannot make the server allocate.
final class ZooKeeperFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame

    let frameBytesMax: Int
    private var sawFirstFrame = false

    init(frameBytesMax: Int) {
        self.frameBytesMax = frameBytesMax
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        if !sawFirstFrame, let word = Self.fourLetterWord(length) {
            buffer.moveReaderIndex(forwardBy: 4)
            sawFirstFrame = true
            context.fireChannelRead(wrapInboundOut(.fourLetterWord(word)))
            return .continue
        }
        if length < 0 || Int(length) > frameBytesMax {
            throw FrameLengthError(length: length, frameBytesMax: frameBytesMax)
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let body = buffer.readBytes(length: Int(length))!
        sawFirstFrame = true
        context.fireChannelRead(wrapInboundOut(.packet(body)))
        return .continue
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }

    /// The four ASCII letters if `prefix` spells a four-letter word Warren knows.
    static func fourLetterWord(_ prefix: Int32) -> String? {
        let u = UInt32(bitPattern: prefix)
        let letters = [UInt8(u >> 24), UInt8(u >> 16 & 0xff), UInt8(u >> 8 & 0xff), UInt8(u & 0xff)]
        guard letters.allSatisfy({ $0 >= 0x61 && $0 <= 0x7a }) else { return nil }
        let word = String(decoding: letters, as: UTF8.self)
        return ServerConfig.allFourLetterWords.contains(word) ? word : nil
    }
}
