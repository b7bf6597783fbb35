import CZlib
import Foundation

/// Counters for `mntr`/`srvr`, readable at any time through `SnapshotStore.stats`.
public struct SnapshotStats: Equatable, Sendable {
    public var snapshotsWritten: UInt64 = 0
    /// The newest snapshot written or loaded by this store: its zxid, file size and uncompressed payload size.
    public var lastSnapshotZxid: Int64?
    public var lastSnapshotFileBytes: Int64 = 0
    public var lastSnapshotPayloadBytes: Int64 = 0
    /// Wall time of the last `writeSnapshot`, compression and syncs included, in nanoseconds.
    public var lastWriteNanos: UInt64 = 0
}

/// Compressed snapshots in one directory, as files `snapshot.<hex zxid>` (layout: `SnapshotFormat`).
///
/// Writing is atomic: the snapshot goes to `snapshot.<hex>.tmp`, is fsynced, renamed into place, and the directory
/// is fsynced; a crash leaves either the complete snapshot or none (plus perhaps a temp file, which purge removes).
///
/// Thread safety: a store may be used from several threads at once, e.g. `writeSnapshot` on a background thread
/// while the server goes on. Operations on the files are serialized by an internal lock (a purge waits for a write
/// in progress); `stats` has its own lock and never waits for I/O. Do not point two stores at one directory.
public final class SnapshotStore: @unchecked Sendable {
    public let directory: String
    private let compressionLevel: Int32
    private let lock = NSLock()  // serializes file operations
    private let statsLock = NSLock()
    private var statsValue = SnapshotStats()  // guarded by statsLock
    var faults: FaultInjector?

    /// Opens the store, creating `directory` if needed. `compressionLevel` is zlib's 0...9 (0: store every block),
    /// or -1 for zlib's default (6). The default, 1, is the fastest: on a tree snapshot's records level 6 saves
    /// about a tenth of their compressed size (a few tenths of a percent of a file dominated by stored values) for
    /// about 8 times the CPU.
    public init(directory: String, compressionLevel: Int32 = Z_BEST_SPEED) throws {
        precondition((-1...9).contains(compressionLevel), "zlib compression level \(compressionLevel) out of range")
        self.directory = directory
        self.compressionLevel = compressionLevel
        try Directory.ensure(directory)
    }

    public var stats: SnapshotStats { statsLock.locked { statsValue } }

    /// Durably writes a snapshot of the state after transaction `zxid`, replacing one with the same zxid. When this
    /// returns, the snapshot is on stable storage under its final name; when it throws (`io`), no file by that name
    /// was created (a rename that happened before a failed directory sync may still surface after a crash, which is
    /// harmless: the file is complete). Returns the file's size in bytes.
    @discardableResult
    public func writeSnapshot(zxid: Int64, payload: [UInt8]) throws -> Int64 {
        let start = ContinuousClock.now
        let fileBytes: Int64 = try lock.locked {
            let finalPath = Directory.join(directory, ZxidFileName.make(prefix: SnapshotFormat.filePrefix, zxid: zxid))
            let tempPath = finalPath + SnapshotFormat.tempSuffix
            try? Directory.remove(tempPath)  // a leftover from an earlier crash
            let file = try PosixFile.create(tempPath, faults: faults)
            var renamed = false
            defer {
                file.close()
                if !renamed { try? Directory.remove(tempPath) }
            }
            try file.writeAll([UInt8](repeating: 0, count: SnapshotFormat.headerBytes))
            let (compressedBytes, payloadCrc) = try payload.withUnsafeBytes { payload in
                try SnapshotBlocks.write(payload, level: compressionLevel) { try file.writeAll($0) }
            }
            let header = SnapshotFormat.Header(zxid: zxid, payloadBytes: Int64(payload.count),
                                               compressedBytes: compressedBytes, payloadCrc: payloadCrc)
            try file.pwriteAll(SnapshotFormat.encode(header), at: 0)
            try file.dataSync()
            try Directory.rename(tempPath, to: finalPath)
            renamed = true
            try Directory.sync(directory, faults: faults)
            return Int64(SnapshotFormat.headerBytes) + compressedBytes
        }
        let elapsed = ContinuousClock.now - start
        statsLock.locked {
            statsValue.snapshotsWritten += 1
            if zxid >= statsValue.lastSnapshotZxid ?? Int64.min {
                statsValue.lastSnapshotZxid = zxid
                statsValue.lastSnapshotFileBytes = fileBytes
                statsValue.lastSnapshotPayloadBytes = Int64(payload.count)
            }
            statsValue.lastWriteNanos = UInt64(elapsed.components.seconds) * 1_000_000_000
                + UInt64(elapsed.components.attoseconds / 1_000_000_000)
        }
        return fileBytes
    }

    /// The bytes of the snapshot file `writeSnapshot` would write for `payload` at `zxid`, in memory, and the name
    /// it would have: an online backup (the AdminServer's `snapshot` command) that a dataDir takes as is.
    public static func fileImage(zxid: Int64, payload: [UInt8], compressionLevel: Int32 = Z_BEST_SPEED) throws
        -> (name: String, bytes: [UInt8]) {
        var bytes = [UInt8](repeating: 0, count: SnapshotFormat.headerBytes)
        bytes.reserveCapacity(SnapshotFormat.headerBytes + payload.count / 2)
        let (compressedBytes, payloadCrc) = try payload.withUnsafeBytes { payload in
            try SnapshotBlocks.write(payload, level: compressionLevel) { bytes.append(contentsOf: $0) }
        }
        let header = SnapshotFormat.Header(zxid: zxid, payloadBytes: Int64(payload.count),
                                           compressedBytes: compressedBytes, payloadCrc: payloadCrc)
        bytes.replaceSubrange(0..<SnapshotFormat.headerBytes, with: SnapshotFormat.encode(header))
        return (ZxidFileName.make(prefix: SnapshotFormat.filePrefix, zxid: zxid), bytes)
    }

    /// The newest snapshot that verifies completely (header, lengths, every block or the zlib stream, payload
    /// checksum). Newer ones
    /// that do not verify or cannot be read are skipped, each with a line in `report`; nil if none verifies.
    /// Throws only if the directory cannot be listed.
    public func latestValidSnapshot() throws -> (snapshot: Snapshot?, report: [String]) {
        try lock.locked {
            var report: [String] = []
            for (zxid, name) in try listSnapshots().reversed() {
                let path = Directory.join(directory, name)
                let result: Result<Snapshot, SnapshotFormat.SnapshotDamage>
                do {
                    let file = try PosixFile.open(path, writable: false, faults: faults)
                    defer { file.close() }
                    try faults?.check("read", path)
                    result = SnapshotFormat.decode(fileBytes: Int(try file.size()), nameZxid: zxid) { offset, into in
                        try SnapshotStore.read(file, at: offset, into: into)
                    }
                } catch {
                    result = .failure(.init("cannot be read: \(error)"))
                }
                switch result {
                case let .success(snapshot):
                    let fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int).map { Int64($0) } ?? 0
                    statsLock.locked {
                        statsValue.lastSnapshotZxid = snapshot.zxid
                        statsValue.lastSnapshotFileBytes = fileBytes
                        statsValue.lastSnapshotPayloadBytes = Int64(snapshot.payload.count)
                    }
                    return (snapshot, report)
                case let .failure(damage):
                    report.append("snapshot \(path) is unusable (\(damage)); falling back to an older one")
                }
            }
            return (nil, report)
        }
    }

    /// Fills `into` from the file at `offset`; a file that ends early (it shrank after its size was taken) is
    /// damage, like any other truncation.
    private static func read(_ file: PosixFile, at offset: Int, into: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < into.count {
            let n = pread(file.fd, into.baseAddress! + done, into.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw StorageError.io(op: "read", path: file.path, errno: errno) }
            guard n > 0 else { throw SnapshotFormat.SnapshotDamage("file ends at \(offset + done), before \(offset + into.count)") }
            done += n
        }
    }

    /// Zxids of the snapshot files present, ascending, whether or not they verify.
    public func snapshotZxids() throws -> [Int64] { try lock.locked { try listSnapshots().map(\.zxid) } }

    /// Deletes all but the newest `retain` snapshots (a `retain` below `AutopurgeConfig.snapRetainCountMin` counts
    /// as that minimum) and any leftover temp files, then fsyncs the directory. Returns the deleted paths and the
    /// zxid of the oldest snapshot kept (nil if there is none); log files before that zxid are then no longer needed
    /// (see `Autopurge`).
    public func purge(retain requested: Int) throws -> (removed: [String], oldestRetainedZxid: Int64?) {
        let retain = max(requested, AutopurgeConfig.snapRetainCountMin)
        return try lock.locked {
            let names = try Directory.list(directory)
            let snapshots = try listSnapshots(names)
            let kept = snapshots.suffix(retain)
            var removed: [String] = []
            let temps = names.filter { $0.hasPrefix(SnapshotFormat.filePrefix + ".") && $0.hasSuffix(SnapshotFormat.tempSuffix) }
            for name in snapshots.dropLast(retain).map(\.name) + temps {
                let path = Directory.join(directory, name)
                try Directory.remove(path, faults: faults)
                removed.append(path)
            }
            if !removed.isEmpty { try Directory.sync(directory, faults: faults) }
            return (removed, kept.first?.zxid)
        }
    }

    /// The newest `snapshot.<hex>` file in `directory` by zxid, without opening it or taking the store's lock (for
    /// monitoring: the AdminServer's `last_snapshot`); nil when there is none.
    public static func newestSnapshotName(in directory: String) throws -> (zxid: Int64, name: String)? {
        try Directory.list(directory)
            .compactMap { name in ZxidFileName.parse(prefix: SnapshotFormat.filePrefix, name: name).map { (zxid: $0, name: name) } }
            .max { $0.zxid < $1.zxid }
    }

    private func listSnapshots(_ names: [String]? = nil) throws -> [(zxid: Int64, name: String)] {
        try (names ?? Directory.list(directory))
            .compactMap { name in ZxidFileName.parse(prefix: SnapshotFormat.filePrefix, name: name).map { (zxid: $0, name: name) } }
            .sorted { $0.zxid < $1.zxid }
    }
}
