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
