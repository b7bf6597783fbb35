import CZlib

/// zlib streams (RFC 1950) for snapshots, in bounded chunks so neither side needs a second copy of a large payload.
enum Zlib {
    /// Compresses `payload` as one zlib stream, handing the output to `sink` in order, chunk by chunk.
    static func compress(_ payload: [UInt8], level: Int32, chunkBytes: Int = 256 << 10,
                         sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var stream = z_stream()
        let initialized = warren_deflate_init(&stream, level)
        precondition(initialized == Z_OK, "deflateInit failed with \(initialized) for level \(level)")
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: chunkBytes)
        try payload.withUnsafeBytes { input in
            var fed = 0
            var flush = Z_NO_FLUSH
            while flush != Z_FINISH {
                let n = min(input.count - fed, 1 << 30)
                stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: ($0 + fed).assumingMemoryBound(to: Bytef.self)) }
                stream.avail_in = uInt(n)
                fed += n
                flush = fed == input.count ? Z_FINISH : Z_NO_FLUSH
                repeat {
                    let produced = out.withUnsafeMutableBytes { buffer -> Int in
                        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.avail_out = uInt(buffer.count)
                        let rc = deflate(&stream, flush)
                        precondition(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "deflate returned \(rc)")
                        return buffer.count - Int(stream.avail_out)
                    }
                    if produced > 0 { try out.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
                } while stream.avail_out == 0
            }
        }
    }

    /// Decompresses `compressed`, which must be exactly one complete zlib stream of exactly `expectedBytes`.
    /// Returns the bytes, or why they cannot be trusted.
    static func decompress(_ compressed: [UInt8], expectedBytes: Int) -> Result<[UInt8], DecompressionFailure> {
        decompress(compressed[...], expectedBytes: expectedBytes)
    }

    /// `decompress` of a slice, so a snapshot file's stream is read in place rather than copied out first.
    static func decompress(_ compressed: ArraySlice<UInt8>, expectedBytes: Int) -> Result<[UInt8], DecompressionFailure> {
        var stream = z_stream()
        let initialized = warren_inflate_init(&stream)
        precondition(initialized == Z_OK, "inflateInit failed with \(initialized)")
        defer { inflateEnd(&stream) }
        // One spare byte reveals a stream longer than promised. Not zero-filled: only a stream that produced exactly
        // `expectedBytes` is returned, and those it wrote.
        var output = [UInt8](unsafeUninitializedCapacity: expectedBytes + 1) { _, initialized in initialized = expectedBytes + 1 }
        let outcome: DecompressionFailure? = compressed.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                var fedIn = 0
                var fedOut = 0
                while true {
                    if stream.avail_in == 0 && fedIn < input.count {
                        let n = min(input.count - fedIn, 1 << 30)
                        stream.next_in = UnsafeMutablePointer(mutating: (input.baseAddress! + fedIn).assumingMemoryBound(to: Bytef.self))
                        stream.avail_in = uInt(n)
                        fedIn += n
                    }
                    if stream.avail_out == 0 && fedOut < out.count {
                        let n = min(out.count - fedOut, 1 << 30)
                        stream.next_out = (out.baseAddress! + fedOut).assumingMemoryBound(to: Bytef.self)
                        stream.avail_out = uInt(n)
                        fedOut += n
                    }
                    switch inflate(&stream, Z_NO_FLUSH) {
                    case Z_STREAM_END:
                        if stream.avail_in > 0 || fedIn < input.count { return .trailingBytes }
                        return Int(stream.total_out) == expectedBytes ? nil : .wrongLength(Int(stream.total_out))
                    case Z_OK:
                        continue
                    case Z_BUF_ERROR:
                        if stream.avail_out == 0 && fedOut == out.count { return .wrongLength(Int(stream.total_out)) }
                        return .truncated
                    default:
                        return .invalid(stream.msg.map { String(cString: $0) } ?? "zlib data error")
                    }
                }
            }
        }
        if let outcome { return .failure(outcome) }
        output.removeLast()
        return .success(output)
    }

    enum DecompressionFailure: Error, Equatable, CustomStringConvertible {
        case truncated
        case trailingBytes
        case wrongLength(Int)
        case invalid(String)

        var description: String {
            switch self {
            case .truncated: return "compressed stream ends early"
            case .trailingBytes: return "bytes after the end of the compressed stream"
            case let .wrongLength(n): return "stream decompressed to \(n) bytes (stopped there), not the length in the header"
            case let .invalid(message): return "compressed stream is invalid: \(message)"
            }
        }
    }
}

/// One zlib stream per snapshot block (file format version 2): each block is deflated on its own, into a buffer
/// bounded by what would be worth storing. The stream state lives on the heap because zlib keeps a pointer back
/// to it and refuses a stream that has moved.
final class BlockDeflater {
    private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    private var output = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    init(level: Int32) {
        stream.initialize(to: z_stream())
        let initialized = warren_deflate_init(stream, level)
        precondition(initialized == Z_OK, "deflateInit failed with \(initialized) for level \(level)")
    }

    deinit {
        deflateEnd(stream)
        stream.deallocate()
        output.deallocate()
    }

    /// `input` as one complete zlib stream, if that takes at most `limitBytes`; nil if it would take more (the
    /// caller then stores the bytes as they are). The result is valid until the next call.
    func deflate(_ input: UnsafeRawBufferPointer, limitBytes: Int) -> UnsafeRawBufferPointer? {
        precondition(input.count <= Int(UInt32.max) && limitBytes >= 0, "block of \(input.count) bytes, limit \(limitBytes)")
        let reset = deflateReset(stream)
        precondition(reset == Z_OK, "deflateReset returned \(reset)")
        if output.count < max(limitBytes, 1) {
            output.deallocate()
            output = .allocate(byteCount: max(limitBytes, 1), alignment: 16)
        }
        stream.pointee.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.pointee.avail_in = uInt(input.count)
        stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.pointee.avail_out = uInt(limitBytes)
        let rc = CZlib.deflate(stream, Z_FINISH)
        // Z_OK or Z_BUF_ERROR: the output space ran out before the stream ended, so it would not fit.
        precondition(rc == Z_STREAM_END || rc == Z_OK || rc == Z_BUF_ERROR, "deflate returned \(rc)")
        guard rc == Z_STREAM_END else { return nil }
        return UnsafeRawBufferPointer(rebasing: output[0..<limitBytes - Int(stream.pointee.avail_out)])
    }
}

extension Zlib {
    /// Inflates `input`, which must be exactly one complete zlib stream of exactly `output.count` bytes, into
    /// `output`. Returns nil on success, or why the bytes cannot be trusted (`output` then holds garbage).
    static func inflateBlock(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> DecompressionFailure? {
        precondition(!output.isEmpty && input.count <= Int(UInt32.max) && output.count <= Int(UInt32.max),
                     "inflate of \(input.count) bytes into \(output.count)")
        var stream = z_stream()
        let initialized = warren_inflate_init(&stream)
        precondition(initialized == Z_OK, "inflateInit failed with \(initialized)")
        defer { inflateEnd(&stream) }
        stream.next_in = input.baseAddress.map { UnsafeMutablePointer(mutating: $0.assumingMemoryBound(to: Bytef.self)) }
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        while true {
            switch CZlib.inflate(&stream, Z_NO_FLUSH) {
            case Z_STREAM_END:
                if stream.avail_in > 0 { return .trailingBytes }
                return Int(stream.total_out) == output.count ? nil : .wrongLength(Int(stream.total_out))
            case Z_OK:
                continue
            case Z_BUF_ERROR:
                // No progress possible: the input ran out, or the output is full and the stream wants to go on.
                return stream.avail_in == 0 ? .truncated : .wrongLength(Int(stream.total_out))
            default:
                return .invalid(stream.msg.map { String(cString: $0) } ?? "zlib data error")
            }
        }
    }
}

extension CRC32 {
    /// The CRC-32 of two byte strings end to end, from their CRCs and the second one's length.
    static func combine(_ first: UInt32, _ second: UInt32, count secondBytes: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32_combine(uLong(first), uLong(second), off_t(secondBytes)))
    }
}
