import WarrenCore
import WarrenServer

/// The AdminServer's and the Prometheus provider's zoo.cfg keys, under ZooKeeper's names so that a zoo.cfg carries
/// over unchanged. `ServerConfig` keeps keys it does not use in `extra`; they are read from there.
///
/// Defaults follow ZooKeeper 3.8 (`0.0.0.0:8080`, `/commands`, 30 s idle timeout; metrics off unless
/// `metricsProvider.className` names the Prometheus provider, then on `0.0.0.0:7000`) with one deliberate
/// difference: the AdminServer is off unless `admin.enableServer=true`. On by default it would open an HTTP port
/// on every interface that nobody asked for, and every further server on the machine would collide on 8080 (the
/// interop suite starts dozens). Debian's own ZooKeeper package, the reference here, does not start it either: its
/// classpath lacks the servlet API. A port that cannot be bound is logged and skipped (`MonitoringService`), never
/// fatal.
public struct MonitoringConfig: Equatable, Sendable {
    public var adminEnabled = false
    public var adminAddress = "0.0.0.0"
    public var adminPort = 8080
    /// The path prefix of the commands (`admin.commandURL`), without a trailing slash.
    public var commandURL = "/commands"
    /// `admin.idleTimeout`: an HTTP connection with no traffic for this long is closed.
    public var idleTimeoutMs = 30_000
    /// Bytes of request line and headers one HTTP request may carry (`admin.maxHeaderBytes`; nothing bigger is
    /// needed to ask for a command, and a bound keeps a client from holding memory).
    public var headerBytesMax = 8192
    /// `admin.snapshot.enabled`: the `snapshot` command (an online backup of the whole tree). Off by default here:
    /// the AdminServer has no authentication, and a snapshot hands out every znode whatever its ACL.
    public var snapshotEnabled = false
    /// `admin.snapshot.intervalInMS`: at most one snapshot per this long (ZooKeeper's default, 5 minutes).
    public var snapshotIntervalMs = 300_000
    public var metricsEnabled = false
    public var metricsHost = "0.0.0.0"
    public var metricsPort = 7000

    public init() {}

    /// The provider class ZooKeeper ships for Prometheus; Warren's exporter stands in for it.
    public static let prometheusProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"

    /// Reads the keys from `extra` (as `ServerConfig.parse` kept them), with or without ZooKeeper's `zookeeper.`
    /// system-property prefix. Throws `ConfigError` naming the key for a value that is not valid.
    public init(extra: [(String, String)]) throws {
        for (rawKey, value) in extra {
            let key = rawKey.hasPrefix("zookeeper.") ? String(rawKey.dropFirst("zookeeper.".count)) : rawKey
            func port() throws -> Int {
                guard let p = Int(value), (0...65535).contains(p) else {
                    throw ConfigError("\(rawKey) must be a port number 0...65535, got '\(value)'")
                }
                return p
            }
            func bool() throws -> Bool {
                switch value.lowercased() {
                case "true": return true
                case "false": return false
                default: throw ConfigError("\(rawKey) must be true or false, got '\(value)'")
                }
            }
            switch key {
            case "admin.enableServer": adminEnabled = try bool()
            case "admin.serverAddress": adminAddress = value
            case "admin.serverPort": adminPort = try port()
            case "admin.commandURL":
                guard value.hasPrefix("/"), !value.contains(" ") else {
                    throw ConfigError("\(rawKey) must be a path starting with /, got '\(value)'")
                }
                commandURL = value.count > 1 && value.hasSuffix("/") ? String(value.dropLast()) : value
            case "admin.idleTimeout":
                guard let ms = Int(value), (1...3_600_000).contains(ms) else {
                    throw ConfigError("\(rawKey) must be 1...3600000 milliseconds, got '\(value)'")
                }
                idleTimeoutMs = ms
            case "admin.maxHeaderBytes":
                guard let n = Int(value), (1024...1 << 20).contains(n) else {
                    throw ConfigError("\(rawKey) must be 1024...1048576, got '\(value)'")
                }
                headerBytesMax = n
            case "admin.snapshot.enabled": snapshotEnabled = try bool()
            case "admin.snapshot.intervalInMS":
                guard let ms = Int(value), (0...86_400_000).contains(ms) else {
                    throw ConfigError("\(rawKey) must be 0...86400000 milliseconds, got '\(value)'")
                }
                snapshotIntervalMs = ms
            case "metricsProvider.className":
                metricsEnabled = value.hasSuffix("PrometheusMetricsProvider")
            case "metricsProvider.httpHost": metricsHost = value
            case "metricsProvider.httpPort": metricsPort = try port()
            case "metricsProvider.exportJvmInfo": _ = try bool()  // accepted; there is no JVM to report on
            default: break
            }
        }
    }
}
