/// One transaction as the log stores it: an opaque payload under its zxid. The log never looks inside the payload.
public struct LogRecord: Equatable, Sendable {
    public var zxid: Int64
    public var payload: [UInt8]
    /// The format version of the file the record was read from (`LogFormat.version` for records being appended).
    /// The log itself treats every version alike; the version tells the caller which payload encoding the writer
    /// used: 1 for builds that logged ZooKeeper's Jute txn layout, 2 for Warren's compact txn encoding.
    public var fileVersion: UInt32

    public init(zxid: Int64, payload: [UInt8], fileVersion: UInt32 = LogFormat.version) {
        self.zxid = zxid
        self.payload = payload
        self.fileVersion = fileVersion
    }
}

/// The byte layout of a log file, and a scanner that classifies its contents. Pure: works on bytes in memory.
///
/// File: a 16-byte header (magic "WTXL", version, the zxid of the first record, which the file name repeats),
/// then records back to back. Record: a 20-byte header, then the payload:
///
///     length  UInt32  payload bytes
///     zxid    Int64
///     crc     UInt32  CRC-32 of length, zxid and payload
///     hcrc    UInt32  CRC-32 of the 16 bytes before it
///
/// All integers are big-endian. The separate header checksum lets the scanner trust a length before reading the
/// payload, so an incomplete payload at the end (a torn write) is told apart from a damaged length field.
public enum LogFormat {
    static let magic: UInt32 = 0x5754_584C  // "WTXL"
    /// Written into new files. Versions 1 and 2 have the same layout; the number only tells readers which payload
    /// encoding the writer used (see `LogRecord.fileVersion`). A log directory may hold both after an upgrade.
    public static let version: UInt32 = 2
    static let versionsReadable: ClosedRange<UInt32> = 1...2
    static let fileHeaderBytes = 16
    static let recordHeaderBytes = 20
    /// The length field is 32 bits; keep well inside it.
    static let payloadBytesMax = Int(Int32.max)
    static let filePrefix = "log"

    static func fileHeader(firstZxid: Int64, version: UInt32 = version) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fileHeaderBytes)
        BigEndian.append(magic, to: &bytes)
        BigEndian.append(version, to: &bytes)
        BigEndian.append(firstZxid, to: &bytes)
        return bytes
    }

    static func encodedBytes(_ record: LogRecord) -> Int { recordHeaderBytes + record.payload.count }

    static func append(_ record: LogRecord, to bytes: inout [UInt8]) {
        let start = bytes.count
        BigEndian.append(UInt32(record.payload.count), to: &bytes)
        BigEndian.append(record.zxid, to: &bytes)
        let headerPart = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<start + 12])) }
        let crc = record.payload.withUnsafeBytes { CRC32.update(headerPart, $0) }
        BigEndian.append(crc, to: &bytes)
        let hcrc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<start + 16])) }
        BigEndian.append(hcrc, to: &bytes)
        bytes.append(contentsOf: record.payload)
    }

    /// Where one verified record sits in the scanned bytes.
    struct Located {
        var zxid: Int64
        var offset: Int
        var payload: Range<Int>
        var end: Int { payload.upperBound }
    }

    enum Tail: Equatable {
        /// The file ends exactly after its last record.
        case clean
        /// From `offset` on the bytes are an incomplete record or zero fill, described by `reason`.
        case torn(offset: Int, reason: String)
    }

    struct Scan {
        var records: [Located]
        var tail: Tail
        /// Where the verified data ends: the file's length if clean, else the torn offset.
        var validEnd: Int
        /// The version in the file header (0 when the header itself was torn).
        var fileVersion: UInt32 = 0
    }

    /// Verifies a whole log file and locates its records.
    ///
    /// A torn tail (short header, short payload, a partly written header followed only by zeros, or zero fill) is
    /// returned as `.torn` when `tornTailAllowed`, which the caller grants only for the newest file on open; anywhere
    /// else it is `corruptRecord`. A complete record or record header whose checksum fails is always
    /// `corruptRecord`; a zxid not above its predecessor is `zxidOrder`; a header that is not ours is `badFile`.
    static func scan(_ bytes: [UInt8], file: String, nameZxid: Int64, tornTailAllowed: Bool) throws -> Scan {
        try bytes.withUnsafeBytes { raw in
            let n = raw.count
            var records: [Located] = []
            var fileVersion: UInt32 = 0
            func torn(_ offset: Int, _ zxid: Int64?, _ reason: String) throws -> Scan {
                guard tornTailAllowed else { throw StorageError.corruptRecord(file: file, offset: Int64(offset), zxid: zxid) }
                return Scan(records: records, tail: .torn(offset: offset, reason: reason), validEnd: offset, fileVersion: fileVersion)
            }
            if n < fileHeaderBytes { return try torn(0, nil, "file header incomplete (\(n) bytes)") }
            if isAllZero(raw, 0..<n) { return try torn(0, nil, "file is \(n) zero bytes") }
            fileVersion = try checkFileHeader(raw, file: file, nameZxid: nameZxid)

            var offset = fileHeaderBytes
            var previous: Int64?
            while offset < n {
                let remaining = n - offset
                if isAllZero(raw, offset..<n) { return try torn(offset, nil, "\(remaining) zero bytes at the end") }
                if remaining < recordHeaderBytes {
                    return try torn(offset, nil, "record header incomplete (\(remaining) of \(recordHeaderBytes) bytes)")
                }
                let length = Int(BigEndian.uint32(raw, at: offset))
                let zxid = BigEndian.int64(raw, at: offset + 4)
                let crc = BigEndian.uint32(raw, at: offset + 12)
                let hcrc = BigEndian.uint32(raw, at: offset + 16)
                if CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + 16])) != hcrc {
                    // A header cut short by a crash is followed only by unwritten (zero) space.
                    if isAllZero(raw, offset + recordHeaderBytes..<n) {
                        return try torn(offset, nil, "record header partly written")
                    }
                    throw StorageError.corruptRecord(file: file, offset: Int64(offset), zxid: nil)
                }
                if remaining - recordHeaderBytes < length {
                    return try torn(offset, zxid, "record 0x\(String(zxid, radix: 16)) incomplete "
                        + "(\(remaining - recordHeaderBytes) of \(length) payload bytes)")
                }
                let payload = offset + recordHeaderBytes..<offset + recordHeaderBytes + length
                let headerPart = CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[offset..<offset + 12]))
                guard CRC32.update(headerPart, UnsafeRawBufferPointer(rebasing: raw[payload])) == crc else {
                    if endsInUnwrittenSectors(raw, record: offset..<payload.upperBound) {
                        return try torn(offset, zxid, "record 0x\(String(zxid, radix: 16)) partly written "
                            + "(its last sectors are still the preallocated zeros)")
                    }
                    throw StorageError.corruptRecord(file: file, offset: Int64(offset), zxid: zxid)
                }
                if let previous {
                    guard zxid > previous else {
                        throw StorageError.zxidOrder(file: file, offset: Int64(offset), previous: previous, zxid: zxid)
                    }
                } else if zxid != nameZxid {
                    throw StorageError.badFile(file: file, reason: "first record is zxid 0x\(String(zxid, radix: 16)), "
                        + "the file name says 0x\(String(nameZxid, radix: 16))")
                }
                previous = zxid
                records.append(Located(zxid: zxid, offset: offset, payload: payload))
                offset = payload.upperBound
            }
            return Scan(records: records, tail: .clean, validEnd: n, fileVersion: fileVersion)
        }
    }

    /// The disk's unit of atomic writes: a crash persists whole sectors or none.
    static let sectorBytes = 512

    /// True when the record's bytes from some sector boundary inside it on, and everything after it, are zero: the
    /// shape a crash leaves when the first sectors of the last record reached a preallocated (zero-filled) file and
    /// the rest did not. A flipped bit leaves no such zero run, so it stays `corruptRecord`.
    private static func endsInUnwrittenSectors(_ raw: UnsafeRawBufferPointer, record: Range<Int>) -> Bool {
        var lastNonZero = raw.count - 1
        while lastNonZero >= record.lowerBound && raw[lastNonZero] == 0 { lastNonZero -= 1 }
        let firstZeroSector = (lastNonZero + 1 + sectorBytes - 1) / sectorBytes * sectorBytes
        return lastNonZero < record.upperBound && firstZeroSector < record.upperBound
    }

    /// Returns the file's format version.
    private static func checkFileHeader(_ raw: UnsafeRawBufferPointer, file: String, nameZxid: Int64) throws -> UInt32 {
        let magicFound = BigEndian.uint32(raw, at: 0)
        guard magicFound == magic else {
            throw StorageError.badFile(file: file, reason: "not a Warren log (magic 0x\(String(magicFound, radix: 16)))")
        }
        let versionFound = BigEndian.uint32(raw, at: 4)
        guard versionsReadable.contains(versionFound) else {
            throw StorageError.badFile(file: file, reason: "unsupported log version \(versionFound)")
        }
        let headerZxid = BigEndian.int64(raw, at: 8)
        guard headerZxid == nameZxid else {
            throw StorageError.badFile(file: file, reason: "header says first zxid 0x\(String(headerZxid, radix: 16))")
        }
        return versionFound
    }
}
