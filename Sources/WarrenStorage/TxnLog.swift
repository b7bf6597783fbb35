import Foundation

/// Counters for `mntr`/`srvr`. Read them at any time from any thread through `TxnLog.stats`.
public struct TxnLogStats: Equatable, Sendable {
    /// Bytes handed to the operating system (headers included) since the log was opened.
    public var bytesWritten: UInt64 = 0
    /// Data syncs performed by `sync()` and by rolling to a new file.
    public var fsyncCount: UInt64 = 0
    /// Wall time of the most recent `sync()` that wrote anything, and the longest one, in nanoseconds.
    public var lastFsyncNanos: UInt64 = 0
    public var maxFsyncNanos: UInt64 = 0
    /// Log files in the directory, the one being written included.
    public var logFileCount: Int = 0
    /// The zxid of the last record appended (0 for an empty log).
    public var lastZxid: Int64 = 0
    /// Files whose zero-filled runway could not be extended (a full disk, say); they grow as written instead.
    public var runwayFailures: Int = 0
}

/// The append-only transaction log: files `log.<hex zxid of first record>` in one directory.
///
/// Durability contract, in the order a server must follow it:
/// 1. `append` a group of records (they are buffered, maybe written, not yet durable);
/// 2. `sync()` once for the whole group (flush, `fdatasync`, and a directory fsync if a file was created);
/// 3. only after `sync()` returns, acknowledge the group.
///
/// If any write, sync or truncate fails, that error is thrown once and every later mutating call throws
/// `StorageError.logFailed(cause:)`: after a failed fsync nobody can tell which earlier bytes reached the disk, so
/// the server must stop acknowledging writes. Reopening the log re-reads and verifies the files; a full disk
/// (ENOSPC, EDQUOT) is the one failure the log can leave in place, with `resumeAfterFullDisk()`.
///
/// Opening the log repairs a torn tail in the newest file (see `open`). Appends always go to a new file after open,
/// after `roll()` (call it when a snapshot is taken), after `truncate(after:)`, and when the current file would
/// exceed `logFileBytesMax` or holds `logFileRecordsMax` records. A file is fsynced before the next one is created,
/// so only the newest file can ever hold a torn tail.
///
/// The file being appended to is zero-filled ahead of its data (`Options.runwayBytes`): an `fdatasync` that only
/// overwrites blocks already written need not commit a file-size change to the file system's journal, and is
/// markedly cheaper (ext4 here: 113 vs 187 µs alone, 229 vs 300 µs with three servers syncing at once). A file is
/// cut back to its data when it is rolled or closed and when the log is truncated; after a crash the newest file
/// ends in zero fill, which open treats as a torn tail, like the unwritten space some file systems show.
///
/// Thread safety: every method may be called from any thread; calls are serialized by an internal lock, and `stats`
/// has its own lock so monitoring never waits for an fsync.
public final class TxnLog: @unchecked Sendable {
    public struct Options: Sendable {
        /// Roll to a new file before a record would make the current one larger than this.
        public var logFileBytesMax: Int64
        /// Roll to a new file after this many records.
        public var logFileRecordsMax: Int
        /// Appended bytes are collected up to this size before a `write` call.
        public var writeBufferBytes: Int
        /// The current file is zero-filled ahead of its data to the next multiple of this many bytes; 0 turns
        /// preallocation off. At most this much disk space is held beyond the data.
        public var runwayBytes: Int
        var faults: FaultInjector?

        public init(logFileBytesMax: Int64 = 64 << 20, logFileRecordsMax: Int = 100_000, writeBufferBytes: Int = 256 << 10,
                    runwayBytes: Int = 1 << 20) {
            precondition(logFileBytesMax > 0 && logFileRecordsMax > 0 && writeBufferBytes > 0 && runwayBytes >= 0,
                         "bad TxnLog options: \(logFileBytesMax) bytes, \(logFileRecordsMax) records, \(writeBufferBytes) buffer, "
                         + "\(runwayBytes) runway")
            self.logFileBytesMax = logFileBytesMax
            self.logFileRecordsMax = logFileRecordsMax
            self.writeBufferBytes = writeBufferBytes
            self.runwayBytes = runwayBytes
        }
    }

    struct FileEntry: Equatable {
        var name: String
        var zxid: Int64
    }

    struct Current {
        var file: PosixFile
        /// The data's length, buffered bytes included.
        var bytes: Int64
        var records: Int
        /// The file's length on disk: the written data plus the zero-filled runway after it.
        var allocated: Int64 = 0
        /// Zero-filling failed once (a full disk, say); this file is not preallocated any further.
        var runwayFailed = false
        /// The data's length and records as of the last successful sync of this file (0 before its first): what
        /// `resumeAfterFullDisk` cuts the file back to.
        var syncedBytes: Int64 = 0
        var syncedRecords = 0
    }

    public let directory: String
    /// What `open` repaired (torn tails truncated, empty files removed), one line each; empty when nothing was.
    public let recoveryReport: [String]
    let options: Options

    // State below is guarded by `lock`; the extensions in TxnLog+*.swift use it with the lock held.
    let lock = NSLock()
    var files: [FileEntry]  // ascending zxid; the current file is last
    var current: Current?
    var buffer: [UInt8] = []
    var last: Int64
    /// The last zxid known durable (synced, or found on open).
    var syncedLast: Int64
    var unsynced = false
    var directoryDirty = false
    var failure: StorageError?
    var isClosed = false

    private let statsLock = NSLock()
    private var statsValue = TxnLogStats()

    /// Opens (creating if needed) the log in `directory` and repairs a torn tail of the newest file: an incomplete
    /// final record or zero fill is truncated away, and a newest file left with no record is removed; each repair
    /// is a line in `recoveryReport`. Throws `corruptRecord`, `zxidOrder` or `badFile` for damage it must not
    /// repair, and `io` for system call failures.
    public static func open(directory: String, options: Options = Options()) throws -> TxnLog {
        let recovered = try LogOpening.recover(directory: directory, faults: options.faults)
        return TxnLog(directory: directory, options: options, recovered: recovered)
    }

    private init(directory: String, options: Options, recovered: LogOpening.Result) {
        self.directory = directory
        self.options = options
        self.files = recovered.files
        self.last = recovered.lastZxid
        self.syncedLast = recovered.lastZxid
        self.recoveryReport = recovered.report
        statsValue.logFileCount = recovered.files.count
        statsValue.lastZxid = recovered.lastZxid
    }

    deinit {
        // No sync: anything not synced was never acknowledged.
        current?.file.close()
    }

    public var stats: TxnLogStats { statsLock.locked { statsValue } }

    /// The zxid of the last record appended or found on open; 0 for an empty log.
    public var lastZxid: Int64 { lock.locked { last } }

    /// The first zxid the log still holds (the oldest file's first record), nil if empty. A leader can serve a
    /// DIFF from zxid `z` only if `z >= oldestZxid - 1`; `readRecords(after:)` throws `zxidOrder` otherwise.
    public var oldestZxid: Int64? { lock.locked { files.first?.zxid } }

    /// Names of the log files, oldest first.
    public var fileNames: [String] { lock.locked { files.map(\.name) } }

    /// Buffers `records` for writing. Zxids must be positive and strictly increasing, starting above `lastZxid`;
    /// otherwise nothing is written and `appendOutOfOrder` (or `recordTooLarge`) is thrown. Gaps are allowed here
    /// (a snapshot may cover them) and are caught by `readRecords(after:)`. Nothing is durable until `sync()`.
    public func append(_ records: [LogRecord]) throws {
        try lock.locked {
            try checkUsable()
            var previous = last
            for record in records {
                guard record.zxid > previous, record.zxid > 0 else {
                    throw StorageError.appendOutOfOrder(previous: previous, zxid: record.zxid)
                }
                guard record.payload.count <= LogFormat.payloadBytesMax else {
                    throw StorageError.recordTooLarge(zxid: record.zxid, bytes: record.payload.count)
                }
                previous = record.zxid
            }
            try failing { try write(records) }
        }
    }

    /// Makes everything appended so far durable: writes the buffer, `fdatasync`s the current file and, if a log
    /// file was created since the last sync, fsyncs the directory. Returns without I/O when nothing is pending.
    /// Acknowledge the appended records only after this returns.
    public func sync() throws {
        try lock.locked {
            try checkUsable()
            guard unsynced || directoryDirty else { return }
            let start = ContinuousClock.now
            try failing {
                try flushBuffer()
                if unsynced, let current { try current.file.dataSync() }
                if directoryDirty { try Directory.sync(directory, faults: options.faults) }
            }
            unsynced = false
            directoryDirty = false
            syncedLast = last
            if let c = current {
                current!.syncedBytes = c.bytes
                current!.syncedRecords = c.records
            }
            let nanos = Self.nanoseconds(ContinuousClock.now - start)
            updateStats {
                $0.fsyncCount += 1
                $0.lastFsyncNanos = nanos
                $0.maxFsyncNanos = max($0.maxFsyncNanos, nanos)
            }
        }
    }

    /// Closes the current file after making it durable; the next append starts a new file. Call it when a snapshot
    /// is taken, so that log files line up with snapshots and old ones can be purged.
    public func roll() throws {
        try lock.locked {
            try checkUsable()
            try failing { try rollCurrent() }
        }
    }

    /// Makes pending appends durable and closes the log. Later calls throw `closed`. Closing a failed log only
    /// releases its file.
    public func close() throws {
        try lock.locked {
            guard !isClosed else { return }
            defer {
                current?.file.close()
                current = nil
                isClosed = true
            }
            if failure == nil { try failing { try rollCurrent() } }
        }
    }

    // MARK: - Internals shared with the other TxnLog files (call with `lock` held)

    func checkUsable() throws {
        if isClosed { throw StorageError.closed }
        if let failure { throw StorageError.logFailed(cause: failure) }
    }

    /// Runs `body`; a StorageError from it marks the log failed before it is rethrown.
    func failing(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as StorageError {
            failure = error
            throw error
        }
    }

    func updateStats(_ body: (inout TxnLogStats) -> Void) { statsLock.locked { body(&statsValue) } }

    private func write(_ records: [LogRecord]) throws {
        for record in records {
            let size = Int64(LogFormat.encodedBytes(record))
            if let current, current.records > 0,
               current.bytes + size > options.logFileBytesMax || current.records >= options.logFileRecordsMax {
                try rollCurrent()
            }
            if current == nil { try startFile(firstZxid: record.zxid) }
            LogFormat.append(record, to: &buffer)
            current!.bytes += size
            current!.records += 1
            last = record.zxid
            unsynced = true
            if buffer.count >= options.writeBufferBytes { try flushBuffer() }
        }
        let lastZxid = last
        updateStats { $0.lastZxid = lastZxid }
    }

    private func startFile(firstZxid: Int64) throws {
        let name = ZxidFileName.make(prefix: LogFormat.filePrefix, zxid: firstZxid)
        let file = try PosixFile.create(Directory.join(directory, name), faults: options.faults)
        current = Current(file: file, bytes: Int64(LogFormat.fileHeaderBytes), records: 0)
        files.append(FileEntry(name: name, zxid: firstZxid))
        directoryDirty = true
        buffer.append(contentsOf: LogFormat.fileHeader(firstZxid: firstZxid))
        let count = files.count
        updateStats { $0.logFileCount = count }
    }

    func flushBuffer() throws {
        guard !buffer.isEmpty, let current else { return }
        try current.file.writeAll(buffer)
        let written = UInt64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
        updateStats { $0.bytesWritten += written }
        guard options.runwayBytes > 0, !current.runwayFailed, current.bytes >= current.allocated else { return }
        do {
            try extendRunway()
        } catch {
            // Preallocation only makes syncs cheaper: a disk too full for the runway still takes the data, so the
            // log stays usable and this file grows as it is written. Zeros that did get written are cut off again.
            try? current.file.truncate(to: current.bytes)
            self.current!.allocated = current.bytes
            self.current!.runwayFailed = true
            updateStats { $0.runwayFailures += 1 }
        }
    }

    private static let zeroChunk = [UInt8](repeating: 0, count: 64 << 10)

    /// Zero-fills the current file from the end of its data to the next multiple of `runwayBytes`. The fill
    /// reaches the disk with the next sync, which pays for the size change once per runway instead of every time.
    private func extendRunway() throws {
        guard let c = current else { return }
        let runway = Int64(options.runwayBytes)
        let end = (c.bytes / runway + 1) * runway
        var offset = c.bytes
        while offset < end {
            let n = Int(min(Int64(Self.zeroChunk.count), end - offset))
            try c.file.pwriteAll(n == Self.zeroChunk.count ? Self.zeroChunk : Array(Self.zeroChunk[0..<n]), at: offset)
            offset += Int64(n)
        }
        current!.allocated = end
    }

    /// Cuts the current file back to its data (the runway after it goes). Not synced: the caller syncs, or a crash
    /// leaves zero fill that open removes.
    func trimRunway() throws {
        guard let c = current, c.allocated > c.bytes else { return }
        try c.file.truncate(to: c.bytes)
        current!.allocated = c.bytes
    }

    /// Writes, syncs and closes the current file (and the directory if it changed), so every file but the newest
    /// is complete on disk before the next one exists.
    private func rollCurrent() throws {
        guard let current else { return }
        try flushBuffer()
        try trimRunway()
        try current.file.dataSync()
        if directoryDirty { try Directory.sync(directory, faults: options.faults) }
        current.file.close()
        self.current = nil
        unsynced = false
        directoryDirty = false
        syncedLast = last
        updateStats { $0.fsyncCount += 1 }
    }

    private static func nanoseconds(_ d: Duration) -> UInt64 {
        let (seconds, attoseconds) = d.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
