import Foundation
import WarrenJute
import WarrenStorage
import WarrenTree

/// What an export did, for the operator.
public struct ExportReport: Sendable {
    public var lastZxid: Int64 = 0
    public var nodes = 0
    public var droppedEphemerals = 0
    public var outputFile = ""
    public var outputBytes = 0
    /// Repairs and fallbacks Warren's recovery made while reading the input.
    public var recovery: [String] = []
}

/// `warren export`: a Warren data directory to a snapshot Apache ZooKeeper starts from, for rollback.
public enum WarrenExport {
    /// Recovers the tree as `warren server` would (newest valid snapshot plus the log after it), drops sessions
    /// and ephemerals, and writes `zookeeperDataDir/version-2/snapshot.<hex lastProcessedZxid>` in ZooKeeper's
    /// uncompressed snapshot format, so ZooKeeper resumes at Warren's last zxid. Warren's recovery cuts a torn log
    /// tail off the input, as starting the server on it would. An existing non-empty output is refused without
    /// `force`.
    public static func run(dataDir: String, dataLogDir: String? = nil, zookeeperDataDir: String, force: Bool = false,
                           progress: Progress = Progress(enabled: false)) throws -> ExportReport {
        let snapDir = (dataDir as NSString).appendingPathComponent("version-2")
        let logDir = ((dataLogDir ?? dataDir) as NSString).appendingPathComponent("version-2")
        for dir in [snapDir, logDir] where !FileManager.default.fileExists(atPath: dir) {
            throw MigrationError("\(dir) does not exist: not a Warren data directory")
        }
        try OutputDir.prepare(zookeeperDataDir, force: force, flag: "--zookeeper-datadir", inputs: [dataDir, dataLogDir ?? dataDir])
        var report = ExportReport()
        progress.update("recovering \(dataDir)")
        let tree: DataTree
        do {
            let state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
            report.recovery = state.report
            tree = try state.snapshot.map { try DataTree.restore(from: $0.payload) } ?? DataTree()
            for (i, record) in state.records.enumerated() {
                tree.apply(try txn(in: record))
                if i % 4096 == 0 { progress.update("replayed \(i) of \(state.records.count) log records") }
            }
        } catch let e as MigrationError {
            throw e
        } catch {
            throw MigrationError("cannot recover the Warren tree in \(dataDir): \(error)")
        }
        progress.update("writing the ZooKeeper snapshot")
        let (nodes, dropped) = tree.migratedNodes(droppingEphemerals: true)
        let bytes = ZooKeeperSnapshot(nodes: nodes).encode()
        let dir = (zookeeperDataDir as NSString).appendingPathComponent("version-2")
        let name = ZooKeeperFiles.snapshotPrefix + "." + String(tree.lastProcessedZxid, radix: 16)
        try OutputDir.writeDurably(bytes, dir: dir, name: name)
        report.lastZxid = tree.lastProcessedZxid
        report.nodes = nodes.count
        report.droppedEphemerals = dropped
        report.outputFile = (dir as NSString).appendingPathComponent(name)
        report.outputBytes = bytes.count
        progress.finish()
        return report
    }

    /// The txn in a Warren log record: version 1 files hold ZooKeeper's Jute layout, later ones Warren's compact one
    /// (see Docs/storage-format.md).
    static func txn(in record: LogRecord) throws -> Txn {
        guard record.fileVersion == 1 else { return try Txn(compact: record.payload, zxid: record.zxid) }
        var r = JuteReader(record.payload)
        return try Txn(from: &r)
    }
}
