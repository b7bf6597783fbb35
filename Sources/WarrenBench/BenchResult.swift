import Foundation
import WarrenJute

/// Latency percentiles in microseconds.
public struct LatencySummary: Sendable, Equatable, Codable {
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double

    init(_ h: LatencyHistogram) {
        func us(_ ns: UInt64) -> Double { (Double(ns) / 1000 * 10).rounded() / 10 }
        p50 = us(h.value(atQuantile: 0.5))
        p90 = us(h.value(atQuantile: 0.9))
        p99 = us(h.value(atQuantile: 0.99))
        p999 = us(h.value(atQuantile: 0.999))
        max = us(h.count == 0 ? 0 : h.max)
        mean = (h.mean / 1000 * 10).rounded() / 10
    }
}

/// The outcome of one run: what was run, what it achieved and what the generator itself cost.
public struct BenchResult: Sendable, Codable {
    public var workload: Workload
    public var hosts: [String]
    public var connections: Int
    public var outstanding: Int
    public var valueBytes: Int
    public var keys: Int
    /// Only for `mixed`.
    public var readPercent: Int?
    /// Only for `watch-fanout`.
    public var watchers: Int?
    public var threads: Int
    /// Open loop only: the scheduled requests per second, and scheduled requests not sent because their connection
    /// already had `outstanding` in flight (inside the measured window).
    public var targetRatePerSecond: Double?
    public var dropped: UInt64?
    public var warmupSeconds: Double
    /// The measured window.
    public var durationSeconds: Double
    /// Successful ops completed in the window.
    public var ops: UInt64
    public var opsPerSecond: Double
    public var latencyMicros: LatencySummary
    /// Error replies in the window, by ZooKeeper error name.
    public var errors: [String: UInt64]
    public var errorsTotal: UInt64
    /// Connections lost or failed to open (and failed session-churn cycles).
    public var connectionErrors: Int
    public var connectionErrorSamples: [String]
    /// watch-fanout rounds (writes) in the whole run, warm-up included.
    public var rounds: Int?
    /// This process's CPU time during the measured window, all threads.
    public var generatorCPU: CPUTime
    /// `generatorCPU` as a percentage of one core over the window; near 100 × threads means the generator may be
    /// the bottleneck.
    public var generatorCPUPercent: Double
    public var setupSeconds: Double
    public var cleanupSeconds: Double
    public var notes: [String]

    /// A JSON object with sorted keys.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        guard let data = try? encoder.encode(self), let text = String(data: data, encoding: .utf8) else {
            preconditionFailure("BenchResult is always encodable")
        }
        return text
    }

    /// A few human-readable lines.
    public func text() -> String {
        func f(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
        var shape = "\(connections) connections"
        switch workload {
        case .watchFanout: shape = "1 writer, \(watchers ?? 0) watchers"
        case .sessionChurn: shape = "\(connections) loops"
        default: shape += " x \(outstanding) outstanding"
        }
        let mixShare = readPercent.map { " (\($0)% reads)" } ?? ""
        var lines = [
            "workload \(workload.rawValue)\(mixShare) against \(hosts.joined(separator: ","))",
            "  \(shape), \(valueBytes)-byte values, \(keys) keys, \(threads) thread(s)",
            "  \(f(durationSeconds)) s measured after \(f(warmupSeconds)) s warm-up (setup \(f(setupSeconds)) s, cleanup \(f(cleanupSeconds)) s)",
            "  ops        \(ops)  (\(f(opsPerSecond)) ops/s)",
            "  latency us p50 \(f(latencyMicros.p50))  p90 \(f(latencyMicros.p90))  p99 \(f(latencyMicros.p99))  "
                + "p999 \(f(latencyMicros.p999))  max \(f(latencyMicros.max))  mean \(f(latencyMicros.mean))",
            "  errors     \(errorsTotal)"
                + (errors.isEmpty ? "" : " (" + errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")")
                + ", connection errors \(connectionErrors)",
            "  generator  cpu \(f(generatorCPU.userSeconds, 2)) s user + \(f(generatorCPU.systemSeconds, 2)) s sys = "
                + "\(f(generatorCPUPercent))% of one core",
        ]
        if let rounds { lines.append("  rounds     \(rounds)") }
        if let targetRatePerSecond {
            lines.append("  open loop  target \(f(targetRatePerSecond)) ops/s, never sent \(dropped ?? 0) (queued behind full connections, latency counted from the schedule)")
        }
        lines += connectionErrorSamples.map { "  connection error: \($0)" }
        lines += notes.map { "  note: \($0)" }
        return lines.joined(separator: "\n")
    }
}
