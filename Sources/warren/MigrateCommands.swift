import ArgumentParser
import Foundation
import WarrenMigrate
import WarrenServer

/// `warren import`: see `ZooKeeperImport.run` and Docs/operations.md ("Migration").
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Convert an Apache ZooKeeper data directory (snapshots and transaction logs) into a Warren dataDir.")

    @Option(name: .long, help: "ZooKeeper's dataDir (holding version-2/snapshot.* and, by default, log.*).")
    var zookeeperDatadir: String

    @Option(name: .long, help: "ZooKeeper's dataLogDir, when it is not its dataDir.")
    var zookeeperDatalogdir: String?

    @Option(name: .long, help: "The Warren dataDir to create.")
    var datadir: String

    @Flag(name: .long, help: "Replace the version-2 folder of a non-empty --datadir.")
    var force = false

    func run() throws {
        let started = ContinuousClock.now
        let report: ImportReport
        do {
            report = try ZooKeeperImport.run(zookeeperDataDir: zookeeperDatadir, zookeeperDataLogDir: zookeeperDatalogdir,
                                             outDataDir: datadir, force: force, progress: Progress())
        } catch let e as MigrationError {
            printError("warren import: \(e)")
            throw ExitCode(1)
        }
        for line in report.warnings { printError("warning: \(line)") }
        print("imported \(report.nodes) znodes at zxid 0x\(String(report.lastZxid, radix: 16)) from "
            + "\(report.snapshotFile ?? "no snapshot") plus \(report.txnsReplayed) logged txns; dropped "
            + "\(report.droppedEphemerals) ephemerals of \(report.droppedSessions) sessions; wrote \(report.outputFile) "
            + "(\(report.outputBytes) bytes) in \(started.duration(to: .now))")
    }
}

/// `warren export`: see `WarrenExport.run` and Docs/operations.md ("Migration").
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a Warren dataDir's tree as an Apache ZooKeeper snapshot (for rolling back to ZooKeeper).")

    @Option(name: .long, help: "The Warren dataDir (stop the server first).")
    var datadir: String?

    @Option(name: .long, help: "Warren's dataLogDir, when it is not its dataDir.")
    var datalogdir: String?

    @Option(name: .long, help: "Warren's zoo.cfg, to take dataDir and dataLogDir from (instead of the two above).")
    var config: String?

    @Option(name: .long, help: "The ZooKeeper dataDir to create.")
    var zookeeperDatadir: String

    @Flag(name: .long, help: "Replace the version-2 folder of a non-empty --zookeeper-datadir.")
    var force = false

    func run() throws {
        let started = ContinuousClock.now
        var dataDir = datadir
        var dataLogDir = datalogdir
        if let config {
            // A separate dataLogDir left out would silently lose the writes logged since the last snapshot.
            let cfg = try ServerConfig.load(path: config)
            dataDir = cfg.dataDir
            dataLogDir = cfg.dataLogDir
        }
        guard let dataDir, (config == nil) != (datadir == nil) else {
            throw ValidationError("give either --datadir (and --datalogdir if apart) or --config")
        }
        let report: ExportReport
        do {
            report = try WarrenExport.run(dataDir: dataDir, dataLogDir: dataLogDir, zookeeperDataDir: zookeeperDatadir,
                                          force: force, progress: Progress())
        } catch let e as MigrationError {
            printError("warren export: \(e)")
            throw ExitCode(1)
        }
        print("exported \(report.nodes) znodes at zxid 0x\(String(report.lastZxid, radix: 16)); dropped "
            + "\(report.droppedEphemerals) ephemerals; wrote \(report.outputFile) (\(report.outputBytes) bytes) in "
            + "\(started.duration(to: .now))")
    }
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
