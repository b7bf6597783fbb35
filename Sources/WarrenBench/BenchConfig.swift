/// What a bench run does. Every duration is in seconds; every size in bytes.

public enum Workload: String, CaseIterable, Sendable, Codable {
    /// getData of a random key.
    case read
    /// setData of a random key (version -1).
    case write
    /// getData or setData of a random key, reads with probability `readPercent`.
    case mixed
    /// create of persistent-sequential znodes under one parent.
    case createSeq = "create-seq"
    /// create then delete of a fresh znode, alternately; both count as ops.
    case churn
    /// One writer sets a znode that `watchers` sessions watch; an op is one notification delivered, its latency
    /// measured from the write being sent. The watch is re-armed before the next round.
    case watchFanout = "watch-fanout"
    /// Open a session and close it; one op per open+close, over its own TCP connection each time.
    case sessionChurn = "session-churn"
}

public struct HostPort: Sendable, Equatable, CustomStringConvertible, Codable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Parses `h:p[,h:p...]`; IPv6 literals go in brackets (`[::1]:2181`).
    public static func parseList(_ text: String) throws -> [HostPort] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !items.isEmpty else { throw BenchError.badArgument("no hosts in '\(text)'") }
        return try items.map { item in
            guard let colon = item.lastIndex(of: ":"), let port = Int(item[item.index(after: colon)...]),
                port > 0, port < 65536
            else { throw BenchError.badArgument("expected host:port, got '\(item)'") }
            var host = String(item[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw BenchError.badArgument("empty host in '\(item)'") }
            return HostPort(host: host, port: port)
        }
    }
}

public struct BenchConfig: Sendable {
    public var hosts: [HostPort]
    /// Sessions opened for the workload (writers for watch-fanout are always 1; session-churn runs this many loops).
    public var connections: Int = 8
    /// Requests kept in flight per connection (pipelining depth). Not used by watch-fanout and session-churn.
    public var outstanding: Int = 32
    public var valueBytes: Int = 1024
    /// The largest value: a reply carrying it must fit in the generator's frame limit (`BenchConnection.frameBytesMax`,
    /// 64 MiB) with room for the reply header and Stat.
    public static let valueBytesMax = 64 << 20 - 4096
    /// Znodes created under the bench root for read, write and mixed.
    public var keys: Int = 1000
    /// Measured time; 0 runs setup only (useful with `cleanup = false` to load a server).
    public var durationSeconds: Double = 10
    /// Load applied before measurement starts, to warm caches and JITs.
    public var warmupSeconds: Double = 2
    public var workload: Workload = .read
    /// Share of reads in `mixed`, 0...100.
    public var readPercent: Int = 90
    /// Watching sessions in `watch-fanout`.
    public var watchers: Int = 50
    /// Generator threads; each drives a share of the connections with one poll loop.
    public var threads: Int = 1
    /// Open loop: requests per second in total, issued on a fixed schedule whatever the replies do, each request's
    /// latency measured from when the schedule said to send it. 0 = closed loop (`outstanding` per connection).
    public var ratePerSecond: Double = 0
    /// Delete everything under the bench root at the end.
    public var cleanup: Bool = true
    public var root: String = "/warren-bench"
    /// Keys per directory under `root/keys` (0: all keys directly under it). A tree of many directories of a
    /// thousand children each is the shape of a real large ensemble; one flat parent is not.
    public var keysPerDir: Int = 0
    public var sessionTimeoutMs: Int = 30_000
    /// How long requests in flight at the deadline may take to answer before the run gives up on them.
    public var drainSeconds: Double = 10
    public var seed: UInt64 = 0x5EED

    public init(hosts: [HostPort]) { self.hosts = hosts }

    /// Throws `BenchError.badArgument` naming the first setting out of range.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw BenchError.badArgument(message()) }
        }
        try check(!hosts.isEmpty, "at least one host is needed")
        try check(connections >= 1 && connections <= 10_000, "--connections \(connections) outside 1...10000")
        try check(outstanding >= 1 && outstanding <= 100_000, "--outstanding \(outstanding) outside 1...100000")
        try check(valueBytes >= 0 && valueBytes <= Self.valueBytesMax,
                  "--value-bytes \(valueBytes) outside 0...\(Self.valueBytesMax) (the server's jute.maxbuffer must fit it too)")
        try check(keys >= 1, "--keys \(keys) must be at least 1")
        try check(keysPerDir >= 0 && keysPerDir <= 1_000_000, "--keys-per-dir \(keysPerDir) outside 0...1000000")
        try check(durationSeconds >= 0 && durationSeconds.isFinite, "--duration \(durationSeconds) must be >= 0")
        try check(warmupSeconds >= 0 && warmupSeconds.isFinite, "--warmup \(warmupSeconds) must be >= 0")
        try check(readPercent >= 0 && readPercent <= 100, "--read-percent \(readPercent) outside 0...100")
        try check(watchers >= 1 && watchers <= 10_000, "--watchers \(watchers) outside 1...10000")
        try check(threads >= 1 && threads <= 256, "--threads \(threads) outside 1...256")
        try check(ratePerSecond >= 0 && ratePerSecond <= 10_000_000 && ratePerSecond.isFinite,
                  "--rate \(ratePerSecond) outside 0...10000000")
        try check(ratePerSecond == 0 || [.read, .write, .mixed].contains(workload),
                  "--rate applies to read, write and mixed only")
        try check(root.hasPrefix("/") && root.count > 1 && !root.hasSuffix("/"), "bench root '\(root)' is not a path")
    }

    var keyPaths: [String] { (0..<keys).map { keyPath($0) } }
    /// `keys/k<i>`, or `keys/d<i / keysPerDir>/k<i>` when the keys are spread over directories.
    func keyPath(_ i: Int) -> String {
        keysPerDir == 0 ? "\(root)/keys/k\(i)" : "\(root)/keys/d\(i / keysPerDir)/k\(i)"
    }
    /// The directories holding the keys (none for a flat tree), in creation order.
    var keyDirPaths: [String] {
        keysPerDir == 0 ? [] : (0..<(keys + keysPerDir - 1) / keysPerDir).map { "\(root)/keys/d\($0)" }
    }
    var keysDir: String { "\(root)/keys" }
    var seqDir: String { "\(root)/seq" }
    var churnDir: String { "\(root)/churn" }
    var fanoutPath: String { "\(root)/fanout" }
}

public enum BenchError: Error, CustomStringConvertible, Equatable {
    case badArgument(String)
    case connect(String)
    case protocolViolation(String)
    case setupFailed(String)
    case allConnectionsLost(String)

    public var description: String {
        switch self {
        case let .badArgument(m): return "bad argument: \(m)"
        case let .connect(m): return "cannot connect: \(m)"
        case let .protocolViolation(m): return "protocol violation: \(m)"
        case let .setupFailed(m): return "setup failed: \(m)"
        case let .allConnectionsLost(m): return "all connections lost: \(m)"
        }
    }
}
