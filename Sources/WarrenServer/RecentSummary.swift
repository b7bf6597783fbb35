import NIOConcurrencyHelpers

/// A Prometheus summary in ZooKeeper's shape (`fsynctime`, `snapshottime`: milliseconds, a count, a sum and the
/// median), for series that ZooKeeper dashboards read by those names. swift-prometheus has no summary type, so the
/// exporter renders these itself.
///
/// The median is taken over the last `samplesMax` observations (ZooKeeper's client library uses a ten-minute
/// window instead): bounded memory, and recent enough for a slow disk to show. Recording takes an uncontended lock
/// and is made once per fsync or snapshot, never per request.
public final class RecentSummary: @unchecked Sendable {
    public static let samplesMax = 1024

    public struct Snapshot: Sendable, Equatable {
        public var count: Int64
        public var sum: Double
        /// nil before the first observation.
        public var median: Double?
    }

    private struct State {
        var count: Int64 = 0
        var sum: Double = 0
        var recent: [Double] = []
        var next = 0
    }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public func observe(_ value: Double) {
        state.withLockedValue { s in
            s.count += 1
            s.sum += value
            if s.recent.count < Self.samplesMax {
                s.recent.append(value)
            } else {
                s.recent[s.next] = value
            }
            s.next = (s.next + 1) % Self.samplesMax
        }
    }

    public func snapshot() -> Snapshot {
        let (count, sum, recent) = state.withLockedValue { ($0.count, $0.sum, $0.recent) }
        let sorted = recent.sorted()
        // The lower median, as Prometheus client libraries' rank-based quantiles give it.
        let median = sorted.isEmpty ? nil : sorted[(sorted.count - 1) / 2]
        return Snapshot(count: count, sum: sum, median: median)
    }
}
