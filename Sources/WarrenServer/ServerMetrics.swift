import CoreMetrics
import WarrenJute

/// Warren's own instruments, recorded through swift-metrics so the server does not know the backend: with
/// `metricsProvider.className` naming the Prometheus provider, `warren server` bootstraps swift-prometheus and these
/// appear on `/metrics`; otherwise they are swift-metrics' no-op handlers.
///
/// Contract: the handles are created on first use, so `MetricsSystem.bootstrap` must run before the server starts.
/// Recording is cheap (an uncontended lock or atomics inside the backend) and never on more than one place per
/// request: the hot path pays one histogram update per completed request that waited in the pipeline.
public enum ServerMetrics {
    /// Seconds one group commit spent in write + fsync of the transaction log (ZooKeeper's `fsynctime`, a summary in
    /// milliseconds there; a histogram in seconds here).
    static let fsync = CoreMetrics.Timer(label: "warren_fsync_seconds")
    /// Transactions made durable by one fsync.
    static let groupCommitBatch = Recorder(label: "warren_group_commit_batch_size", aggregate: true)
    /// Seconds to serialize, compress and write one snapshot.
    static let snapshotWrite = CoreMetrics.Timer(label: "warren_snapshot_write_seconds")

    /// ZooKeeper's `fsynctime` summary (ms): the same fsyncs as `fsync`, in ZooKeeper's name, unit and type.
    public static let fsyncTimeMs = RecentSummary()
    /// ZooKeeper's `snapshottime` summary (ms).
    public static let snapshotTimeMs = RecentSummary()

    /// Records one fsync in both shapes.
    static func recordFsync(nanoseconds: Int64) {
        fsync.recordNanoseconds(nanoseconds)
        fsyncTimeMs.observe(Double(nanoseconds) / 1e6)
    }

    /// Records one snapshot write in both shapes.
    static func recordSnapshot(nanoseconds: Int64) {
        snapshotWrite.recordNanoseconds(nanoseconds)
        snapshotTimeMs.observe(Double(nanoseconds) / 1e6)
    }

    /// Request latency (arrival to reply, monotonic) by opcode name, one timer per opcode made once.
    private static let requestTimers: [Int32: CoreMetrics.Timer] = {
        var timers: [Int32: CoreMetrics.Timer] = [:]
        for op in OpCode.allCases {
            timers[op.rawValue] = CoreMetrics.Timer(label: "warren_request_seconds", dimensions: [("op", opLabel(op))])
        }
        return timers
    }()

    static func recordRequest(_ op: OpCode, ms: Int64) {
        requestTimers[op.rawValue]?.recordMilliseconds(ms)
    }

    /// The label value for `op`: ZooKeeper's request-type names in lower snake case (`get_data`, `create2`, ...).
    static func opLabel(_ op: OpCode) -> String {
        var out = ""
        var previous: Character = "_"
        for ch in "\(op)" {
            if ch.isUppercase && (previous.isLowercase || previous.isNumber) { out += "_" }
            out += ch.lowercased()
            previous = ch
        }
        return out
    }
}
