import Foundation
import WarrenStorage
import WarrenTree

/// What an import did, for the operator.
public struct ImportReport: Sendable {
    public var snapshotFile: String?
    public var snapshotZxid: Int64 = 0
    public var txnsReplayed = 0
    /// ZooKeeper's last applied zxid: the Warren tree's lastProcessedZxid and its snapshot's name.
    public var lastZxid: Int64 = 0
    public var nodes = 0
    public var droppedEphemerals = 0
    public var droppedSessions = 0
    public var outputFile = ""
    public var outputBytes: Int64 = 0
    /// Damaged snapshots skipped and logs cut short, one line each.
    public var warnings: [String] = []
}

/// `warren import`: ZooKeeper's data directory to a Warren one.
public enum ZooKeeperImport {
    /// Loads the newest ZooKeeper snapshot that verifies (falling back past damaged ones, as ZooKeeper does), replays
    /// the logged txns after it up to the last valid one, drops sessions and their ephemerals, and writes the tree
    /// as one Warren snapshot under `outDataDir/version-2`, named by ZooKeeper's last applied zxid. Nothing is
    /// written unless all of that succeeded; an existing non-empty `outDataDir` is refused without `force`.
    ///
    /// - Parameter zookeeperDataLogDir: ZooKeeper's `dataLogDir` when it differs from its `dataDir`.
    public static func run(zookeeperDataDir: String, zookeeperDataLogDir: String? = nil, outDataDir: String,
                           force: Bool = false, progress: Progress = Progress(enabled: false)) throws -> ImportReport {
        try OutputDir.prepare(outDataDir, force: force, flag: "--datadir",
                              inputs: [zookeeperDataDir, zookeeperDataLogDir ?? zookeeperDataDir])
        var report = ImportReport()
        let config = TreeConfig(extendedTypesEnabled: true)
        let snapDir = ZooKeeperFiles.versionDir(zookeeperDataDir)
        let snapshotFiles = try ZooKeeperFiles.snapshots(in: snapDir)
        var tree: DataTree?
        for file in snapshotFiles.reversed() {
            progress.update("reading \(file.path)")
            if file.compression == .snappy {
                throw MigrationError("\(file.path) is snappy-compressed, which this import does not read; restart "
                    + "ZooKeeper with zookeeper.snapshot.compression.method=none (or gz) and let it write a new snapshot")
            }
            do {
                var bytes = try ZooKeeperFiles.read(file.path)
                if file.compression == .gz { bytes = try ZooKeeperFiles.gunzip(bytes, path: file.path) }
                let snapshot = try ZooKeeperSnapshot.decode(bytes, what: file.path) { n in
                    progress.update("reading \(file.path): \(n) znodes")
                }
                tree = try DataTree.migrated(nodes: snapshot.nodes, sessions: snapshot.sessions, zxid: file.zxid, config: config)
                report.snapshotFile = file.path
                report.snapshotZxid = file.zxid
                break
            } catch {
                report.warnings.append("snapshot \(file.path) is unusable (\(error)); falling back to an older one")
            }
        }
        if tree == nil && !snapshotFiles.isEmpty {
            throw MigrationError("no snapshot in \(snapDir) verifies: " + report.warnings.joined(separator: "; "))
        }
        let logDir = ZooKeeperFiles.versionDir(zookeeperDataLogDir ?? zookeeperDataDir)
        let logFiles = try ZooKeeperFiles.logs(in: logDir)
        if snapshotFiles.isEmpty && logFiles.isEmpty {
            // Most likely the wrong directory: importing it would make an empty tree.
            throw MigrationError("no ZooKeeper snapshot in \(snapDir) and no transaction log in \(logDir)")
        }
        let target = tree ?? DataTree(config: config)
        let replayed = try replayLogs(in: logDir, onto: target, after: report.snapshotZxid, report: &report, progress: progress)
        report.txnsReplayed = replayed
        report.lastZxid = target.lastProcessedZxid

        progress.update("writing the Warren snapshot")
        let (nodes, dropped) = target.migratedNodes(droppingEphemerals: true)
        report.nodes = nodes.count
        report.droppedEphemerals = dropped
        report.droppedSessions = target.sessions.count
        let migrated = try DataTree.migrated(nodes: nodes, sessions: [], zxid: report.lastZxid, config: config)
        let store = try SnapshotStore(directory: (outDataDir as NSString).appendingPathComponent("version-2"))
        report.outputBytes = try store.writeSnapshot(zxid: report.lastZxid, payload: migrated.snapshot())
        report.outputFile = (store.directory as NSString).appendingPathComponent("snapshot." + String(report.lastZxid, radix: 16))
        // An ensemble member reads its Zab epochs from these (a standalone server ignores them). The values are
        // what ZooKeeper itself assumes when they are missing: the epoch of the last zxid.
        for name in ["acceptedEpoch", "currentEpoch"] {
            try OutputDir.writeDurably(Array("\(report.lastZxid >> 32)\n".utf8), dir: outDataDir, name: name)
        }
        progress.finish()
        return report
    }

    /// Applies the logged txns after `after`, in zxid order, from the newest log file that starts at or before
    /// `after + 1` on. Stops at the first record that is damaged or out of order, with a warning (later files are
    /// not read past such a hole). A log that starts after `after + 1` within the same epoch would leave
    /// transactions out, so it is an error.
    static func replayLogs(in dir: String, onto tree: DataTree, after: Int64, report: inout ImportReport,
                           progress: Progress) throws -> Int {
        let files = try ZooKeeperFiles.logs(in: dir)
        let first = files.lastIndex { $0.zxid <= after + 1 } ?? 0
        var last = after
        var replayed = 0
        for file in files[first...] {
            let contents = try ZooKeeperLog.read(try ZooKeeperFiles.read(file.path), what: file.path)
            for txn in contents.txns where txn.zxid > after {
                guard txn.zxid > last else {
                    report.warnings.append("\(file.path): zxid 0x\(hex(txn.zxid)) after 0x\(hex(last)); stopped there")
                    return replayed
                }
                let sameEpoch = txn.zxid >> 32 == last >> 32
                if sameEpoch && txn.zxid != last + 1 {
                    let why = "\(file.path): txns 0x\(hex(last + 1))...0x\(hex(txn.zxid - 1)) are missing"
                    guard replayed > 0 else { throw MigrationError(why + " (the logs do not continue the snapshot)") }
                    report.warnings.append(why + "; stopped before them")
                    return replayed
                }
                tree.apply(txn)
                last = txn.zxid
                replayed += 1
                if replayed % 4096 == 0 { progress.update("replayed \(replayed) txns, at zxid 0x\(hex(last))") }
            }
            if let why = contents.stoppedBecause {
                report.warnings.append("transaction log stops early: \(why); the last valid txn is 0x\(hex(last))")
                return replayed
            }
        }
        return replayed
    }

    static func hex(_ zxid: Int64) -> String { String(zxid, radix: 16) }
}
