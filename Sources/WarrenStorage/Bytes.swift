import CHotPaths
import CZlib

/// Big-endian integer packing for the on-disk headers.
enum BigEndian {
    static func append(_ v: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
    }

    static func append(_ v: Int64, to bytes: inout [UInt8]) {
        let u = UInt64(bitPattern: v)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: u >> UInt64(shift))) }
    }

    /// Reads 4 bytes at `offset`; the caller has checked bounds.
    static func uint32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        var v: UInt32 = 0
        for i in 0..<4 { v = v << 8 | UInt32(bytes[offset + i]) }
        return v
    }

    /// Reads 8 bytes at `offset`; the caller has checked bounds.
    static func int64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int64 {
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        return Int64(bitPattern: v)
    }
}

/// CRC-32 (zlib's polynomial), chunked so buffers above 4 GiB work with zlib's 32-bit lengths.
///
/// Where the CPU has carry-less multiplication, the bulk goes through `warren_crc32_fold` (about 10× zlib's
/// table-driven loop; it was 4 % of a writing ensemble's CPU and 7 % of a snapshot restore) and zlib finishes the
/// last few bytes. Same polynomial, same values: files from either path read with the other.
public enum CRC32 {
    private static let foldAvailable = warren_crc32_fold_available() != 0
    /// The fold's own minimum (four 16-byte lanes); from there on it beats zlib even on a 170-byte log record.
    static let foldBytesMin = 64

    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var base = bytes.baseAddress?.assumingMemoryBound(to: Bytef.self) else { return crc }
        var remaining = bytes.count
        var crc = crc
        if foldAvailable && remaining >= foldBytesMin {
            let folded = remaining & ~15
            crc = warren_crc32_fold(crc, base, folded)
            base += folded
            remaining -= folded
        }
        var value = uLong(crc)
        while remaining > 0 {
            let n = min(remaining, 1 << 30)
            value = crc32(value, base, uInt(n))
            base += n
            remaining -= n
        }
        return UInt32(truncatingIfNeeded: value)
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 { update(0, bytes) }

    public static func checksum(_ bytes: [UInt8]) -> UInt32 { bytes.withUnsafeBytes { checksum($0) } }
}

/// True when every byte of `bytes[range]` is zero (unwritten space after a crash, or preallocation).
func isAllZero(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
    for i in range where bytes[i] != 0 { return false }
    return true
}

/// Zxids carry the leader epoch in the high 32 bits and a counter in the low 32 bits.
enum ZxidOrder {
    /// Whether `next` may directly follow `previous` in a gap-free history: it must be larger, and within one epoch
    /// the counter advances by exactly one (a new epoch may start its counter anywhere).
    static func follows(_ previous: Int64, _ next: Int64) -> Bool {
        guard next > previous else { return false }
        return (next >> 32) != (previous >> 32) || next == previous + 1
    }
}

/// File names carry zxids in lower-case hex without padding, as ZooKeeper's do (`log.1a`, `snapshot.100000000`).
enum ZxidFileName {
    static func make(prefix: String, zxid: Int64) -> String {
        "\(prefix).\(String(UInt64(bitPattern: zxid), radix: 16))"
    }

    /// The zxid in `name` if it is exactly `<prefix>.<hex>`, else nil (temp files, other programs' files).
    static func parse(prefix: String, name: String) -> Int64? {
        let head = prefix + "."
        guard name.hasPrefix(head) else { return nil }
        let hex = name.dropFirst(head.count)
        guard !hex.isEmpty, hex.count <= 16, hex.allSatisfy(\.isHexDigit) else { return nil }
        return UInt64(hex, radix: 16).map { Int64(bitPattern: $0) }
    }
}
