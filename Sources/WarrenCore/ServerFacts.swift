import WarrenTree
import WarrenZab

/// A copy of what the monitoring surfaces report (the AdminServer's JSON commands, Prometheus `/metrics`), taken on
/// the core thread in one go so that the HTTP side never touches core state. The rows are the four-letter words'
/// own (`monitorRows`, `confRows`, `envRows`): one gathering, several formats.
public struct ServerFacts: Sendable {
    /// mntr's rows (`zk_…` and `warren_…` keys, values as mntr prints them).
    public var monitor: [(String, String)]
    /// conf's rows (zoo.cfg-style camelCase keys).
    public var conf: [(String, String)]
    /// envi's rows.
    public var environment: [(String, String)]
    public var version: String
    /// `standalone`, `leader`, `follower`, `observer`, `looking` (see `ServerCore.serverMode`).
    public var mode: String
    public var lastProcessedZxid: Int64
    /// The tree digest Warren keeps (over nodes and sessions) as of `lastProcessedZxid`.
    public var digest: UInt64
    public var connections: [ConnectionFacts]
    public var watchSummary: WatchSummary
    /// Session id → watched paths (wchc); only with `FactsDetail.watches`.
    public var watchesBySession: [(Int64, [String])] = []
    /// Path → session ids (wchp); only with `FactsDetail.watches`.
    public var watchersByPath: [(String, [Int64])] = []
    /// Expiry date (wall-clock ms) → session ids (dump); only with `FactsDetail.sessions`.
    public var sessionsByExpiry: [(Int64, [Int64])] = []
    /// Session id → its ephemeral paths (dump); only with `FactsDetail.sessions`.
    public var ephemeralsBySession: [(Int64, [String])] = []
    /// nil when standalone.
    public var ensemble: EnsembleFacts?
    /// The newest snapshot file in dataDir: its zxid and modification time (wall clock, seconds); only with
    /// `FactsDetail.lastSnapshot`, nil when there is none.
    public var lastSnapshot: (zxid: Int64, timestampSeconds: Int64)? = nil
}

/// One client connection, as `cons` shows it.
public struct ConnectionFacts: Sendable {
    public var remote: String
    public var outstanding: Int
    public var received: Int
    public var sent: Int
    public var sessionId: Int64
    public var lastOp: String
    public var establishedWallMs: Int64
    public var timeoutMs: Int
    public var lastCxid: Int32
    public var lastZxid: Int64
    public var lastResponseWallMs: Int64
    public var lastLatencyMs: Int64
    public var minLatencyMs: Int64
    public var avgLatencyMs: Double
    public var maxLatencyMs: Int64
}

/// The replication view: who this server is, whom it follows, and the configured voters.
public struct EnsembleFacts: Sendable {
    public var myid: Int64
    public var peers: [PeerConfig]
    /// Where this server takes clients (`clientPortAddress:clientPort`), for its own entry in the voting view.
    public var clientAddress: String
    /// Leading, following, observing or looking, from Zab itself (not the client-facing mode string).
    public var zabState: PeerState
    /// True once this server serves clients in its role (the leader in broadcast, a learner after UPTODATE).
    public var serving: Bool
    public var leaderId: Int64?
    public var epoch: Int64?
    public var elections: Int
    /// Leader only: connected and synced followers.
    public var followers: (connected: Int, synced: Int)?
}

/// Which of the costlier parts of `ServerFacts` to gather (each walks every watch or session).
public struct FactsDetail: OptionSet, Sendable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let watches = FactsDetail(rawValue: 1)
    public static let sessions = FactsDetail(rawValue: 2)
    /// Lists dataDir: a directory read and one stat.
    public static let lastSnapshot = FactsDetail(rawValue: 4)
}

/// The statistics `srst` and `crst` reset (the AdminServer's `stat_reset` and `connection_stat_reset`).
public enum StatsReset: Sendable {
    /// Server-wide latency and packet counts (`srst`).
    case server
    /// Every connection's latency (`crst`).
    case connections
}

package extension ServerCore {
    /// The `HostFacts` that `facts(detail, …)` reports.
    static func hostParts(for detail: FactsDetail) -> HostFacts.Parts {
        detail.contains(.lastSnapshot) ? [.process, .directories, .environment, .lastSnapshot] : [.process, .directories, .environment]
    }

    func resetStats(_ which: StatsReset) {
        switch which {
        case .server: stats.reset()
        case .connections: for id in conns.keys { conns[id]?.latency = LatencyStats() }
        }
    }

    /// `host` needs `HostFacts.Parts` `.process`, `.directories` and `.environment`, and `.lastSnapshot` when
    /// `detail` asks for it (`hostParts(for:)`).
    func facts(_ detail: FactsDetail, host: HostFacts, now: Now) -> ServerFacts {
        var f = ServerFacts(
            monitor: monitorRows(host: host, now: now), conf: confRows(host: host), environment: Self.envRows(host),
            version: Self.versionString,
            mode: serverMode, lastProcessedZxid: tree.lastProcessedZxid, digest: tree.digest,
            connections: conns.values.sorted(by: { $0.id < $1.id }).map { c in
                ConnectionFacts(
                    remote: c.remote, outstanding: c.outstanding, received: c.received, sent: c.sent,
                    sessionId: c.sessionId, lastOp: c.lastOp, establishedWallMs: c.establishedWallMs,
                    timeoutMs: Int(c.timeoutMs), lastCxid: c.lastCxid, lastZxid: c.lastZxid,
                    lastResponseWallMs: c.lastResponseWallMs, lastLatencyMs: c.lastLatencyMs,
                    minLatencyMs: c.latency.minMs, avgLatencyMs: c.latency.avg, maxLatencyMs: c.latency.maxMs)
            },
            watchSummary: watches.summary())
        if detail.contains(.watches) {
            f.watchesBySession = watches.pathsByWatcher().map { (conns[$0.watcher]?.sessionId ?? 0, $0.paths) }
            f.watchersByPath = watches.watchersByPath().map { ($0.path, $0.watchers.map { conns[$0]?.sessionId ?? 0 }) }
        }
        if detail.contains(.sessions) {
            let buckets = Dictionary(grouping: sessions.all, by: \.expiresAtMonoMs)
            f.sessionsByExpiry = buckets.sorted(by: { $0.key < $1.key }).map {
                (now.wallMs(atMono: $0.key), $0.value.map(\.id).sorted())
            }
            f.ephemeralsBySession = tree.ephemeralsBySession().sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value.sorted()) }
        }
        if detail.contains(.lastSnapshot) { f.lastSnapshot = host.lastSnapshot }
        if let ens = ensemble {
            f.ensemble = EnsembleFacts(
                myid: config.myid, peers: ens.membership.servers, clientAddress: "\(config.clientPortAddress):\(config.clientPort)",
                zabState: ens.zab.state, serving: ens.zab.isServing,
                leaderId: ens.zab.leaderId, epoch: ens.zab.epoch, elections: ens.elections,
                followers: ens.zab.followerCounts)
        }
        return f
    }
}
