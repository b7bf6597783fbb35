import NIOCore
import WarrenJute

/// What arrives on a length-prefixed connection: a packet, or (on a client connection, only as the very first bytes)
/// a four-letter word such as `ruok`, which ZooKeeper answers in plain text and then closes.
enum InboundFrame {
    case packet([UInt8])
    case fourLetterWord(String)
}

/// Splits a byte stream into packets by their 4-byte big-endian length prefix, with `Frame.payloadLength`'s rule —
/// the one decoder of client and quorum connections (the pure `WarrenJute.FrameDecoder` applies the same rule to
/// byte arrays). A refused length throws `FrameError`, which closes that connection and nothing else.
final class LengthPrefixedFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame

    let frameBytesMax: Int
    /// Whether the first four bytes may be a four-letter word instead of a length (client connections).
    private var fourLetterWordAllowed: Bool

    init(frameBytesMax: Int, fourLetterWords: Bool) {
        self.frameBytesMax = frameBytesMax
        self.fourLetterWordAllowed = fourLetterWords
    }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let prefix = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        if fourLetterWordAllowed, let word = Self.fourLetterWord(prefix) {
            buffer.moveReaderIndex(forwardBy: 4)
            fourLetterWordAllowed = false
            context.fireChannelRead(wrapInboundOut(.fourLetterWord(word)))
            return .continue
        }
        let length = try Frame.payloadLength(prefix: prefix, frameBytesMax: frameBytesMax)
        guard buffer.readableBytes >= 4 + length else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let body = buffer.readBytes(length: length)!
        fourLetterWordAllowed = false
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
