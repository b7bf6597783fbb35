import WarrenTree

/// The settings the server core runs by: what the shell's `ServerConfig` (zoo.cfg, parsed with Foundation, with its
/// TLS material) resolves to, with every default and derived value already applied, so the core never parses, reads
/// a file or asks the machine (the tree's restore slice comes from the cache size the shell looked up).
public struct CoreConfig: Sendable {
    public var myid: Int64 = 0
    public var tickTimeMs = 3000
    public var initLimit = 10
    public var syncLimit = 5
    /// How long a leader keeps leading without hearing from a quorum (`ServerConfig.leaderTimeoutMs`).
    public var leaderTimeoutMs = 1000
    /// The session timeouts a client's request is clamped to (zoo.cfg's, or 2 and 20 ticks).
    public var effectiveMinSessionTimeoutMs = 6000
    public var effectiveMaxSessionTimeoutMs = 60000
    public var snapCount = 100_000
    public var juteMaxBufferBytes = 0xfffff
    public var maxClientCnxns = 60
    public var globalOutstandingLimit = 1000
    public var throttledOpWaitTimeMs = 0
    public var containerCheckIntervalMs = 60_000
    public var fourLetterWordWhitelist: Set<String> = ["srvr"]
    public var readOnlyModeEnabled = false
    public var reconfigEnabled = false
    public var treeConfig = TreeConfig()
    /// The membership zoo.cfg (or its dynamic file) gives; one entry or none for a standalone server.
    public var peers: [PeerConfig] = []
    public var configVersion: Int64 = 0
    /// Shown by `conf`, `srvr` and the AdminServer only.
    public var dataDir = ""
    public var dataLogDir = ""
    public var clientPort = 2181
    public var clientPortAddress = "0.0.0.0"
    public var servesPlaintextClients = true
    public var secureClientPort: Int?

    public init() {}

    /// The membership as zoo.cfg (or its dynamic file) gives it.
    public var dynamicConfig: DynamicConfig { DynamicConfig(servers: peers, version: configVersion) }
}
