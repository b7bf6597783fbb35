/// A snapshot as handed to and returned by the store: an opaque payload from the tree's serializer, and the zxid
/// of the last transaction it reflects.
public struct Snapshot: Equatable, Sendable {
    public var zxid: Int64
    public var payload: [UInt8]

    public init(zxid: Int64, payload: [UInt8]) {
        self.zxid = zxid
        self.payload = payload
    }
}

/// Snapshot file layout: a 40-byte header, then the payload as one zlib stream.
///
///     magic              UInt32  "WSNP"
///     version            UInt32
///     zxid               Int64   repeated in the file name
///     payloadBytes       Int64   uncompressed length
///     compressedBytes    Int64   length of the zlib stream; the file is exactly header + this
///     payloadCrc         UInt32  CRC-32 of the uncompressed payload
///     headerCrc          UInt32  CRC-32 of the 36 bytes before it
enum SnapshotFormat {
    static let magic: UInt32 = 0x5753_4E50  // "WSNP"
    static let version: UInt32 = 1
    static let headerBytes = 40
    static let filePrefix = "snapshot"
    static let tempSuffix = ".tmp"
    /// zlib cannot expand data by more than about 1032:1; a header claiming more is damaged.
    static let expansionMax: Int64 = 1040

    struct Header: Equatable {
        var zxid: Int64
        var payloadBytes: Int64
        var compressedBytes: Int64
        var payloadCrc: UInt32
    }

    static func encode(_ h: Header) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerBytes)
        BigEndian.append(magic, to: &bytes)
        BigEndian.append(version, to: &bytes)
        BigEndian.append(h.zxid, to: &bytes)
        BigEndian.append(h.payloadBytes, to: &bytes)
        BigEndian.append(h.compressedBytes, to: &bytes)
        BigEndian.append(h.payloadCrc, to: &bytes)
        BigEndian.append(CRC32.checksum(bytes), to: &bytes)
        return bytes
    }

    /// Verifies a whole snapshot file and returns its payload, or the reason it cannot be used.
    static func decode(_ bytes: [UInt8], nameZxid: Int64) -> Result<Snapshot, SnapshotDamage> {
        guard bytes.count >= headerBytes else { return .failure(.init("file has \(bytes.count) bytes, less than a header")) }
        let header: Header
        do {
            header = try bytes.withUnsafeBytes { raw in
                guard BigEndian.uint32(raw, at: 0) == magic else { throw SnapshotDamage("not a Warren snapshot (bad magic)") }
                let found = BigEndian.uint32(raw, at: 4)
                guard found == version else { throw SnapshotDamage("unsupported snapshot version \(found)") }
                guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<36])) == BigEndian.uint32(raw, at: 36) else {
                    throw SnapshotDamage("header checksum mismatch")
                }
                return Header(zxid: BigEndian.int64(raw, at: 8), payloadBytes: BigEndian.int64(raw, at: 16),
                              compressedBytes: BigEndian.int64(raw, at: 24), payloadCrc: BigEndian.uint32(raw, at: 32))
            }
        } catch {
            return .failure(error as! SnapshotDamage)
        }
        guard header.zxid == nameZxid else {
            return .failure(.init("header zxid 0x\(String(header.zxid, radix: 16)) differs from the file name"))
        }
        guard header.compressedBytes == Int64(bytes.count - headerBytes) else {
            return .failure(.init("file has \(bytes.count - headerBytes) compressed bytes, header says \(header.compressedBytes)"))
        }
        guard header.payloadBytes >= 0, header.payloadBytes <= (header.compressedBytes + 64) * expansionMax else {
            return .failure(.init("implausible payload length \(header.payloadBytes)"))
        }
        switch Zlib.decompress(bytes[headerBytes...], expectedBytes: Int(header.payloadBytes)) {
        case let .failure(why):
            return .failure(.init(why.description))
        case let .success(payload):
            guard CRC32.checksum(payload) == header.payloadCrc else { return .failure(.init("payload checksum mismatch")) }
            return .success(Snapshot(zxid: header.zxid, payload: payload))
        }
    }

    struct SnapshotDamage: Error, Equatable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}
