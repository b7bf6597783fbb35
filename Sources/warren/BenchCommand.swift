import ArgumentParser
import Foundation
import WarrenBench

extension Workload: ExpressibleByArgument {}

/// `warren bench`: load against any ZooKeeper-protocol server, with latency percentiles and the generator's own
/// CPU cost.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Generate load against ZooKeeper-protocol servers and report throughput and latency.",
        discussion: """
            Setup creates --keys znodes of --value-bytes under /warren-bench; the workload runs for --warmup then \
            --duration seconds with --outstanding pipelined requests on each of --connections sessions; cleanup \
            removes /warren-bench. Workloads: read, write, mixed (--read-percent), create-seq, churn (create then \
            delete), watch-fanout (one writer, --watchers watching sessions; an op is a notification), \
            session-churn (open and close sessions).
            """)

    @Option(name: .long, help: "Servers as host:port[,host:port...]; connections are spread over them.")
    var hosts: String = "127.0.0.1:2181"

    @Option(name: .long, help: "Sessions to open (loops for session-churn).")
    var connections: Int = 8

    @Option(name: .long, help: "Pipelined requests in flight per connection.")
    var outstanding: Int = 32

    @Option(name: .long, help: "Bytes per znode value.")
    var valueBytes: Int = 1024

    @Option(name: .long, help: "Znodes created for read, write and mixed.")
    var keys: Int = 1000

    @Option(name: .long, help: "Parent of the bench tree (removed at the end unless --no-cleanup).")
    var root: String = "/warren-bench"

    @Option(name: .long, help: "Keys per directory: keys/d<j>/k<i> instead of all under keys/ (0: flat).")
    var keysPerDir: Int = 0

    @Option(name: .long, help: "Measured seconds (0: set up only; see --no-cleanup).")
    var duration: Double = 10

    @Option(name: .long, help: "Seconds of load before measuring.")
    var warmup: Double = 2

    @Option(name: .long, help: "read | write | mixed | create-seq | churn | watch-fanout | session-churn")
    var workload: Workload = .read

    @Option(name: .long, help: "Share of reads in the mixed workload, 0-100.")
    var readPercent: Int = 90

    @Option(name: .long, help: "Watching sessions for watch-fanout.")
    var watchers: Int = 50

    @Option(name: .long, help: "Generator threads (each runs one poll loop over its share of connections).")
    var threads: Int = 1

    @Option(name: .long, help: ArgumentHelp(
        "Open loop: total requests per second on a fixed schedule (read, write, mixed); latency counts from the "
            + "scheduled send time. --outstanding caps each connection; a request due on a full connection is "
            + "dropped and reported. 0: closed loop."))
    var rate: Double = 0

    @Option(name: .long, help: "Random seed for key choice.")
    var seed: UInt64 = 0x5EED

    @Flag(name: .long, inversion: .prefixedNo, help: "Remove /warren-bench at the end.")
    var cleanup = true

    @Flag(name: .long, help: "Print the result as JSON on stdout (progress goes to stderr).")
    var json = false

    func run() throws {
        var config = BenchConfig(hosts: [])
        do {
            config.hosts = try HostPort.parseList(hosts)
        } catch {
            throw ValidationError("\(error)")
        }
        config.connections = connections
        config.outstanding = outstanding
        config.valueBytes = valueBytes
        config.keys = keys
        config.keysPerDir = keysPerDir
        config.root = root
        config.durationSeconds = duration
        config.warmupSeconds = warmup
        config.workload = workload
        config.readPercent = readPercent
        config.watchers = watchers
        config.threads = threads
        config.ratePerSecond = rate
        config.seed = seed
        config.cleanup = cleanup
        do {
            try config.validate()
        } catch {
            throw ValidationError("\(error)")
        }
        let result: BenchResult
        do {
            result = try BenchRunner.run(config) { line in
                FileHandle.standardError.write(Data("warren bench: \(line)\n".utf8))
            }
        } catch {
            FileHandle.standardError.write(Data("warren bench: \(error)\n".utf8))
            throw ExitCode(1)
        }
        print(json ? result.json() : result.text())
    }
}
