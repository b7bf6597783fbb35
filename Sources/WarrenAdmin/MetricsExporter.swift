import CoreMetrics
import Foundation
import Prometheus
import WarrenCore
import WarrenServer
import WarrenZab

/// `/metrics`: Prometheus text format 0.0.4 from one swift-prometheus registry, which is also the swift-metrics
/// backend for the instruments Warren records as it runs (`warren_fsync_seconds`, `warren_request_seconds`, ...).
///
/// ZooKeeper's own metrics are gauges in ZooKeeper (`ZooKeeperServer.registerMetrics`) named like mntr's keys
/// without `zk_`; they are set here from the mntr rows at each scrape, so the hot path pays nothing for them and
/// their values are the ones mntr reports at that moment.
// Sendable: the registry is thread-safe itself, `counted` read and written only under `lock`.
public final class MetricsExporter: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The mntr value each counter was last advanced to (under `lock`): scrapes may overlap.
    private var counted: [String: Int64] = [:]
    private let lock = NSLock()

    /// mntr rows that ZooKeeper registers as counters (`ServerMetrics.getCounter`), not gauges.
    static let counters: Set<String> = ["bytes_received_count", "stale_sessions_expired", "proposal_count"]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// A swift-metrics factory over `registry`, with histogram buckets sized for what Warren times: fsyncs and
    /// snapshots (100 µs … 10 s), request latencies (recorded in whole ms: 1 ms … 10 s; 0 ms falls in the first).
    public func metricsFactory() -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        let fine: [Duration] = [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
                                .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
                                .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
                                .seconds(1), .seconds(10)]
        factory.defaultDurationHistogramBuckets = fine
        factory.durationHistogramBuckets["warren_request_seconds"] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(10)]
        factory.valueHistogramBuckets["warren_group_commit_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
        return factory
    }

    /// The metric name for mntr key `key` (without `zk_`), or nil for rows that are not numbers in ZooKeeper's metrics either.
    public static func metricName(forMonitorKey key: String) -> String? {
        if ["zk_version", "zk_server_state", "zk_last_zxid"].contains(key) { return nil }
        let name = key.hasPrefix("zk_") ? String(key.dropFirst(3)) : key
        guard let first = name.unicodeScalars.first, first == "_" || ("a"..."z").contains(first),
              name.unicodeScalars.allSatisfy({ $0 == "_" || ("a"..."z").contains($0) || ("0"..."9").contains($0) })
        else { return nil }
        return name
    }

    static let roles = ["standalone", "leader", "follower", "observer", "looking", "read-only"]

    /// Sets the scrape-time gauges from `facts` and renders the registry.
    public func render(_ facts: ServerFacts) -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        for (key, value) in facts.monitor {
            guard let name = Self.metricName(forMonitorKey: key), let number = Double(value) else { continue }
            if Self.counters.contains(name), let total = Int64(value) {
                advanceCounter(name, "ZooKeeper's \(name) (mntr \(key))", to: total)
                continue
            }
            gauge(name, key.hasPrefix("zk_") ? "ZooKeeper's \(name) (mntr \(key))" : "mntr \(key)").set(number)
        }
        if let e = facts.ensemble {
            // ZooKeeper's quorum_size: the voting members of the configuration.
            gauge("quorum_size", "Voting members of the ensemble").set(Double(e.peers.filter { !$0.isObserver }.count))
            gauge("warren_zab_epoch", "The Zab epoch this server leads or follows (-1 while looking)").set(Double(e.epoch ?? -1))
            gauge("warren_zab_leader_id", "The leader's server id (-1 while looking)").set(Double(e.leaderId ?? -1))
        }
        // One series per role, 1 for the current one: `warren_server_role{role="leader"} == 1` selects leaders.
        for role in Self.roles {
            gauge("warren_server_role", "1 for this server's current role (mntr zk_server_state), 0 for the others",
                  labels: [("role", role)]).set(facts.mode == role ? 1.0 : 0.0)
        }
        gauge("warren_last_processed_zxid", "The last transaction id applied").set(Double(facts.lastProcessedZxid))
        var out = registry.emitToBuffer()
        out += Self.summaryText("fsynctime", ServerMetrics.fsyncTimeMs.snapshot())
        out += Self.summaryText("snapshottime", ServerMetrics.snapshotTimeMs.snapshot())
        return out
    }

    /// A summary as ZooKeeper's Prometheus provider writes its BASIC ones: the median (NaN before any observation,
    /// as its client library prints it), then `_count` and `_sum`, help text equal to the name.
    static func summaryText(_ name: String, _ s: RecentSummary.Snapshot) -> [UInt8] {
        let median = s.median.map { "\($0)" } ?? "NaN"
        let text = "# HELP \(name) \(name)\n# TYPE \(name) summary\n" +
            "\(name){quantile=\"0.5\"} \(median)\n\(name)_count \(s.count)\n\(name)_sum \(s.sum)\n"
        return Array(text.utf8)
    }

    /// Moves a counter to the server's running total: counters only go up, so a total that went down (a restart of
    /// the count, e.g. `srst`) resets the series first, which Prometheus' rate() reads as a counter reset.
    private func advanceCounter(_ name: String, _ help: String, to total: Int64) {
        let counter = registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help))
        let last = counted[name] ?? 0
        if total < last {
            counter.reset()
            counter.increment(by: total)
        } else if total > last {
            counter.increment(by: total - last)
        }
        counted[name] = total
    }

    private func gauge(_ name: String, _ help: String, labels: [(String, String)] = []) -> Prometheus.Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }
}
