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
/// the server must stop acknowledging writes. Reopening the log re-reads and verifies the files and is the only way
/// back.
///
/// Opening the log repairs a torn tail in the newest file (see `open`). Appends always go to a new file after open,
/// after `roll()` (call it when a snapshot is taken), after `truncate(after:)`, and when the current file would
/// exceed `logFileBytesMax` or holds `logFileRecordsMax` records. A file is fsynced before the next one is created,
/// so only the newest file can ever hold a torn tail.
///
/// Files are not preallocated: each grows as it is written. Zero fill at the end of the newest file (what some
/// file systems show for space that was allocated but never written before a crash) is treated as a torn tail.
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
        var faults: FaultInjector?

        public init(logFileBytesMax: Int64 = 64 << 20, logFileRecordsMax: Int = 100_000, writeBufferBytes: Int = 256 << 10) {
            precondition(logFileBytesMax > 0 && logFileRecordsMax > 0 && writeBufferBytes > 0,
                         "bad TxnLog options: \(logFileBytesMax) bytes, \(logFileRecordsMax) records, \(writeBufferBytes) buffer")
            self.logFileBytesMax = logFileBytesMax
            self.logFileRecordsMax = logFileRecordsMax
            self.writeBufferBytes = writeBufferBytes
        }
    }

    struct FileEntry: Equatable {
        var name: String
        var zxid: Int64
    }

    struct Current {
        var file: PosixFile
        var bytes: Int64
        var records: Int
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
    }

    /// Writes, syncs and closes the current file (and the directory if it changed), so every file but the newest
    /// is complete on disk before the next one exists.
    private func rollCurrent() throws {
        guard let current else { return }
        try flushBuffer()
        try current.file.dataSync()
        if directoryDirty { try Directory.sync(directory, faults: options.faults) }
        current.file.close()
        self.current = nil
        unsynced = false
        directoryDirty = false
        updateStats { $0.fsyncCount += 1 }
    }

    private static func nanoseconds(_ d: Duration) -> UInt64 {
        let (seconds, attoseconds) = d.components
        return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
    }
}
