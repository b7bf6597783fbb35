import ArgumentParser
import Foundation

struct EnsembleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ensemble", abstract: "Development ensembles on this machine.", subcommands: [EnsembleUp.self])
}

/// Writes a zoo.cfg and myid per server and runs them all as children in this process's foreground process group,
/// so Ctrl-C stops every server. Ports: clients `basePort + i`, quorum `basePort + 1000 + i`, election (reserved,
/// unused: Warren routes votes over the quorum connection) `basePort + 2000 + i`, for i in 0..<size; 127.0.0.1 only.
struct EnsembleUp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Write configs for a local ensemble and run it in the foreground.")

    @Option(name: .long, help: "Number of servers.")
    var size: Int = 3

    @Option(name: .long, help: "Client port of server 1; the others follow.")
    var basePort: Int = 2181

    @Option(name: .long, help: "Directory for the configs and data (default: a new temporary directory).")
    var dir: String?

    @Option(name: .long, help: "tickTime in milliseconds.")
    var tickTime: Int = 200

    @Option(name: .long, help: "Log level passed to every server.")
    var logLevel: String = "info"

    func validate() throws {
        guard (1...9).contains(size) else { throw ValidationError("--size must be between 1 and 9") }
        guard basePort > 0 && basePort + 2000 + size < 65536 else { throw ValidationError("--base-port out of range") }
    }

    func run() throws {
        let root = dir ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("warren-ensemble-\(getpid())")
        let configs = try Self.writeConfigs(root: root, size: size, basePort: basePort, tickTimeMs: tickTime)
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        // SIGINT/SIGTERM are blocked in every thread and taken with sigwait on one of ours (a Dispatch signal source
        // never fired here while the main thread waited on the children). The servers inherit the mask; `warren
        // server` takes the same signals with sigwait, so they still stop on SIGTERM.
        var stopSignals = sigset_t()
        sigemptyset(&stopSignals)
        sigaddset(&stopSignals, SIGTERM)
        sigaddset(&stopSignals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        var children: [Process] = []
        for (i, cfg) in configs.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["server", "--config", cfg, "--log-level", logLevel]
            try p.run()
            children.append(p)
            print("server.\(i + 1): pid \(p.processIdentifier), client 127.0.0.1:\(basePort + i), config \(cfg)")
        }
        print("connect string: " + (0..<size).map { "127.0.0.1:\(basePort + $0)" }.joined(separator: ","))
        let pids = children.map(\.processIdentifier)
        let stopAll: @Sendable () -> Void = {
            for pid in pids { kill(pid, SIGTERM) }
        }
        let waitFor = stopSignals
        let signalThread = Thread {
            var set = waitFor
            var received: Int32 = 0
            sigwait(&set, &received)
            stopAll()
        }
        signalThread.start()
        for p in children { p.waitUntilExit() }
        print("all servers stopped; data kept in \(root)")
    }

    /// Writes `<root>/server<N>/zoo.cfg` and `<root>/server<N>/data/myid` for N in 1...size; returns the config paths.
    static func writeConfigs(root: String, size: Int, basePort: Int, tickTimeMs: Int) throws -> [String] {
        let fm = FileManager.default
        let servers = (1...size).map { n in
            "server.\(n)=127.0.0.1:\(basePort + 1000 + n - 1):\(basePort + 2000 + n - 1)"
        }.joined(separator: "\n")
        var paths: [String] = []
        for n in 1...size {
            let dir = (root as NSString).appendingPathComponent("server\(n)")
            let data = (dir as NSString).appendingPathComponent("data")
            try fm.createDirectory(atPath: data, withIntermediateDirectories: true)
            try "\(n)\n".write(toFile: (data as NSString).appendingPathComponent("myid"), atomically: true, encoding: .utf8)
            let cfg = """
                tickTime=\(tickTimeMs)
                initLimit=10
                syncLimit=5
                dataDir=\(data)
                clientPort=\(basePort + n - 1)
                clientPortAddress=127.0.0.1
                4lw.commands.whitelist=*
                \(servers)

                """
            let path = (dir as NSString).appendingPathComponent("zoo.cfg")
            try cfg.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        return paths
    }
}
