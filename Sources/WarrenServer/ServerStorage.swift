import WarrenCore
import Foundation
import Logging
import NIOConcurrencyHelpers
import WarrenJute
import WarrenStorage
import WarrenTree

/// A reason the server cannot start, worded for the operator.
struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// What recovery hands the core: the tree as of the last durable transaction, and the session secret.
struct RecoveredServerState {
    var tree: DataTree
    var sessionSecret: UInt64
    /// Ensemble only: logged records after the snapshot, not applied to `tree`.
    var logged: [LogRecord] = []
    /// Log records after the newest snapshot (replayed or, in an ensemble, held for Zab): what the next start
    /// would have to read again if no snapshot is taken before then.
    var recordsSinceSnapshot = 0
}

/// The disk side of the shell: the transaction log with group commit, snapshots and autopurge, laid out like
/// ZooKeeper's (`<dataLogDir>/version-2/log.<zxid>`, `<dataDir>/version-2/snapshot.<zxid>`).
// Sendable: `writer` and `purgeTimer` are set in `startWriter` before any other thread uses them and read
// again only by `stop`; everything else is immutable, thread-safe itself, or in a locked box or serial queue.
final class ServerStorage: @unchecked Sendable {
    let config: ServerConfig
    let logger: Logger
    let logDir: String
    let snapDir: String
    let log: TxnLog
    let snapshots: SnapshotStore
    private var writer: GroupCommitWriter?
    private let snapshotQueue = DispatchQueue(label: "warren-snapshot")
    /// Set while a background snapshot is being written; a snapshot due meanwhile is skipped (as ZooKeeper does),
    /// so a large tree under heavy writes is not serialized back to back, holding one copy per queued snapshot.
    private let snapshotRunning = NIOLockedValueBox(false)
    /// The zxid of the newest snapshot on disk (loaded at recovery or written since).
    private let lastSnapshotZxid = NIOLockedValueBox<Int64>(0)
    /// Transactions after the newest snapshot above which a clean stop writes one more: replaying fewer takes
    /// milliseconds at start, more costs about 2 µs each (measured: 445k records, 1 s).
    static let shutdownSnapshotRecordsMin: Int64 = 10_000
    private var purgeTimer: DispatchSourceTimer?
    /// Runs while the log is failed for want of space (`probeForSpace`).
    private let spaceProbe = NIOLockedValueBox<DispatchSourceTimer?>(nil)
    private var onResumed: () -> Void = {}
    /// Records submitted to the writer and records it reported durable (or lost), for `flush()`.
    let flushCondition = NSCondition()
    var submittedRecords = 0
    var settledRecords = 0

    init(config: ServerConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        logDir = (config.dataLogDir as NSString).appendingPathComponent("version-2")
        snapDir = (config.dataDir as NSString).appendingPathComponent("version-2")
        for dir in [logDir, snapDir] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let logDir = self.logDir
        log = try Self.explained { try TxnLog.open(directory: logDir) }
        for line in log.recoveryReport { logger.warning("transaction log repaired: \(line)") }
        snapshots = try SnapshotStore(directory: snapDir)
    }

    /// Rewords storage faults that stop start-up so the operator learns what is wrong and what to do.
    static func explained<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StorageError {
            switch error {
            case .corruptRecord, .zxidOrder, .badFile:
                throw StartupError(
                    "transaction log is corrupt (\(error)); refusing to start rather than lose or invent "
                        + "transactions. Restore the data directory from a backup or a replica.")
            default:
                throw error
            }
        }
    }

    /// The txn a log record holds, in the payload encoding its file's version says: version 1 files (older builds)
    /// hold ZooKeeper's Jute txn layout with the zxid inside, which must match the record's; later ones the compact
    /// encoding (`Txn.compactBytes()`), which takes the record's zxid.
    static func txn(in record: LogRecord, logDir: String) throws -> Txn {
        guard record.fileVersion == 1 else { return try Txn(compact: record.payload, zxid: record.zxid) }
        var r = JuteReader(record.payload)
        let txn = try Txn(from: &r)
        guard txn.zxid == record.zxid else {
            throw StorageError.badFile(file: logDir, reason: "record zxid \(record.zxid) holds txn \(txn.zxid)")
        }
        return txn
    }

    /// Newest valid snapshot plus every logged transaction after it, applied in zxid order. A corrupt record
    /// stops start-up with an error that names the file and offset: it is never skipped.
    /// - Parameter applyLog: false for an ensemble member, whose logged txns are applied only once Zab knows them
    ///   committed; they are returned in `logged` instead.
    func recover(applyLog: Bool = true) throws -> RecoveredServerState {
        var tree: DataTree
        let started = ContinuousClock.now
        let state = try Self.explained { try Recovery.load(snapshots: snapshots, log: log) }
        let loadedAt = ContinuousClock.now
        lastSnapshotZxid.withLockedValue { $0 = state.snapshot?.zxid ?? 0 }
        for line in state.report { logger.info("recovery: \(line)") }
        if let snapshot = state.snapshot {
            tree = try DataTree.restore(from: snapshot.payload, config: config.treeConfig)
            logger.info("loaded snapshot", metadata: [
                "zxid": "0x\(String(snapshot.zxid, radix: 16))", "readMs": "\(Self.ms(loadedAt - started))",
                "restoreMs": "\(Self.ms(ContinuousClock.now - loadedAt))",
            ])
        } else {
            tree = DataTree(config: config.treeConfig)
        }
        var replayed = 0
        var logged: [LogRecord] = []
        for record in state.records {
            let txn = try Self.txn(in: record, logDir: logDir)
            if applyLog {
                _ = tree.apply(txn)
                replayed += 1
            } else if record.fileVersion == LogFormat.version {
                logged.append(record)
            } else {
                // Zab replicates compact payloads: a record from an older build's file is re-encoded once here.
                logged.append(LogRecord(zxid: record.zxid, payload: txn.compactBytes()))
            }
        }
        logger.info(
            "recovered",
            metadata: [
                "zxid": "0x\(String(tree.lastProcessedZxid, radix: 16))", "replayed": "\(replayed)",
                "nodes": "\(tree.reportedNodeCount)", "ms": "\(Self.ms(ContinuousClock.now - started))",
            ])
        MallocTuning.returnFreedMemory()  // the snapshot's bytes and the decoded log are garbage now
        let secret = config.isStandalone ? try loadSecret() : Self.ensembleSecret
        return RecoveredServerState(tree: tree, sessionSecret: secret, logged: logged,
                                    recordsSinceSnapshot: state.records.count)
    }

    /// The secret that session passwords derive from; kept in dataDir so sessions survive restarts.
    private func loadSecret() throws -> UInt64 {
        let path = (config.dataDir as NSString).appendingPathComponent("warren.secret")
        if let d = FileManager.default.contents(atPath: path), let s = String(data: d, encoding: .utf8),
            let v = UInt64(s.trimmingCharacters(in: .whitespacesAndNewlines), radix: 16)
        {
            return v
        }
        let v = UInt64.random(in: 1...UInt64.max)
        try String(v, radix: 16).write(toFile: path, atomically: true, encoding: .utf8)
        return v
    }

    /// - Parameters:
    ///   - onFailure: the log failed; called once per refused or lost submission (late reports of a failure that
    ///     a resume has since cleared are dropped here).
    ///   - onResumed: a full disk has room again and the log was made usable (`resumeAfterFullDisk`): writes may
    ///     be accepted again. Only probed for when `resumeWhenSpaceReturns`.
    func startWriter(onDurable: @escaping (Int64) -> Void, onFailure: @escaping (Error) -> Void,
                     resumeWhenSpaceReturns: Bool = false, onResumed: @escaping () -> Void = {}) {
        let log = self.log
        let logger = self.logger
        self.onResumed = onResumed
        let w = GroupCommitWriter(
            write: { records in try log.append(records.map { LogRecord(zxid: $0.zxid, payload: $0.payload) }) },
            sync: { try log.sync() },
            onDurable: { [weak self] zxid, count in
                self?.noteSettled(count)
                onDurable(zxid)
            },
            onFailure: { [weak self] error, lost, epoch in
                guard let self else { return }
                self.noteSettled(lost.count)
                guard epoch == self.writer?.epoch else { return }
                if log.failedForSpace {
                    logger.error("transaction log is out of disk space: refusing writes until there is room again",
                                 metadata: ["error": "\(error)", "unacknowledged": "\(lost.count)", "dataLogDir": "\(self.logDir)"])
                } else {
                    logger.critical("transaction log write failed", metadata: ["error": "\(error)", "unacknowledged": "\(lost.count)"])
                }
                onFailure(error)
                if resumeWhenSpaceReturns { self.probeForSpace() }
            })
        w.start()
        writer = w
        if config.autopurgePurgeIntervalHours > 0 {
            let t = DispatchSource.makeTimerSource(queue: snapshotQueue)
            let interval = DispatchTimeInterval.seconds(config.autopurgePurgeIntervalHours * 3600)
            t.schedule(deadline: .now() + interval, repeating: interval)
            t.setEventHandler { [weak self] in self?.purge() }
            t.resume()
            purgeTimer = t
        }
    }

    func submit(_ records: [GroupCommitWriter.Record]) {
        guard let writer else { return }
        flushCondition.withLock { submittedRecords += records.count }
        writer.submit(records)
    }

    /// Starts (if not running) the once-a-second check that resumes a log that failed for want of space.
    private func probeForSpace() {
        spaceProbe.withLockedValue { probe in
            guard probe == nil else { return }
            let t = DispatchSource.makeTimerSource(queue: snapshotQueue)
            t.schedule(deadline: .now() + Self.spaceProbeInterval, repeating: Self.spaceProbeInterval)
            t.setEventHandler { [weak self] in self?.tryResume() }
            t.resume()
            probe = t
        }
    }

    static let spaceProbeInterval = DispatchTimeInterval.seconds(1)

    /// Free bytes the log's file system must have before writes resume: a new file's runway plus one write buffer,
    /// so the first batch after resuming does not fail again at once.
    static let resumeFreeBytesMin: Int64 = 2 << 20

    /// On the snapshot queue: once the log's file system has room, cut the log back to its durable part and
    /// accept writes again. Stops probing when the log is usable or failed for a reason that is not space.
    private func tryResume() {
        guard let writer else { return }
        if writer.failure != nil {
            guard log.failedForSpace else {
                stopProbing()
                return
            }
            guard let free = Self.freeBytes(logDir), free >= Self.resumeFreeBytesMin else { return }
            let resumed = writer.resume {
                do { try log.resumeAfterFullDisk() } catch {
                    logger.error("cannot resume the transaction log yet", metadata: ["error": "\(error)"])
                    throw error
                }
            }
            guard resumed else { return }
            logger.warning("transaction log has room again: accepting writes",
                           metadata: ["freeBytes": "\(free)", "lastZxid": "0x\(String(log.lastZxid, radix: 16))"])
        }
        stopProbing()
        onResumed()
    }

    private func stopProbing() {
        spaceProbe.withLockedValue { probe in
            probe?.cancel()
            probe = nil
        }
    }

    /// Bytes available to an unprivileged writer on the file system holding `path`; nil if statvfs fails.
    static func freeBytes(_ path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    private func noteSettled(_ count: Int) {
        flushCondition.withLock {
            settledRecords += count
            flushCondition.broadcast()
        }
    }

    /// Blocks until every record submitted so far was written and fsynced (or reported lost).
    func flush() {
        flushCondition.withLock {
            while settledRecords < submittedRecords { flushCondition.wait() }
        }
    }

    /// Starts a new log file on the snapshot queue (before any snapshot queued after this call). The core asks for
    /// it a little before a snapshot falls due: purge deletes only whole files, so with the boundary just before the
    /// snapshot's zxid, the file before it holds nothing that snapshot does not, and goes as soon as that snapshot
    /// is the oldest one kept. Rolling after each snapshot was written put the boundary tens of thousands of records
    /// past it under a heavy load, and those records stayed on disk (12 MB per server at 1M znodes).
    func rollLogSoon() {
        snapshotQueue.async { [self] in
            do { try log.roll() } catch { logger.error("log roll failed", metadata: ["error": "\(error)"]) }
        }
    }

    /// Serializes, compresses and writes a snapshot off the core thread, and purges right away unless zoo.cfg
    /// sets `autopurge.purgeInterval` (see `ServerConfig.purgesAfterSnapshot`). `tree` is a `committedCopy()` at
    /// `zxid`, owned by this queue from now on.
    func snapshotInBackground(zxid: Int64, tree: DataTree) {
        let busy = snapshotRunning.withLockedValue { running -> Bool in
            if running { return true }
            running = true
            return false
        }
        if busy {
            logger.info("previous snapshot still being written; skipping this one",
                        metadata: ["zxid": "0x\(String(zxid, radix: 16))"])
            return
        }
        let handoff = TreeHandoff(tree)
        snapshotQueue.async { [self] in
            LowPriority.run("warren-snapshot") { [self] in writeSnapshot(zxid: zxid, tree: handoff.tree) }
            snapshotRunning.withLockedValue { $0 = false }
        }
    }

    /// Serializes and writes `tree` (a copy at `zxid`) as a snapshot, then purges if configured to. Runs on
    /// `snapshotQueue` or after it has drained.
    ///
    /// No `malloc_trim` afterwards (recovery does one): the buffers a snapshot frees are at least
    /// `MallocTuning.mmapThresholdBytes` and go back to the kernel when freed anyway, while a trim locks each malloc
    /// arena as it walks it — the request threads' allocations waited for it, a write stall of up to a few hundred
    /// milliseconds after each snapshot of a 1M-znode tree.
    private func writeSnapshot(zxid: Int64, tree: DataTree) {
        let started = ContinuousClock.now
        defer { ServerMetrics.recordSnapshot(nanoseconds: Int64((ContinuousClock.now - started) / .nanoseconds(1))) }
        let payload = tree.snapshot()
        do {
            _ = try snapshots.writeSnapshot(zxid: zxid, payload: payload)
            lastSnapshotZxid.withLockedValue { $0 = max($0, zxid) }
            logger.info("snapshot written", metadata: ["zxid": "0x\(String(zxid, radix: 16))", "bytes": "\(payload.count)"])
            if config.purgesAfterSnapshot { purge() }
        } catch {
            logger.error("snapshot failed", metadata: ["zxid": "0x\(String(zxid, radix: 16))", "error": "\(error)"])
        }
    }

    /// Transactions between two zxids: the counter difference within one epoch, else the later epoch's counter.
    static func transactions(after older: Int64, through newer: Int64) -> Int64 {
        newer >> 32 == older >> 32 ? newer - older : newer & 0xFFFF_FFFF
    }

    func purge() {
        do {
            let report = try Autopurge.purge(snapshots: snapshots, log: log, retain: config.autopurgeSnapRetainCount)
            let removed = report.removedSnapshots + report.removedLogFiles
            if !removed.isEmpty { logger.info("autopurge removed \(removed.joined(separator: ", "))") }
        } catch {
            logger.error("autopurge failed: \(error)")
        }
    }

    /// Stops the log writer (everything submitted is written first) and waits for a snapshot in progress. Then,
    /// if `finalSnapshot` (the committed tree at a clean stop) is at least `shutdownSnapshotRecordsMin`
    /// transactions past the newest snapshot on disk (counting, when the epoch changed since, only this epoch's),
    /// writes it, so the next start reads one file instead of replaying the log.
    func stop(finalSnapshot: (zxid: Int64, tree: DataTree)? = nil) {
        purgeTimer?.cancel()
        stopProbing()
        writer?.stop()
        snapshotQueue.sync {}
        let newest = lastSnapshotZxid.withLockedValue { $0 }
        if let finalSnapshot, Self.transactions(after: newest, through: finalSnapshot.zxid) >= Self.shutdownSnapshotRecordsMin {
            let started = ContinuousClock.now
            writeSnapshot(zxid: finalSnapshot.zxid, tree: finalSnapshot.tree)
            logger.info("snapshot at shutdown", metadata: ["ms": "\(Self.ms(ContinuousClock.now - started))"])
        }
        try? log.close()
    }
}

extension ServerStorage {
    /// Whole milliseconds of a duration measured on a monotonic clock (`ContinuousClock`), for log lines: the wall
    /// clock can step while something is being timed.
    static func ms(_ elapsed: Duration) -> Int { Int(elapsed / .milliseconds(1)) }
}
