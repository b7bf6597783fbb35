import Foundation
import Logging
import WarrenJute
import WarrenStorage
import WarrenTree

/// What recovery hands the core: the tree as of the last durable transaction, and the session secret.
struct RecoveredState {
    var tree: DataTree
    var sessionSecret: UInt64
}

/// The disk side of the shell: the transaction log with group commit, snapshots and autopurge, laid out like
/// ZooKeeper's (`<dataLogDir>/version-2/log.<zxid>`, `<dataDir>/version-2/snapshot.<zxid>`).
final class ServerStorage: @unchecked Sendable {
    let config: ServerConfig
    let logger: Logger
    let logDir: String
    let snapDir: String
    let log: TxnLog
    private var writer: GroupCommitWriter?
    private let snapshotQueue = DispatchQueue(label: "warren-snapshot")
    private var purgeTimer: DispatchSourceTimer?

    init(config: ServerConfig, logger: Logger) throws {
        self.config = config
        self.logger = logger
        logDir = (config.dataLogDir as NSString).appendingPathComponent("version-2")
        snapDir = (config.dataDir as NSString).appendingPathComponent("version-2")
        for dir in [logDir, snapDir] {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        log = try TxnLog.open(directory: logDir)
        for line in log.recoveryReport { logger.warning("transaction log repaired: \(line)") }
    }

    var treeConfig: TreeConfig {
        TreeConfig(extendedTypesEnabled: config.extendedTypesEnabled, superDigest: config.superDigest)
    }

    /// Newest valid snapshot plus every logged transaction after it, applied in zxid order. A corrupt record
    /// stops start-up with an error that names the file and offset: it is never skipped.
    func recover() throws -> RecoveredState {
        var tree: DataTree
        let started = Date()
        let snapshot: (zxid: Int64, payload: [UInt8])? = nil  // SNAPSHOT-TODO
        if let snapshot {
            tree = DataTree(config: treeConfig) // SNAPSHOT-TODO restore
            logger.info("loaded snapshot", metadata: ["zxid": "0x\(String(snapshot.zxid, radix: 16))"])
        } else {
            tree = DataTree(config: treeConfig)
        }
        var replayed = 0
        for record in try log.readRecords(after: tree.lastProcessedZxid) {
            var r = JuteReader(record.payload)
            let txn = try Txn(from: &r)
            guard txn.zxid == record.zxid else {
                throw StorageError.badFile(file: logDir, reason: "record zxid \(record.zxid) holds txn \(txn.zxid)")
            }
            _ = tree.apply(txn)
            replayed += 1
        }
        logger.info(
            "recovered",
            metadata: [
                "zxid": "0x\(String(tree.lastProcessedZxid, radix: 16))", "replayed": "\(replayed)",
                "nodes": "\(tree.reportedNodeCount)", "ms": "\(Int(Date().timeIntervalSince(started) * 1000))",
            ])
        return RecoveredState(tree: tree, sessionSecret: try loadSecret())
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

    func startWriter(onDurable: @escaping (Int64) -> Void, onFailure: @escaping (Error) -> Void) {
        let log = self.log
        let logger = self.logger
        let w = GroupCommitWriter(
            write: { records in try log.append(records.map { LogRecord(zxid: $0.zxid, payload: $0.payload) }) },
            sync: { try log.sync() },
            onDurable: { zxid, _ in onDurable(zxid) },
            onFailure: { error, lost in
                logger.critical("transaction log write failed", metadata: ["error": "\(error)", "unacknowledged": "\(lost.count)"])
                onFailure(error)
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
        writer?.submit(records)
    }

    /// Compresses and writes a snapshot off the core thread, then rolls the log so old files can be purged.
    func snapshotInBackground(zxid: Int64, payload: [UInt8]) {
        snapshotQueue.async { [self] in
            do {
                // SNAPSHOT-TODO
                try log.roll()
                logger.info("snapshot written", metadata: ["zxid": "0x\(String(zxid, radix: 16))", "bytes": "\(payload.count)"])
            } catch {
                logger.error("snapshot failed", metadata: ["zxid": "0x\(String(zxid, radix: 16))", "error": "\(error)"])
            }
        }
    }

    func purge() {
        do {
            let removed: [String] = []  // SNAPSHOT-TODO
            if !removed.isEmpty { logger.info("autopurge removed \(removed.count) files") }
        } catch {
            logger.error("autopurge failed: \(error)")
        }
    }

    func stop() {
        purgeTimer?.cancel()
        writer?.stop()
        snapshotQueue.sync {}
        try? log.close()
    }
}
