import CoreMetrics
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import WarrenServer

/// The HTTP listeners of a running server: the AdminServer's commands on `admin.serverAddress:admin.serverPort` and
/// Prometheus `/metrics` on `metricsProvider.httpHost:httpPort` — one listener serving both when they are the same
/// address and port. Runs on its own event loop so a slow scraper never shares a thread with clients.
///
/// A listener that cannot bind (port taken, bad address) is logged as an error and left out: the server keeps
/// serving clients, as ZooKeeper does when its AdminServer cannot start.
public final class MonitoringService: @unchecked Sendable {
    public let config: MonitoringConfig
    /// The registry behind `/metrics`; nil when metrics are off.
    public let exporter: MetricsExporter?
    private let logger: Logger
    /// One thread: `ConnectionCount` relies on every HTTP connection living on the same loop.
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channels: [Channel] = []

    /// Creates the service and, when metrics are on, bootstraps swift-metrics with the Prometheus registry: call it
    /// before the server starts, so the server's instruments are made on this backend.
    public init(config: MonitoringConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        exporter = config.metricsEnabled ? Self.processExporter : nil
    }

    /// swift-metrics takes one backend per process, once: every service with metrics on shares this one.
    private static let processExporter: MetricsExporter = {
        let exporter = MetricsExporter()
        MetricsSystem.bootstrap(exporter.metricsFactory())
        return exporter
    }()

    /// The ports actually bound, for logs and tests: (what, host, port).
    public private(set) var bound: [(String, String, Int)] = []

    /// Binds the listeners; failures are logged, not thrown.
    public func start(source: any FactsSource) {
        var listeners: [(String, String, Int, AdminEndpoints)] = []
        let gate = config.snapshotEnabled ? SnapshotGate(intervalMs: config.snapshotIntervalMs) : nil
        let sameListener = config.adminEnabled && exporter != nil && config.adminAddress == config.metricsHost
            && config.adminPort == config.metricsPort
        if sameListener {
            listeners.append(("AdminServer and metrics", config.adminAddress, config.adminPort,
                              AdminEndpoints(commandURL: config.commandURL, exporter: exporter, snapshots: gate)))
        } else {
            if config.adminEnabled {
                listeners.append(("AdminServer", config.adminAddress, config.adminPort,
                                  AdminEndpoints(commandURL: config.commandURL, exporter: nil, snapshots: gate)))
            }
            if let exporter {
                listeners.append(("metrics", config.metricsHost, config.metricsPort,
                                  AdminEndpoints(commandURL: nil, exporter: exporter)))
            }
        }
        for (what, host, port, endpoints) in listeners {
            do {
                let channel = try bind(host: host, port: port, endpoints: endpoints, source: source)
                channels.append(channel)
                let actual = channel.localAddress?.port ?? port
                bound.append((what, host, actual))
                let path = endpoints.commandURL.map { " \($0)" } ?? ""
                logger.info("\(what) listening", metadata: ["address": "\(host):\(actual)", "paths": "\(path)\(endpoints.exporter != nil ? " /metrics" : "")"])
            } catch {
                logger.error("\(what) not started: cannot bind \(host):\(port): \(error); clients are still served")
            }
        }
    }

    /// HTTP connections open at once across the listeners; more are closed on arrival. Scrapers and operators
    /// need a handful; the bound keeps a client that opens sockets in a loop from holding memory.
    public static let connectionsMax = 64
    private let openConnections = ConnectionCount()

    private func bind(host: String, port: Int, endpoints: AdminEndpoints, source: any FactsSource) throws -> Channel {
        let idle = TimeAmount.milliseconds(Int64(config.idleTimeoutMs))
        let headerBytesMax = config.headerBytesMax
        let openConnections = self.openConnections
        return try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(ConnectionCap(count: openConnections, max: Self.connectionsMax))
                    try sync.addHandler(IdleStateHandler(allTimeout: idle))
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(AdminHTTPHandler(endpoints: endpoints, source: source, headerBytesMax: headerBytesMax))
                }
            }
            .bind(host: host, port: port).wait()
    }

    /// Closes the listeners and stops the event loop.
    public func shutdown() {
        for channel in channels { try? channel.close().wait() }
        channels = []
        try? group.syncShutdownGracefully()
    }
}

/// Open connections; touched only on the service's one event loop, so it needs no lock.
final class ConnectionCount: @unchecked Sendable {
    var open = 0
}

/// Closes a connection that arrives while `max` are open.
final class ConnectionCap: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let count: ConnectionCount
    private let max: Int
    private var counted = false

    init(count: ConnectionCount, max: Int) {
        self.count = count
        self.max = max
    }

    func channelActive(context: ChannelHandlerContext) {
        if count.open >= max {
            context.close(promise: nil)
            return
        }
        count.open += 1
        counted = true
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            count.open -= 1
            counted = false
        }
        context.fireChannelInactive()
    }
}
