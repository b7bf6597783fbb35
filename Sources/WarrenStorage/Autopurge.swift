/// Settings like ZooKeeper's `autopurge.snapRetainCount` and `autopurge.purgeInterval`. The server schedules the
/// purges (storage keeps no timers); each one calls `Autopurge.purge`.
public struct AutopurgeConfig: Equatable, Sendable {
    /// Fewer retained snapshots would leave no fallback when the newest is damaged.
    public static let snapRetainCountMin = 3

    public let snapRetainCount: Int
    /// Hours between purges; 0 disables autopurge.
    public let purgeIntervalHours: Int
    /// Why a setting was changed (a retain count below the minimum is raised to it, as ZooKeeper does).
    public let warnings: [String]

    public init(snapRetainCount: Int = AutopurgeConfig.snapRetainCountMin, purgeIntervalHours: Int = 0) {
        var warnings: [String] = []
        if snapRetainCount < Self.snapRetainCountMin {
            warnings.append("autopurge.snapRetainCount \(snapRetainCount) is below the minimum; using \(Self.snapRetainCountMin)")
        }
        if purgeIntervalHours < 0 {
            warnings.append("autopurge.purgeInterval \(purgeIntervalHours) is negative; autopurge disabled")
        }
        self.snapRetainCount = max(snapRetainCount, Self.snapRetainCountMin)
        self.purgeIntervalHours = max(purgeIntervalHours, 0)
        self.warnings = warnings
    }

    public var isEnabled: Bool { purgeIntervalHours > 0 }
    public var intervalSeconds: Int64 { Int64(purgeIntervalHours) * 3600 }
}

public struct PurgeReport: Equatable, Sendable {
    public var removedSnapshots: [String]
    public var removedLogFiles: [String]
    /// The oldest snapshot kept; the log keeps every record after it.
    public var oldestRetainedZxid: Int64?
}

public enum Autopurge {
    /// Keeps the newest `retain` snapshots (at least 3, whatever is passed) and the log files holding records after the oldest of
    /// them; deletes the rest. Snapshots go first, so a crash in between only leaves extra log files. With no
    /// snapshot, no log file is deleted. Safe while the log is being appended to and a snapshot is being written.
    public static func purge(snapshots: SnapshotStore, log: TxnLog, retain: Int) throws -> PurgeReport {
        let (removedSnapshots, oldest) = try snapshots.purge(retain: retain)
        let removedLogs = try oldest.map { try log.removeFiles(notNeededAfter: $0) } ?? []
        return PurgeReport(removedSnapshots: removedSnapshots, removedLogFiles: removedLogs, oldestRetainedZxid: oldest)
    }
}
