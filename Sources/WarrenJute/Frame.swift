/// Length-prefixed framing of the client protocol: every packet, the handshake included, is a 4-byte big-endian
/// length followed by that many bytes. Not a record, so not a field list: the payload is opaque here.

public enum Frame {
    /// `payload` with its 4-byte big-endian length prefix.
    public static func encode(_ payload: [UInt8]) -> [UInt8] {
        precondition(payload.count <= Int(Int32.max), "frame payload of \(payload.count) bytes exceeds Int32")
        var w = JuteWriter(capacity: payload.count + 4)
        w.writeInt(Int32(payload.count))
        w.writeRaw(payload)
        return w.bytes
    }
}

/// A length prefix that no well-behaved peer sends; the connection should be closed.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case negativeLength(Int32)
    case tooLarge(length: Int, frameBytesMax: Int)

    public var description: String {
        switch self {
        case let .negativeLength(n): "negative packet length \(n)"
        case let .tooLarge(n, max): "packet length \(n) exceeds jute.maxbuffer (\(max) bytes)"
        }
    }
}

extension Frame {
    /// The payload length a 4-byte prefix announces, if acceptable: the one framing rule of every
    /// length-prefixed stream (client connections, quorum connections, the pure `FrameDecoder`). Checked before
    /// any byte of the payload is buffered, so a hostile length cannot make the receiver allocate.
    /// - Throws: `FrameError` for a negative length or one above `frameBytesMax`.
    public static func payloadLength(prefix length: Int32, frameBytesMax: Int) throws(FrameError) -> Int {
        if length < 0 { throw .negativeLength(length) }
        if Int(length) > frameBytesMax { throw .tooLarge(length: Int(length), frameBytesMax: frameBytesMax) }
        return Int(length)
    }
}

/// Splits a byte stream into frames, whatever the chunking of the input.
///
/// Feed bytes as they arrive with `feed`, then call `next()` until it returns nil; frames come out in stream order.
/// Once `next()` throws, the stream is unusable: later calls throw the same error.
public struct FrameDecoder: Sendable {
    /// ZooKeeper's default `jute.maxbuffer` (0xfffff). ZooKeeper's server rejects a packet whose length is
    /// negative or above `jute.maxbuffer`; its extra 1024-byte slack (`jute.maxbuffer.extrasize`) applies only to
    /// individual fields inside a packet, never to the packet length, so there is none here either.
    public static let frameBytesMaxDefault = 0xfffff

    /// The largest payload accepted, in bytes (the 4-byte prefix not counted).
    public let frameBytesMax: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public init(frameBytesMax: Int = FrameDecoder.frameBytesMaxDefault) {
        precondition(frameBytesMax >= 0, "frameBytesMax \(frameBytesMax) is negative")
        self.frameBytesMax = frameBytesMax
    }

    /// Bytes received but not yet returned as a frame.
    public var bufferedBytes: Int { buffer.count - start }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        // Drop consumed bytes only when they dominate, so a stream of small frames costs amortised O(1) per byte.
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame's payload, or nil if more bytes are needed. The length prefix is validated as soon
    /// as its 4 bytes have arrived, before the payload does.
    /// - Throws: `FrameError` for a negative length or one above `frameBytesMax`.
    public mutating func next() throws -> [UInt8]? {
        guard bufferedBytes >= 4 else { return nil }
        var r = JuteReader(buffer, offset: start)
        let length = try Frame.payloadLength(prefix: try r.readInt(), frameBytesMax: frameBytesMax)
        guard bufferedBytes - 4 >= length else { return nil }
        let payloadStart = start + 4
        start = payloadStart + length
        return Array(buffer[payloadStart..<start])
    }
}
