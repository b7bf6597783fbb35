import CHotPaths
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

/// Snapshot file layout: a 40-byte header, then the payload.
///
///     magic              UInt32  "WSNP"
///     version            UInt32  2 (1: older files, still read)
///     zxid               Int64   repeated in the file name
///     payloadBytes       Int64   uncompressed length
///     compressedBytes    Int64   bytes after the header; the file is exactly header + this
///     payloadCrc         UInt32  CRC-32 of the uncompressed payload
///     headerCrc          UInt32  CRC-32 of the 36 bytes before it
///
/// Version 1: the payload as one zlib stream. Version 2: the payload cut into blocks of at most `blockBytesMax`
/// (written: `blockBytes`), in order, each a 16-byte header and its stored bytes:
///
///     method             UInt32  0: stored as is, 1: one zlib stream
///     rawBytes           UInt32  the block's payload bytes, at least 1
///     storedBytes        UInt32  bytes that follow; equal to rawBytes when stored
///     blockCrc           UInt32  CRC-32 of the block's payload bytes followed by the 12 bytes before it
///
/// The block checksum covers what the block decodes to (the zlib stream has its own Adler-32), so the whole
/// payload's CRC follows from the blocks' with `crc32_combine` instead of a second pass over the payload.
/// Why blocks: a tree snapshot's values are often incompressible (random, or compressed by the client) and cost a
/// deflater its full effort for nothing, while its records compress 5:1. Each block is deflated only when a
/// sample of it shrinks (`SnapshotBlocks`); stored blocks cost the reader one copy (straight from the file into
/// the payload) instead of an inflate.
enum SnapshotFormat {
    static let magic: UInt32 = 0x5753_4E50  // "WSNP"
    /// The version written.
    static let version: UInt32 = 2
    /// One zlib stream; still read.
    static let versionStream: UInt32 = 1
    static let headerBytes = 40
    static let filePrefix = "snapshot"
    static let tempSuffix = ".tmp"
    /// zlib cannot expand data by more than about 1032:1 (stored blocks: 1:1); a header claiming more is damaged.
    static let expansionMax: Int64 = 1040

    struct Header: Equatable {
        var zxid: Int64
        var payloadBytes: Int64
        var compressedBytes: Int64
        var payloadCrc: UInt32
    }

    static func encode(_ h: Header, version: UInt32 = SnapshotFormat.version) -> [UInt8] {
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

    /// Verifies a whole snapshot file held in memory and returns its payload, or the reason it cannot be used.
    static func decode(_ bytes: [UInt8], nameZxid: Int64) -> Result<Snapshot, SnapshotDamage> {
        bytes.withUnsafeBytes { file in
            decode(fileBytes: file.count, nameZxid: nameZxid) { offset, into in
                precondition(offset >= 0 && offset + into.count <= file.count, "read of \(into.count) at \(offset) past \(file.count)")
                into.copyMemory(from: UnsafeRawBufferPointer(rebasing: file[offset..<offset + into.count]))
            }
        }
    }

    /// Verifies a snapshot file of `fileBytes` bytes and returns its payload, or the reason it cannot be used.
    /// `read(offset, into)` fills `into` with the file's bytes at `offset` (always within `fileBytes`), or throws
    /// (a `SnapshotDamage` or an I/O error, reported as damage). Version 2 blocks stored as they are are read
    /// straight into the payload.
    static func decode(fileBytes: Int, nameZxid: Int64,
                       read: (Int, UnsafeMutableRawBufferPointer) throws -> Void) -> Result<Snapshot, SnapshotDamage> {
        do {
            guard fileBytes >= headerBytes else { throw SnapshotDamage("file has \(fileBytes) bytes, less than a header") }
            var raw = [UInt8](repeating: 0, count: headerBytes)
            try raw.withUnsafeMutableBytes { try read(0, $0) }
            let (header, found) = try raw.withUnsafeBytes { raw in
                guard BigEndian.uint32(raw, at: 0) == magic else { throw SnapshotDamage("not a Warren snapshot (bad magic)") }
                let found = BigEndian.uint32(raw, at: 4)
                guard found == version || found == versionStream else { throw SnapshotDamage("unsupported snapshot version \(found)") }
                guard CRC32.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<36])) == BigEndian.uint32(raw, at: 36) else {
                    throw SnapshotDamage("header checksum mismatch")
                }
                return (Header(zxid: BigEndian.int64(raw, at: 8), payloadBytes: BigEndian.int64(raw, at: 16),
                               compressedBytes: BigEndian.int64(raw, at: 24), payloadCrc: BigEndian.uint32(raw, at: 32)), found)
            }
            guard header.zxid == nameZxid else {
                throw SnapshotDamage("header zxid 0x\(String(header.zxid, radix: 16)) differs from the file name")
            }
            guard header.compressedBytes == Int64(fileBytes - headerBytes) else {
                throw SnapshotDamage("file has \(fileBytes - headerBytes) compressed bytes, header says \(header.compressedBytes)")
            }
            guard header.payloadBytes >= 0, header.payloadBytes <= (header.compressedBytes + 64) * expansionMax else {
                throw SnapshotDamage("implausible payload length \(header.payloadBytes)")
            }
            let (payload, crc) = found == versionStream
                ? try decodeStream(header, read: read)
                : try SnapshotBlocks.decode(payloadBytes: Int(header.payloadBytes), fileBytes: fileBytes, read: read)
            guard crc == header.payloadCrc else { throw SnapshotDamage("payload checksum mismatch") }
            return .success(Snapshot(zxid: header.zxid, payload: payload))
        } catch let damage as SnapshotDamage {
            return .failure(damage)
        } catch {
            return .failure(.init("cannot be read: \(error)"))
        }
    }

    /// A version 1 payload, the rest of the file being one zlib stream, and its CRC.
    private static func decodeStream(_ header: Header, read: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws -> ([UInt8], UInt32) {
        let stream = try [UInt8](unsafeUninitializedCapacity: Int(header.compressedBytes)) { buffer, initialized in
            try read(headerBytes, UnsafeMutableRawBufferPointer(buffer))
            initialized = buffer.count
        }
        switch Zlib.decompress(stream, expectedBytes: Int(header.payloadBytes)) {
        case let .failure(why): throw SnapshotDamage(why.description)
        case let .success(payload): return (payload, CRC32.checksum(payload))
        }
    }

    struct SnapshotDamage: Error, Equatable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

/// Version 2's blocks (see `SnapshotFormat`): writing, with the choice between deflating and storing, and verifying.
enum SnapshotBlocks {
    static let methodStored: UInt32 = 0
    static let methodDeflated: UInt32 = 1
    static let headerBytes = 16
    /// The block size written: large enough that headers and per-stream overhead vanish, small enough that a block
    /// straddling compressible records and incompressible values costs little either way.
    static let blockBytes = 1 << 20
    /// The largest block a reader accepts (the scratch buffer of a deflated block is at most this).
    static let blockBytesMax = 64 << 20
    /// Bytes of each block deflated (at level 1) to decide whether the whole block is worth deflating: up to
    /// `sampleCount` pieces of `sampleBytes`, spread evenly over the block.
    static let sampleBytes = 4 << 10
    static let sampleCount = 4

    /// Writes `payload` as version 2 blocks to `sink`; returns the bytes written and the payload's CRC-32. A block
    /// is deflated at `level` when a sample of it shrinks by a tenth and the whole block then does too; otherwise
    /// it is stored as is. Level 0 stores every block.
    static func write(_ payload: UnsafeRawBufferPointer, level: Int32, blockBytes: Int = blockBytes,
                      sink: (UnsafeRawBufferPointer) throws -> Void) throws -> (bytes: Int64, payloadCrc: UInt32) {
        precondition((1...blockBytesMax).contains(blockBytes), "block size \(blockBytes) outside 1...\(blockBytesMax)")
        let deflater = level == 0 ? nil : BlockDeflater(level: level)
        let sampler = BlockDeflater(level: 1)
        let sample = UnsafeMutableRawBufferPointer.allocate(byteCount: sampleBytes * sampleCount, alignment: 16)
        defer { sample.deallocate() }
        var written: Int64 = 0
        var payloadCrc: UInt32 = 0
        var offset = 0
        while offset < payload.count {
            let block = UnsafeRawBufferPointer(rebasing: payload[offset..<min(offset + blockBytes, payload.count)])
            offset += block.count
            var deflated: UnsafeRawBufferPointer?
            if let deflater, worthDeflating(block, sample: sample, sampler: sampler) {
                deflated = deflater.deflate(block, limitBytes: block.count - block.count / 10)
            }
            let stored = deflated ?? block
            let blockCrc = CRC32.checksum(block)
            payloadCrc = CRC32.combine(payloadCrc, blockCrc, count: block.count)
            let header = blockHeader(method: deflated == nil ? methodStored : methodDeflated, rawBytes: block.count,
                                     storedBytes: stored.count, rawCrc: blockCrc)
            try header.withUnsafeBytes { try sink($0) }
            try sink(stored)
            written += Int64(headerBytes + stored.count)
        }
        return (written, payloadCrc)
    }

    /// Whether a sample of `block` shrinks by at least a tenth at level 1.
    private static func worthDeflating(_ block: UnsafeRawBufferPointer, sample: UnsafeMutableRawBufferPointer,
                                       sampler: BlockDeflater) -> Bool {
        var taken = 0
        if block.count <= sample.count {
            return sampler.deflate(block, limitBytes: block.count - block.count / 10) != nil
        }
        let stride = block.count / sampleCount
        for i in 0..<sampleCount {
            let piece = UnsafeRawBufferPointer(rebasing: block[i * stride..<i * stride + sampleBytes])
            UnsafeMutableRawBufferPointer(rebasing: sample[taken..<taken + piece.count]).copyMemory(from: piece)
            taken += piece.count
        }
        return sampler.deflate(UnsafeRawBufferPointer(sample), limitBytes: taken - taken / 10) != nil
    }

    /// A block header; `rawCrc` is the CRC-32 of the block's payload bytes.
    static func blockHeader(method: UInt32, rawBytes: Int, storedBytes: Int, rawCrc: UInt32) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerBytes)
        BigEndian.append(method, to: &bytes)
        BigEndian.append(UInt32(rawBytes), to: &bytes)
        BigEndian.append(UInt32(storedBytes), to: &bytes)
        BigEndian.append(bytes.withUnsafeBytes { CRC32.update(rawCrc, $0) }, to: &bytes)
        return bytes
    }

    typealias Damage = SnapshotFormat.SnapshotDamage

    /// The payload of `payloadBytes` from the blocks that follow the file header, each verified, and its CRC-32;
    /// throws `Damage` for any block that is cut short, fails its checksum, claims impossible lengths or does not
    /// inflate to exactly its length, for too few blocks and for bytes after the last one.
    static func decode(payloadBytes: Int, fileBytes: Int,
                       read: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws -> ([UInt8], UInt32) {
        var outcome: Result<UInt32, Error> = .success(0)
        let payload = [UInt8](unsafeUninitializedCapacity: payloadBytes) { buffer, initialized in
            initialized = payloadBytes  // garbage if decoding fails; the array is then dropped unread
            _ = warren_populate_write(buffer.baseAddress, buffer.count)  // one call, not a fault per page
            outcome = Result { try decode(into: UnsafeMutableRawBufferPointer(buffer), fileBytes: fileBytes, read: read) }
        }
        return (payload, try outcome.get())
    }

    private static func decode(into payload: UnsafeMutableRawBufferPointer, fileBytes: Int,
                               read: (Int, UnsafeMutableRawBufferPointer) throws -> Void) throws -> UInt32 {
        var header = [UInt8](repeating: 0, count: headerBytes)
        var scratch = UnsafeMutableRawBufferPointer(start: nil, count: 0)  // for blocks that are not stored as is
        defer { scratch.deallocate() }
        var fileOffset = SnapshotFormat.headerBytes
        var payloadOffset = 0
        var index = 0
        var payloadCrc: UInt32 = 0
        while payloadOffset < payload.count {
            let remaining = payload.count - payloadOffset
            guard fileBytes - fileOffset >= headerBytes else {
                throw Damage("block \(index) at \(fileOffset) is cut short: the file ends before \(remaining) more payload bytes")
            }
            try header.withUnsafeMutableBytes { try read(fileOffset, $0) }
            fileOffset += headerBytes
            let (method, rawBytes, storedBytes, crc) = header.withUnsafeBytes {
                (BigEndian.uint32($0, at: 0), Int(BigEndian.uint32($0, at: 4)), Int(BigEndian.uint32($0, at: 8)), BigEndian.uint32($0, at: 12))
            }
            guard storedBytes <= fileBytes - fileOffset else {
                throw Damage("block \(index) at \(fileOffset - headerBytes) is cut short: \(storedBytes) bytes, \(fileBytes - fileOffset) left")
            }
            guard rawBytes >= 1, rawBytes <= min(blockBytesMax, remaining) else {
                throw Damage("block \(index) claims \(rawBytes) payload bytes, \(remaining) remain")
            }
            let target = UnsafeMutableRawBufferPointer(rebasing: payload[payloadOffset..<payloadOffset + rawBytes])
            switch method {
            case methodStored:
                guard storedBytes == rawBytes else { throw Damage("stored block \(index) has \(storedBytes) bytes for \(rawBytes)") }
                try read(fileOffset, target)
            case methodDeflated:
                if scratch.count < storedBytes {
                    scratch.deallocate()
                    scratch = .allocate(byteCount: storedBytes, alignment: 16)
                }
                let stored = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<storedBytes])
                try read(fileOffset, stored)
                if let why = Zlib.inflateBlock(UnsafeRawBufferPointer(stored), into: target) { throw Damage("block \(index): \(why)") }
            default:
                throw Damage("block \(index) has unknown method \(method)")
            }
            fileOffset += storedBytes
            let rawCrc = CRC32.checksum(UnsafeRawBufferPointer(target))
            guard header.withUnsafeBytes({ CRC32.update(rawCrc, UnsafeRawBufferPointer(rebasing: $0[0..<12])) }) == crc else {
                throw Damage("block \(index) checksum mismatch")
            }
            payloadCrc = CRC32.combine(payloadCrc, rawCrc, count: rawBytes)
            payloadOffset += rawBytes
            index += 1
        }
        guard fileOffset == fileBytes else { throw Damage("\(fileBytes - fileOffset) bytes after the last block") }
        return payloadCrc
    }
}
