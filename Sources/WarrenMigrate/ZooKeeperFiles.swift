import CZlib
import Foundation

/// Why a ZooKeeper or Warren data directory cannot be migrated. Worded for the operator: each names the file and
/// what to do, and none is raised after anything was written to the output.
public struct MigrationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The names and plain-file helpers of a ZooKeeper `version-2` directory: `snapshot.<hex zxid>[.gz|.snappy]`
/// (`Util.makeSnapshotName` plus `SnapStream`'s extension) and `log.<hex zxid of its first txn>`.
public enum ZooKeeperFiles {
    public static let snapshotPrefix = "snapshot"
    public static let logPrefix = "log"

    /// How a snapshot file's bytes are stored, from its name (`zookeeper.snapshot.compression.method`).
    public enum Compression: String, Sendable { case none = "", gz, snappy }

    public struct SnapshotFile: Equatable, Sendable {
        public var path: String
        public var zxid: Int64
        public var compression: Compression
    }

    /// The `version-2` folder ZooKeeper keeps its files in under `dir`, or `dir` itself when it already holds them.
    public static func versionDir(_ dir: String) -> String {
        let inner = (dir as NSString).appendingPathComponent("version-2")
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: inner, isDirectory: &isDir) && isDir.boolValue ? inner : dir
    }

    /// Snapshot files in `dir`, oldest first. Names that do not parse (temp files, other tools') are ignored.
    public static func snapshots(in dir: String) throws -> [SnapshotFile] {
        try names(in: dir).compactMap { name -> SnapshotFile? in
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2 || parts.count == 3, parts[0] == snapshotPrefix,
                  let zxid = Int64(parts[1], radix: 16),
                  let compression = Compression(rawValue: parts.count == 3 ? String(parts[2]) : "") else { return nil }
            return SnapshotFile(path: (dir as NSString).appendingPathComponent(name), zxid: zxid, compression: compression)
        }.sorted { $0.zxid < $1.zxid }
    }

    /// Log files in `dir` as (first zxid, path), oldest first.
    public static func logs(in dir: String) throws -> [(zxid: Int64, path: String)] {
        try names(in: dir).compactMap { name -> (Int64, String)? in
            let parts = name.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == logPrefix, let zxid = Int64(parts[1], radix: 16) else { return nil }
            return (zxid, (dir as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    private static func names(in dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir)
        } catch {
            throw MigrationError("cannot list \(dir): \(error.localizedDescription)")
        }
    }

    /// A whole file's bytes; the allocation is the file's size as the file system reports it.
    public static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else { throw MigrationError("cannot read \(path)") }
        return [UInt8](data)
    }

    /// Adler-32, the checksum ZooKeeper puts on each log record and on a snapshot's seal.
    public static func adler32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var sum = CZlib.adler32(0, nil, 0)
        var offset = 0
        while offset < bytes.count {  // zlib takes a 32-bit length
            let n = min(bytes.count - offset, 1 << 30)
            sum = CZlib.adler32(sum, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset, uInt(n))
            offset += n
        }
        return UInt32(truncatingIfNeeded: sum)
    }

    /// The contents of a gzip file (one or more members, as `GZIPInputStream` reads them). A gzip stream inflates
    /// by at most 1032 to 1, so output beyond that bound of the input is refused as not a real snapshot.
    public static func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
        let limit = input.count * 1032 + 1024
        var out = [UInt8]()
        out.reserveCapacity(min(limit, input.count * 4))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var consumed = 0
        while consumed < input.count {
            var stream = z_stream()
            // 15 window bits plus 16: expect a gzip header and trailer rather than zlib's.
            guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                throw MigrationError("zlib cannot start inflating \(path)")
            }
            defer { inflateEnd(&stream) }
            var status: Int32 = Z_OK
            try input.withUnsafeBytes { raw in
                stream.next_in = UnsafeMutablePointer(mutating: raw.baseAddress!.assumingMemoryBound(to: Bytef.self) + consumed)
                stream.avail_in = uInt(input.count - consumed)
                while status == Z_OK {
                    try chunk.withUnsafeMutableBytes { buf in
                        stream.next_out = buf.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.avail_out = uInt(buf.count)
                        status = inflate(&stream, Z_NO_FLUSH)
                        guard status == Z_OK || status == Z_STREAM_END else {
                            throw MigrationError("\(path) is not a valid gzip stream (zlib status \(status))")
                        }
                        out.append(contentsOf: buf[0..<(buf.count - Int(stream.avail_out))])
                    }
                    guard out.count <= limit else { throw MigrationError("\(path) inflates implausibly far") }
                    if status == Z_OK && stream.avail_in == 0 && stream.avail_out != 0 {
                        throw MigrationError("\(path) is cut off inside its gzip stream")
                    }
                }
            }
            consumed = input.count - Int(stream.avail_in)
        }
        return out
    }
}
