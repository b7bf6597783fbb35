/// The Jute binary encoding used by ZooKeeper's client and quorum protocols.
///
/// Everything is big-endian: `int` is 4 bytes, `long` 8, `boolean` 1, and `buffer`/`ustring`/`vector` are an
/// `int` length (or element count) followed by the payload, with -1 meaning null. The codec does no I/O: it reads
/// from and writes to byte arrays, so the same code serves sockets, the transaction log and tests.

/// A fault in bytes that came from outside (a socket, a file). Never a programming error.
public enum JuteError: Error, Equatable, CustomStringConvertible {
    /// The record needs more bytes than the buffer holds.
    case truncated(needed: Int, available: Int)
    /// A length prefix is negative (other than -1 for null) or larger than the remaining bytes or a limit.
    case badLength(Int32)
    /// A string is not valid UTF-8.
    case badUTF8
    /// A value that the schema does not allow (an unknown enum tag, for example).
    case badValue(String)

    public var description: String {
        switch self {
        case let .truncated(needed, available): return "truncated record: needed \(needed) bytes, \(available) left"
        case let .badLength(n): return "bad length prefix \(n)"
        case .badUTF8: return "string is not valid UTF-8"
        case let .badValue(what): return "bad value: \(what)"
        }
    }
}

/// Appends Jute-encoded values to a growable byte buffer.
public struct JuteWriter {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func writeInt(_ v: Int32) {
        let u = UInt32(bitPattern: v)
        bytes.append(UInt8(truncatingIfNeeded: u >> 24))
        bytes.append(UInt8(truncatingIfNeeded: u >> 16))
        bytes.append(UInt8(truncatingIfNeeded: u >> 8))
        bytes.append(UInt8(truncatingIfNeeded: u))
    }

    public mutating func writeLong(_ v: Int64) {
        let u = UInt64(bitPattern: v)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: u >> UInt64(shift)))
        }
    }

    public mutating func writeBool(_ v: Bool) { bytes.append(v ? 1 : 0) }

    public mutating func writeByte(_ v: UInt8) { bytes.append(v) }

    /// A `buffer`; nil is encoded as length -1.
    public mutating func writeBuffer(_ v: [UInt8]?) {
        guard let v else { writeInt(-1); return }
        writeInt(Int32(v.count))
        bytes.append(contentsOf: v)
    }

    /// A `ustring`; nil is encoded as length -1.
    public mutating func writeString(_ v: String?) {
        guard let v else { writeInt(-1); return }
        let utf8 = Array(v.utf8)
        writeInt(Int32(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// A `vector<...>`; nil is encoded as count -1.
    public mutating func writeVector<T>(_ v: [T]?, _ element: (inout JuteWriter, T) -> Void) {
        guard let v else { writeInt(-1); return }
        writeInt(Int32(v.count))
        for e in v { element(&self, e) }
    }

    public mutating func write<R: JuteEncodable>(_ r: R) { r.encode(to: &self) }

    /// Raw bytes with no length prefix.
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 { bytes.append(contentsOf: raw) }

    /// Overwrites 4 bytes at `offset` with a big-endian int (used to back-fill a frame length).
    public mutating func patchInt(_ v: Int32, at offset: Int) {
        let u = UInt32(bitPattern: v)
        bytes[offset] = UInt8(truncatingIfNeeded: u >> 24)
        bytes[offset + 1] = UInt8(truncatingIfNeeded: u >> 16)
        bytes[offset + 2] = UInt8(truncatingIfNeeded: u >> 8)
        bytes[offset + 3] = UInt8(truncatingIfNeeded: u)
    }
}

/// Reads Jute-encoded values from a byte array, front to back. Every read checks bounds and throws `JuteError`.
public struct JuteReader {
    public let bytes: [UInt8]
    public private(set) var offset: Int
    public let end: Int

    public init(_ bytes: [UInt8], offset: Int = 0, end: Int? = nil) {
        self.bytes = bytes
        self.offset = offset
        self.end = end ?? bytes.count
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset >= end }

    @inline(__always)
    private mutating func need(_ n: Int) throws {
        if n > end - offset { throw JuteError.truncated(needed: n, available: end - offset) }
    }

    public mutating func readInt() throws -> Int32 {
        try need(4)
        let v = UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
        offset += 4
        return Int32(bitPattern: v)
    }

    public mutating func readLong() throws -> Int64 {
        try need(8)
        var v: UInt64 = 0
        for i in 0..<8 { v = v << 8 | UInt64(bytes[offset + i]) }
        offset += 8
        return Int64(bitPattern: v)
    }

    public mutating func readBool() throws -> Bool {
        try need(1)
        defer { offset += 1 }
        return bytes[offset] != 0
    }

    public mutating func readByte() throws -> UInt8 {
        try need(1)
        defer { offset += 1 }
        return bytes[offset]
    }

    private mutating func readLength() throws -> Int? {
        let n = try readInt()
        if n == -1 { return nil }
        if n < 0 || Int(n) > remaining { throw JuteError.badLength(n) }
        return Int(n)
    }

    public mutating func readBuffer() throws -> [UInt8]? {
        guard let n = try readLength() else { return nil }
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    public mutating func readString() throws -> String? {
        guard let n = try readLength() else { return nil }
        defer { offset += n }
        guard let s = String(validating: bytes[offset..<offset + n], as: UTF8.self) else { throw JuteError.badUTF8 }
        return s
    }

    /// A `vector<...>`. The count is bounded by the remaining bytes (every element takes at least one byte), so a
    /// hostile count cannot make us allocate more than the frame holds.
    public mutating func readVector<T>(_ element: (inout JuteReader) throws -> T) throws -> [T]? {
        let n = try readInt()
        if n == -1 { return nil }
        if n < 0 || Int(n) > remaining { throw JuteError.badLength(n) }
        var out: [T] = []
        out.reserveCapacity(Int(n))
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    public mutating func read<R: JuteDecodable>(_: R.Type = R.self) throws -> R { try R(from: &self) }

    /// The unread bytes, consumed.
    public mutating func readRest() -> ArraySlice<UInt8> {
        defer { offset = end }
        return bytes[offset..<end]
    }
}

public protocol JuteEncodable {
    func encode(to w: inout JuteWriter)
}

public protocol JuteDecodable {
    init(from r: inout JuteReader) throws
}

public typealias JuteRecord = JuteEncodable & JuteDecodable

extension JuteEncodable {
    /// This record alone, encoded.
    public func juteBytes() -> [UInt8] {
        var w = JuteWriter()
        encode(to: &w)
        return w.bytes
    }
}
