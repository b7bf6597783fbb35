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
    /// Temp files of staged snapshots still being written, which purge must leave alone (guarded by lock).
    private var stagedNames: Set<String> = []
    /// Numbers the staged files (guarded by lock): a learner can stage the same zxid twice (a sync abandoned and
    /// redone, or one Zab no longer waited for), and dropping the first file must not remove the second.
    private var stagedCount = 0
    var faults: FaultInjector?

    /// Opens the store, creating `directory` if needed. `compressionLevel` is zlib's 0...9 (0: store every block),
    /// or -1 for zlib's default (6). The default, 1, is the fastest: on a tree snapshot's records level 6 saves
    /// about a tenth of their compressed size (a few tenths of a percent of a file dominated by stored values) for
    /// about 8 times the CPU.
    public convenience init(directory: String, compressionLevel: Int32 = Z_BEST_SPEED) throws {
        try self.init(directory: directory, compressionLevel: compressionLevel, faults: nil)
    }

    /// `faults`: a test seam (failing system calls, a simulated disk), set before the directory is first read.
    init(directory: String, compressionLevel: Int32 = Z_BEST_SPEED, faults: FaultInjector?) throws {
        precondition((-1...9).contains(compressionLevel), "zlib compression level \(compressionLevel) out of range")
        self.directory = directory
        self.compressionLevel = compressionLevel
        self.faults = faults
        try Directory.ensure(directory, faults: faults)
        // A SNAP sync staged when the process died (a file as large as the tree): nothing can be writing it now.
        for name in try Directory.list(directory, faults: faults) where name.hasSuffix(StagedSnapshot.suffix) {
            try? Directory.remove(Directory.join(directory, name), faults: faults)
        }
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
            try? Directory.remove(tempPath, faults: faults)  // a leftover from an earlier crash
            let file = try PosixFile.create(tempPath, faults: faults)
            var renamed = false
            defer {
                file.close()
                if !renamed { try? Directory.remove(tempPath, faults: faults) }
            }
            try file.writeAll([UInt8](repeating: 0, count: SnapshotFormat.headerBytes))
            var out = WriteBehind(file: file, offset: Int64(SnapshotFormat.headerBytes))
            let (compressedBytes, payloadCrc) = try payload.withUnsafeBytes { payload in
                try SnapshotBlocks.write(payload, level: compressionLevel) { try out.write($0) }
            }
            let header = SnapshotFormat.Header(zxid: zxid, payloadBytes: Int64(payload.count),
                                               compressedBytes: compressedBytes, payloadCrc: payloadCrc)
            try file.pwriteAll(SnapshotFormat.encode(header), at: 0)
            try file.dataSync()
            try Directory.rename(tempPath, to: finalPath, faults: faults)
            renamed = true
            try Directory.sync(directory, faults: faults)
            return Int64(SnapshotFormat.headerBytes) + compressedBytes
        }
        recordWritten(zxid: zxid, fileBytes: fileBytes, payloadBytes: Int64(payload.count), elapsed: ContinuousClock.now - start)
        return fileBytes
    }

    private func recordWritten(zxid: Int64, fileBytes: Int64, payloadBytes: Int64, elapsed: Duration) {
        statsLock.locked {
            statsValue.snapshotsWritten += 1
            if zxid >= statsValue.lastSnapshotZxid ?? Int64.min {
                statsValue.lastSnapshotZxid = zxid
                statsValue.lastSnapshotFileBytes = fileBytes
                statsValue.lastSnapshotPayloadBytes = payloadBytes
            }
            statsValue.lastWriteNanos = UInt64(elapsed.components.seconds) * 1_000_000_000
                + UInt64(elapsed.components.attoseconds / 1_000_000_000)
        }
    }

    /// Starts writing the snapshot at `zxid` whose `payloadBytes` arrive in pieces (a SNAP sync): see
    /// `StagedSnapshot`. Blocks are stored without compression (`level` 0 by default): a streamed payload has its
    /// values inline, where deflating every block would cost more CPU than the sync's whole transfer; the next
    /// periodic snapshot is compressed as usual.
    public func stage(zxid: Int64, payloadBytes: Int64, level: Int32 = 0) throws -> StagedSnapshot {
        precondition((-1...9).contains(level), "zlib compression level \(level) out of range")
        return try lock.locked {
            stagedCount += 1
            let name = ZxidFileName.make(prefix: SnapshotFormat.filePrefix, zxid: zxid) + ".\(stagedCount)" + StagedSnapshot.suffix
            let path = Directory.join(directory, name)
            let file = try PosixFile.create(path, faults: faults)
            do {
                try file.writeAll([UInt8](repeating: 0, count: SnapshotFormat.headerBytes))
            } catch {
                file.close()
                try? Directory.remove(path, faults: faults)
                throw error
            }
            stagedNames.insert(name)
            return StagedSnapshot(store: self, file: file, name: name, zxid: zxid, payloadBytes: payloadBytes, level: level)
        }
    }

    /// Puts a sealed staged file in place (rename, directory sync) and counts it as written.
    fileprivate func commit(_ staged: StagedSnapshot, fileBytes: Int64, elapsed: Duration) throws {
        try lock.locked {
            defer { stagedNames.remove(staged.name) }
            let finalPath = Directory.join(directory, ZxidFileName.make(prefix: SnapshotFormat.filePrefix, zxid: staged.zxid))
            try Directory.rename(Directory.join(directory, staged.name), to: finalPath, faults: faults)
            try Directory.sync(directory, faults: faults)
        }
        recordWritten(zxid: staged.zxid, fileBytes: fileBytes, payloadBytes: staged.payloadBytes, elapsed: elapsed)
    }

    fileprivate func discard(_ staged: StagedSnapshot) {
        lock.locked {
            stagedNames.remove(staged.name)
            try? Directory.remove(Directory.join(directory, staged.name), faults: faults)
        }
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
                var fileBytes: Int64 = 0
                do {
                    let file = try PosixFile.open(path, writable: false, faults: faults)
                    defer { file.close() }
                    try faults?.check("read", path)
                    fileBytes = try file.size()
                    result = SnapshotFormat.decode(fileBytes: Int(fileBytes), nameZxid: zxid) { offset, into in
                        try SnapshotStore.read(file, at: offset, into: into)
                    }
                } catch {
                    result = .failure(.init("cannot be read: \(error)"))
                }
                switch result {
                case let .success(snapshot):
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
            let n = try file.pread(into: UnsafeMutableRawBufferPointer(rebasing: into[done...]), at: offset + done)
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
            let names = try Directory.list(directory, faults: faults)
            let snapshots = try listSnapshots(names)
            let kept = snapshots.suffix(retain)
            var removed: [String] = []
            let temps = names.filter {
                $0.hasPrefix(SnapshotFormat.filePrefix + ".") && $0.hasSuffix(SnapshotFormat.tempSuffix) && !stagedNames.contains($0)
            }
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
        try (names ?? Directory.list(directory, faults: faults))
            .compactMap { name in ZxidFileName.parse(prefix: SnapshotFormat.filePrefix, name: name).map { (zxid: $0, name: name) } }
            .sorted { $0.zxid < $1.zxid }
    }
}

/// A snapshot file written while its payload arrives, put in place only when the payload is complete and the
/// caller decides to keep it: `append` the payload's bytes in order (any piece sizes), `seal` after the last (the
/// file is then complete and durable under its temp name), `commit` to rename it into place. `discard` (or a
/// crash) at any point leaves no snapshot behind — only a temp file that the next purge or the store's next
/// opening removes.
///
/// One thread at a time (a serial queue); `commit` and `discard` may come from another thread after `seal`.
public final class StagedSnapshot: @unchecked Sendable {
    static let suffix = ".sync" + SnapshotFormat.tempSuffix

    private let store: SnapshotStore
    private let file: PosixFile
    private var out: WriteBehind
    fileprivate let name: String
    public let zxid: Int64
    public let payloadBytes: Int64
    private let level: Int32
    private let started = ContinuousClock.now
    /// Payload bytes not yet written: less than a block, or the tail before `seal`.
    private var block: [UInt8] = []
    private var appended: Int64 = 0
    private var written: Int64 = 0
    private var payloadCrc: UInt32 = 0
    private var state = State.open

    private enum State { case open, sealed, closed }

    fileprivate init(store: SnapshotStore, file: PosixFile, name: String, zxid: Int64, payloadBytes: Int64, level: Int32) {
        self.store = store
        self.file = file
        out = WriteBehind(file: file, offset: Int64(SnapshotFormat.headerBytes))
        self.name = name
        self.zxid = zxid
        self.payloadBytes = payloadBytes
        self.level = level
        block.reserveCapacity(SnapshotBlocks.blockBytes)
    }

    deinit {
        if state != .closed { discard() }
    }

    /// The next payload bytes. Writes every whole block they complete.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(state == .open, "append to a staged snapshot that is \(state)")
        precondition(appended + Int64(bytes.count) <= payloadBytes,
                     "\(appended) + \(bytes.count) bytes staged for a payload of \(payloadBytes)")
        appended += Int64(bytes.count)
        var rest = bytes
        while !rest.isEmpty {
            if block.isEmpty && rest.count >= SnapshotBlocks.blockBytes {
                // Whole blocks straight from the caller's bytes, without a copy.
                let whole = rest.count - rest.count % SnapshotBlocks.blockBytes
                try write(UnsafeRawBufferPointer(rebasing: rest[..<whole]))
                rest = UnsafeRawBufferPointer(rebasing: rest[whole...])
                continue
            }
            let take = min(rest.count, SnapshotBlocks.blockBytes - block.count)
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<take]))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if block.count == SnapshotBlocks.blockBytes {
                try block.withUnsafeBytes { try write($0) }
                block.removeAll(keepingCapacity: true)
            }
        }
    }

    /// After the last payload byte: writes the rest and the header and syncs the file's data.
    public func seal() throws {
        precondition(state == .open, "seal of a staged snapshot that is \(state)")
        precondition(appended == payloadBytes, "seal after \(appended) of \(payloadBytes) payload bytes")
        if !block.isEmpty { try block.withUnsafeBytes { try write($0) } }
        block = []
        let header = SnapshotFormat.Header(zxid: zxid, payloadBytes: payloadBytes, compressedBytes: written,
                                           payloadCrc: payloadCrc)
        try file.pwriteAll(SnapshotFormat.encode(header), at: 0)
        try file.dataSync()
        file.close()
        state = .sealed
    }

    /// Renames the sealed file into place as `snapshot.<zxid>` and syncs the directory: it is then the snapshot
    /// recovery finds.
    public func commit() throws {
        precondition(state == .sealed, "commit of a staged snapshot that is \(state)")
        state = .closed
        try store.commit(self, fileBytes: Int64(SnapshotFormat.headerBytes) + written, elapsed: ContinuousClock.now - started)
    }

    /// Removes the temp file; the store is as if this was never staged.
    public func discard() {
        if state == .open { file.close() }
        state = .closed
        store.discard(self)
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        let (n, crc) = try SnapshotBlocks.write(bytes, level: level) { try out.write($0) }
        payloadCrc = CRC32.combine(payloadCrc, crc, count: bytes.count)
        written += n
    }
}
