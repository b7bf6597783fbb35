import ArgumentParser
import Foundation
import Logging
import WarrenAdmin
import WarrenServer

struct Warren: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warren",
        abstract: "A ZooKeeper-compatible coordination service.",
        subcommands: [ServerCommand.self, CLICommand.self, BenchCommand.self, EnsembleCommand.self,
                      RecipeCommand.self, ImportCommand.self, ExportCommand.self])
}

struct ServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "server", abstract: "Run a Warren server from a ZooKeeper zoo.cfg.")

    @Option(name: .long, help: "Path to zoo.cfg.")
    var config: String

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        let logger = Logger(label: "warren")
        let cfg: ServerConfig
        let monitoringConfig: MonitoringConfig
        do {
            var loaded = try ServerConfig.load(path: config)
            loaded.applyJVMFlags(ProcessInfo.processInfo.environment)
            if let warning = loaded.peerTypeMismatch { logger.warning("\(warning)") }
            for warning in loaded.unsupportedKeyWarnings { logger.warning("\(warning)") }
            cfg = loaded
            monitoringConfig = try MonitoringConfig(extra: cfg.extra)
        } catch {
            logger.critical("invalid configuration: \(error)")
            throw ExitCode(2)
        }
        // Block SIGTERM/SIGINT in every thread (threads started later inherit the mask) and take them with sigwait
        // on a thread of our own: a clean shutdown that does not depend on which thread the kernel picks.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        // Before the server: with metrics on, this bootstraps swift-metrics, which the server's instruments use.
        let monitoring = MonitoringService(config: monitoringConfig, logger: logger)
        let server = ServerShell(config: cfg, logger: logger)
        do {
            try server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            server.shutdown()
            throw ExitCode(1)
        }
        monitoring.start(source: server)
        let waitFor = stopSignals
        let signalThread = Thread {
            var set = waitFor
            var received: Int32 = 0
            sigwait(&set, &received)
            logger.info("shutting down on signal \(received)")
            server.shutdown()
            Foundation.exit(0)
        }
        signalThread.name = "warren-signals"
        signalThread.start()
        try server.wait()
        // The listener closes at the start of a shutdown: wait for the rest of it (the log, a final snapshot)
        // before returning ends the process.
        server.shutdown()
        Foundation.exit(0)
    }
}

Warren.main()
