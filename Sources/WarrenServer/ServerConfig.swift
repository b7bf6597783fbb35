import WarrenCore
import Foundation
import WarrenTLS
import WarrenTree

/// The settings Warren reads from a ZooKeeper `zoo.cfg`, unchanged in syntax and defaults.
///
/// Keys Warren does not use are kept in `extra` and listed by the `conf` four-letter word, so an existing file with
/// admin-server or metrics settings still loads.
public struct ServerConfig: Sendable {
    public var tickTimeMs: Int = 3000
    public var initLimit: Int = 10
    public var syncLimit: Int = 5
    public var dataDir: String = ""
    public var dataLogDir: String = ""
    public var clientPort: Int = 2181
    public var clientPortAddress: String = "0.0.0.0"
    /// Connections per client IP address; 0 means unlimited.
    public var maxClientCnxns: Int = 60
    public var minSessionTimeoutMs: Int = -1
    public var maxSessionTimeoutMs: Int = -1
    public var snapCount: Int = 100_000
    public var autopurgeSnapRetainCount: Int = 3
    public var autopurgePurgeIntervalHours: Int = 0
    /// Whether zoo.cfg names `autopurge.purgeInterval`. When it does not, Warren purges after every snapshot
    /// (keeping `autopurgeSnapRetainCount` snapshots and the logs they need) instead of ZooKeeper's default of
    /// never purging, which fills disks; `autopurge.purgeInterval=0` still turns purging off entirely.
    public var autopurgePurgeIntervalSet = false
    public var purgesAfterSnapshot: Bool { !autopurgePurgeIntervalSet }
    /// `jute.maxbuffer`: the largest packet a client may send, and the largest znode value.
    public var juteMaxBufferBytes: Int = 0xfffff
    public var fourLetterWordWhitelist: Set<String> = ["srvr"]
    public var extendedTypesEnabled: Bool = false
    public var containerCheckIntervalMs: Int = 60_000
    /// `user:base64(sha1(user:password))`, giving full rights to whoever authenticates as that user.
    public var superDigest: String?
    /// Requests in flight across the server before new reads from sockets pause (ZooKeeper's globalOutstandingLimit):
    /// past it, a connection that already has a request in flight is not read until the count drops below it
    /// (`ServerCore+Throttle.swift`).
    public var globalOutstandingLimit: Int = 1000
    /// `throttled_op_wait_time` (ZooKeeper 3.6+'s `zookeeper.throttled_op_wait_time`), milliseconds; 0 = off. A
    /// request held back by `globalOutstandingLimit` for longer than this is answered `ZTHROTTLEDOP` (-127) instead
    /// of being carried out (pings and closeSession never are).
    public var throttledOpWaitTimeMs: Int = 0
    /// Socket event loops (`warren.ioThreads`); nil = `ServerShell.defaultIoThreads`. 0 runs socket I/O on the core's own thread:
    /// no cross-thread hop per request (lowest latency, one core per server), at the cost of I/O parallelism.
    public var ioThreads: Int?
    /// `warren.leaderTimeoutMs`: how long a follower waits without hearing from its leader before electing another,
    /// and how long a leader keeps leading without hearing from a quorum (`ZabConfig.leaderTimeoutTicks`); at most
    /// syncLimit × tickTime. ZooKeeper waits syncLimit × tickTime (10 s with the usual zoo.cfg), patience for
    /// garbage-collection pauses that Warren does not have.
    public var leaderTimeoutMs: Int = ServerConfig.leaderTimeoutMsDefault
    public static let leaderTimeoutMsDefault = 1000
    /// `warren.spinWaitUs`: how long the server keeps its CPU awake after outside work before letting it idle
    /// (`SpinWaiter`); 0 turns it off. nil = `ServerShell.defaultSpinWaitUs`.
    public var spinWaitUs: Int?
    /// `warren.snapshotChunkBytes`: state bytes per frame of a SNAP sync this server sends as leader (default 4 MiB;
    /// small values are for tests that need many chunks from a small tree).
    public var snapshotChunkBytes = SnapshotStream.chunkBytesDefault
    /// `readonlymode.enabled` (ZooKeeper's Java system property; also read from zoo.cfg and from
    /// `-Dreadonlymode.enabled=true` in `SERVER_JVMFLAGS`/`JVMFLAGS`, `applyJVMFlags`): an ensemble member cut off
    /// from its quorum serves read-only clients from its last tree (`ServerCore+ReadOnly.swift`).
    public var readOnlyModeEnabled = false
    /// `peerType=observer|participant`. As in ZooKeeper, the `server.N` line of this server decides its role; a
    /// different peerType only earns a warning (`peerTypeMismatch`).
    public var peerType: String?
    public var peers: [PeerConfig] = []
    /// `reconfigEnabled`: whether clients (with WRITE on `/zookeeper/config`, e.g. the super user) may change the
    /// membership with `reconfig` (ZooKeeper's default, false, answers `ReconfigDisabled`).
    public var reconfigEnabled = false
    /// `dynamicConfigFile` as written in zoo.cfg: the file holding the server list and its version. `load(path:)`
    /// reads it (a relative path is taken from zoo.cfg's directory); a reconfig writes a new one and points
    /// zoo.cfg at it, as ZooKeeper does.
    public var dynamicConfigFile: String?
    /// The version of the membership in `peers`: the zxid of the reconfig that made it, 0 when it came from
    /// zoo.cfg's own server lines.
    public var configVersion: Int64 = 0
    public var myid: Int64 = 0
    public var extra: [(String, String)] = []
    public var sourcePath: String?
    /// Whether the file set `clientPort` (it defaults to 2181 otherwise).
    public var clientPortGiven = false
    /// `secureClientPort`: clients served over TLS, set up by ZooKeeper's `ssl.*` keys (`clientTLS`); nil = none.
    public var secureClientPort: Int?
    /// `secureClientPortAddress`; `clientPortAddress` when absent.
    public var secureClientPortAddress: String?
    /// The TLS settings of `secureClientPort` (present exactly when it is).
    public var clientTLS: TLSSettings?
    /// Quorum TLS (`sslQuorum=true` with the `ssl.quorum.*` keys); nil = plaintext between servers.
    public var quorumTLS: TLSSettings?
    /// Plaintext clients are served on `clientPort` unless the file asks for TLS only (`secureClientPort` without
    /// `clientPort`, as ZooKeeper reads it).
    public var servesPlaintextClients: Bool { secureClientPort == nil || clientPortGiven }

    public init() {}

    public var effectiveMinSessionTimeoutMs: Int { minSessionTimeoutMs > 0 ? minSessionTimeoutMs : 2 * tickTimeMs }
    public var effectiveMaxSessionTimeoutMs: Int { maxSessionTimeoutMs > 0 ? maxSessionTimeoutMs : 20 * tickTimeMs }
    public var isStandalone: Bool { peers.count <= 1 }

    /// The tree's settings from this config and the machine: restore passes sized to a quarter of the last-level
    /// cache (the other servers and processes on the machine share it), at least 1 MiB.
    public var treeConfig: TreeConfig {
        TreeConfig(extendedTypesEnabled: extendedTypesEnabled, superDigest: superDigest,
                   restoreIndexSliceBytes: max(1 << 20, Self.lastLevelCacheBytes / 4))
    }

    /// The largest cache level the C library reports (0 when it reports none).
    static let lastLevelCacheBytes: Int = {
        for level in [_SC_LEVEL4_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE, _SC_LEVEL2_CACHE_SIZE] {
            let n = sysconf(Int32(level))
            if n > 0 { return n }
        }
        return 0
    }()

    public static let allFourLetterWords: Set<String> = [
        "ruok", "srvr", "stat", "mntr", "conf", "cons", "crst", "dump", "wchs", "wchc", "wchp", "envi", "isro", "srst",
        "dirs", "hash",
    ]

    /// Parses the text of a zoo.cfg. `myidFile` contents are read by `load(path:)`.
    public static func parse(_ text: String, path: String? = nil) throws -> ServerConfig {
        var c = ServerConfig()
        c.sourcePath = path
        // Java properties end lines with \n, \r\n or \r; in Swift "\r\n" is one Character, so split on any newline.
        for (n, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            guard let eq = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): expected key=value, got '\(line)'")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            // ZooKeeper reads every numeric setting as a Java int, and so does the server here (tick and session
            // timeouts become Int32; the derived timeouts multiply the tick): a larger value is an error, not a trap.
            func int() throws -> Int {
                guard let v = Int(value) ?? (value.hasPrefix("0x") ? Int(value.dropFirst(2), radix: 16) : nil),
                      Int32(exactly: v) != nil else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): \(key) must be a 32-bit integer, got '\(value)'")
                }
                return v
            }
            switch key {
            case "tickTime": c.tickTimeMs = try int()
            case "initLimit": c.initLimit = try int()
            case "syncLimit": c.syncLimit = try int()
            case "dataDir": c.dataDir = value
            case "dataLogDir": c.dataLogDir = value
            case "clientPort":
                c.clientPort = try int()
                c.clientPortGiven = true
            case "clientPortAddress": c.clientPortAddress = value
            case "maxClientCnxns": c.maxClientCnxns = try int()
            case "minSessionTimeout": c.minSessionTimeoutMs = try int()
            case "maxSessionTimeout": c.maxSessionTimeoutMs = try int()
            case "snapCount": c.snapCount = try int()
            case "warren.ioThreads":
                let threads = try int()
                guard (0...64).contains(threads) else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): warren.ioThreads must be 0...64, got \(threads)")
                }
                c.ioThreads = threads
            case "warren.leaderTimeoutMs":
                let ms = try int()
                guard (100...600_000).contains(ms) else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): warren.leaderTimeoutMs must be 100...600000, got \(ms)")
                }
                c.leaderTimeoutMs = ms
            case "warren.spinWaitUs":
                let us = try int()
                guard (0...100_000).contains(us) else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): warren.spinWaitUs must be 0...100000, got \(us)")
                }
                c.spinWaitUs = us
            case "warren.snapshotChunkBytes":
                let bytes = try int()
                guard (1...SnapshotStream.chunkBytesMax).contains(bytes) else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): warren.snapshotChunkBytes must be 1...\(SnapshotStream.chunkBytesMax), got \(bytes)")
                }
                c.snapshotChunkBytes = bytes
            case "autopurge.snapRetainCount": c.autopurgeSnapRetainCount = max(3, try int())
            case "autopurge.purgeInterval":
                c.autopurgePurgeIntervalHours = try int()
                c.autopurgePurgeIntervalSet = true
            case "jute.maxbuffer": c.juteMaxBufferBytes = try int()
            case "4lw.commands.whitelist":
                let words = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                c.fourLetterWordWhitelist = words.contains("*") ? allFourLetterWords : Set(words)
            case "extendedTypesEnabled", "zookeeper.extendedTypesEnabled":
                c.extendedTypesEnabled = value.lowercased() == "true"
            case "znode.container.checkIntervalMs": c.containerCheckIntervalMs = try int()
            case "DigestAuthenticationProvider.superDigest", "zookeeper.DigestAuthenticationProvider.superDigest",
                "superDigest":
                c.superDigest = value
            case "globalOutstandingLimit", "zookeeper.globalOutstandingLimit":
                c.globalOutstandingLimit = try int()
                guard c.globalOutstandingLimit > 0 else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): globalOutstandingLimit must be positive, got \(value)")
                }
            case "throttled_op_wait_time", "zookeeper.throttled_op_wait_time": c.throttledOpWaitTimeMs = max(0, try int())
            case "readonlymode.enabled", "zookeeper.readonlymode.enabled":
                c.readOnlyModeEnabled = value.lowercased() == "true"
            case "reconfigEnabled", "zookeeper.reconfigEnabled":
                c.reconfigEnabled = value.lowercased() == "true"
            case "dynamicConfigFile":
                c.dynamicConfigFile = value
            case "peerType":
                let value = value.lowercased()
                guard value == "observer" || value == "participant" else {
                    throw ConfigError("\(path ?? "zoo.cfg"):\(n + 1): peerType must be observer or participant, got '\(value)'")
                }
                c.peerType = value
            default:
                if key.hasPrefix("server.") {
                    c.peers.append(try PeerConfig.parse(key: key, value: value, line: n + 1, path: path))
                } else {
                    c.extra.append((key, value))
                }
            }
        }
        var ids = Set<Int64>()
        for p in c.peers where !ids.insert(p.id).inserted {
            throw ConfigError("\(path ?? "zoo.cfg"): server.\(p.id) is listed twice")
        }
        try c.readClientTLS()
        try c.readQuorumTLS()
        if c.tickTimeMs <= 0 { throw ConfigError("tickTime must be positive") }
        if c.dataLogDir.isEmpty { c.dataLogDir = c.dataDir }
        if c.effectiveMinSessionTimeoutMs > c.effectiveMaxSessionTimeoutMs {
            throw ConfigError("minSessionTimeout must not be larger than maxSessionTimeout")
        }
        return c
    }

    private func extraValue(_ key: String) -> String? {
        extra.last(where: { $0.0 == key || $0.0 == "zookeeper." + key })?.1
    }

    /// `secureClientPort` and the `ssl.*` keys (`TLSSettings.parse`), checked here so that a TLS set-up that cannot
    /// work stops the server at start with the key to fix, not at the first client.
    mutating func readClientTLS() throws {
        let file = sourcePath ?? "zoo.cfg"
        guard let value = extraValue("secureClientPort") else { return }
        guard let port = Int(value), (0...65535).contains(port) else {
            throw ConfigError("\(file): secureClientPort must be a port number, got '\(value)'")
        }
        clientTLS = try tlsSettings(prefix: "ssl.", needing: "secureClientPort=\(port)", whose: "the server's")
        secureClientPort = port
        secureClientPortAddress = extraValue("secureClientPortAddress")
    }

    /// `sslQuorum=true` and the `ssl.quorum.*` keys (the same names as the client side's, under `ssl.quorum.`).
    mutating func readQuorumTLS() throws {
        guard extraValue("sslQuorum")?.lowercased() == "true" else { return }
        quorumTLS = try tlsSettings(prefix: "ssl.quorum.", needing: "sslQuorum=true", whose: "this server's")
    }

    /// The TLS settings under `prefix`, which must name a key store (`needing` says which key asks for TLS).
    private func tlsSettings(prefix: String, needing: String, whose: String) throws -> TLSSettings {
        do {
            let settings = try TLSSettings.parse(prefix: prefix, knownSuites: TLSContextSource.knownSuites, lookup: extraValue)
            guard settings.keyStore != nil else {
                throw TLSSettingsError("\(needing) needs \(prefix)keyStore.location: a PEM file holding \(whose) private key and certificate chain (or a PKCS12 file)")
            }
            return settings
        } catch let error as TLSSettingsError {
            throw ConfigError("\(sourcePath ?? "zoo.cfg"): \(error)")
        }
    }

    /// Warnings for ZooKeeper keys that are accepted but do nothing here, where an operator would expect an effect.
    public var unsupportedKeyWarnings: [String] {
        var out: [String] = []
        for key in ["ssl.crl", "ssl.ocsp"] where extraValue(key)?.lowercased() == "true" {
            out.append("\(key)=true ignored: Warren does not check certificate revocation; remove revoked certificates from the trust store")
        }
        return out
    }

    /// The path of `dynamicConfigFile`, relative paths taken from zoo.cfg's directory.
    public var dynamicConfigPath: String? {
        guard let file = dynamicConfigFile else { return nil }
        if file.hasPrefix("/") { return file }
        return ((sourcePath.map { ($0 as NSString).deletingLastPathComponent } ?? ".") as NSString).appendingPathComponent(file)
    }

    /// Takes the server list and its version from `dynamicConfigFile`, when zoo.cfg names one.
    mutating func readDynamicConfigFile() throws {
        guard let path = dynamicConfigPath else { return }
        guard peers.isEmpty else {
            throw ConfigError("\(sourcePath ?? "zoo.cfg"): server.N lines and dynamicConfigFile both given; keep the server list in one place (the dynamic file)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("\(sourcePath ?? "zoo.cfg"): cannot read dynamicConfigFile \(path)")
        }
        let dynamic = try DynamicConfig.parse(String(decoding: data, as: UTF8.self), source: path)
        peers = dynamic.servers
        // ZooKeeper's dynamic files carry the version in their name (zoo.cfg.dynamic.100000004), not inside.
        let suffix = path.components(separatedBy: ".dynamic.").last.flatMap { Int64($0, radix: 16) }
        configVersion = dynamic.version != 0 ? dynamic.version : (path.contains(".dynamic.") ? suffix ?? 0 : 0)
    }

    /// What the server core runs by: these settings with every default applied (`CoreConfig`).
    public var core: CoreConfig {
        var c = CoreConfig()
        c.myid = myid
        c.tickTimeMs = tickTimeMs
        c.initLimit = initLimit
        c.syncLimit = syncLimit
        c.leaderTimeoutMs = leaderTimeoutMs
        c.effectiveMinSessionTimeoutMs = effectiveMinSessionTimeoutMs
        c.effectiveMaxSessionTimeoutMs = effectiveMaxSessionTimeoutMs
        c.snapCount = snapCount
        c.juteMaxBufferBytes = juteMaxBufferBytes
        c.maxClientCnxns = maxClientCnxns
        c.globalOutstandingLimit = globalOutstandingLimit
        c.throttledOpWaitTimeMs = throttledOpWaitTimeMs
        c.containerCheckIntervalMs = containerCheckIntervalMs
        c.fourLetterWordWhitelist = fourLetterWordWhitelist
        c.readOnlyModeEnabled = readOnlyModeEnabled
        c.reconfigEnabled = reconfigEnabled
        c.treeConfig = treeConfig
        c.peers = peers
        c.configVersion = configVersion
        c.dataDir = dataDir
        c.dataLogDir = dataLogDir
        c.clientPort = clientPort
        c.clientPortAddress = clientPortAddress
        c.servesPlaintextClients = servesPlaintextClients
        c.secureClientPort = secureClientPort
        return c
    }

    /// The membership as zoo.cfg (or its dynamic file) gives it.
    public var dynamicConfig: DynamicConfig { DynamicConfig(servers: peers, version: configVersion) }

    /// The warning ZooKeeper logs when `peerType` disagrees with this server's `server.N` line (which wins).
    public var peerTypeMismatch: String? {
        guard let peerType, let me = peers.first(where: { $0.id == myid }) else { return nil }
        let listed = me.isObserver ? "observer" : "participant"
        guard listed != peerType else { return nil }
        return "peerType=\(peerType) but server.\(myid) is listed as \(listed); using the server list's \(listed)"
    }

    /// Java system properties Warren honours when given the way ZooKeeper's scripts pass them (`-Dkey=value` words
    /// in `SERVER_JVMFLAGS` or `JVMFLAGS`), so an environment set up for zkServer.sh carries over. Only
    /// `readonlymode.enabled` is read this way (ZooKeeper reads it only as a system property).
    public mutating func applyJVMFlags(_ environment: [String: String]) {
        for name in ["JVMFLAGS", "SERVER_JVMFLAGS"] {
            for word in (environment[name] ?? "").split(whereSeparator: \.isWhitespace) {
                guard word.hasPrefix("-Dreadonlymode.enabled=") else { continue }
                readOnlyModeEnabled = word.dropFirst("-Dreadonlymode.enabled=".count).lowercased() == "true"
            }
        }
    }

    /// Reads zoo.cfg at `path` and, for an ensemble, `myid` in dataDir.
    public static func load(path: String) throws -> ServerConfig {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("cannot read config file \(path)")
        }
        var c = try parse(text, path: path)
        if c.dataDir.isEmpty { throw ConfigError("\(path): dataDir is not set") }
        try c.readDynamicConfigFile()
        let myidPath = (c.dataDir as NSString).appendingPathComponent("myid")
        if let d = FileManager.default.contents(atPath: myidPath), let s = String(data: d, encoding: .utf8) {
            guard let id = Int64(s.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw ConfigError("\(myidPath): expected a server id, got '\(s)'")
            }
            c.myid = id
        } else if !c.isStandalone {
            throw ConfigError("\(myidPath) is missing: an ensemble member needs its server id there")
        }
        return c
    }
}
