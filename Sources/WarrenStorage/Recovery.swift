/// What a server starts from: the newest valid snapshot and the log records after it, in order.
public struct RecoveredState: Equatable, Sendable {
    public var snapshot: Snapshot?
    /// Every logged record after the snapshot's zxid (after 0 without a snapshot), gap-free and verified.
    public var records: [LogRecord]
    /// Repairs and fallbacks that happened (torn tails cut, damaged snapshots skipped), one line each, then a
    /// summary line.
    public var report: [String]

    /// The zxid the recovered state reflects once the records are applied.
    public var lastZxid: Int64 { records.last?.zxid ?? snapshot?.zxid ?? 0 }
}

public enum Recovery {
    /// Loads the newest valid snapshot from `dataDir` and the records after it from the log in `dataLogDir`
    /// (repairing a torn tail, see `TxnLog.open`). The log is closed again; open it afterwards to append.
    ///
    /// Throws rather than returning a state that could be missing acknowledged writes: `corruptRecord`,
    /// `zxidOrder` (including a gap between the snapshot and the first record after it) and `badFile` from the
    /// log; `unrecoverable` when snapshot files exist but none verifies, or when there is no snapshot and the log
    /// does not start at the beginning of an epoch (counter 1).
    public static func load(dataDir: String, dataLogDir: String, logOptions: TxnLog.Options = TxnLog.Options()) throws
        -> RecoveredState {
        let snapshots = try SnapshotStore(directory: dataDir)
        let log = try TxnLog.open(directory: dataLogDir, options: logOptions)
        defer { try? log.close() }
        return try load(snapshots: snapshots, log: log)
    }

    /// The same, from a store and an open log that the caller keeps using.
    public static func load(snapshots: SnapshotStore, log: TxnLog) throws -> RecoveredState {
        let (snapshot, snapshotReport) = try snapshots.latestValidSnapshot()
        if snapshot == nil, !snapshotReport.isEmpty {
            throw StorageError.unrecoverable(reason: "no snapshot in \(snapshots.directory) verifies: "
                + snapshotReport.joined(separator: "; "))
        }
        let records = try log.readRecords(after: snapshot?.zxid ?? 0)
        if snapshot == nil, let first = records.first, first.zxid & 0xFFFF_FFFF != 1 {
            throw StorageError.unrecoverable(reason: "no snapshot, and the log in \(log.directory) starts at zxid "
                + "0x\(String(first.zxid, radix: 16)), not at the start of an epoch")
        }
        var report = snapshotReport + log.recoveryReport
        let from = snapshot.map { "snapshot 0x\(String($0.zxid, radix: 16)) (\($0.payload.count) bytes)" } ?? "no snapshot"
        report.append("recovered from \(from) and \(records.count) log records"
            + (records.last.map { " up to 0x\(String($0.zxid, radix: 16))" } ?? ""))
        return RecoveredState(snapshot: snapshot, records: records, report: report)
    }
}
