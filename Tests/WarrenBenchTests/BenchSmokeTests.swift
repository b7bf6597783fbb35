import Foundation
import XCTest

import WarrenJute
@testable import WarrenBench

/// Runs the engine against a real Warren server binary on a free loopback port: `$WARREN_BIN` if set, else
/// `.build/debug/warren`. Skipped, saying why, when that binary is missing or exits at start (a stale build).
final class BenchSmokeTests: XCTestCase {
    private static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    private var server: Process?
    private var workDir: URL?

    override func tearDown() {
        if let server, server.isRunning {
            server.terminate()
            server.waitUntilExit()
        }
        if let workDir { try? FileManager.default.removeItem(at: workDir) }
        super.tearDown()
    }

    func testReadAndWriteAgainstWarren() throws {
        let port = try startServer()
        for workload in [Workload.read, .write] {
            var config = Self.smallConfig(port: port, workload)
            config.outstanding = 8
            config.warmupSeconds = 0
            let result = try BenchRunner.run(config)
            XCTAssertGreaterThan(result.ops, 0, "\(workload): no ops\n\(result.text())")
            XCTAssertEqual(result.errorsTotal, 0, "\(workload): \(result.errors)")
            XCTAssertEqual(result.connectionErrors, 0, "\(workload): \(result.connectionErrorSamples)")
            let l = result.latencyMicros
            XCTAssertGreaterThan(l.p50, 0, "\(workload)")
            XCTAssertLessThanOrEqual(l.p50, l.p90, "\(workload)")
            XCTAssertLessThanOrEqual(l.p90, l.p99, "\(workload)")
            XCTAssertLessThanOrEqual(l.p99, l.p999, "\(workload)")
            XCTAssertLessThanOrEqual(l.p999, l.max, "\(workload)")
            XCTAssertTrue(result.notes.isEmpty, "\(workload): cleanup left something: \(result.notes)")

            let decoded = try JSONDecoder().decode(BenchResult.self, from: Data(result.json().utf8))
            XCTAssertEqual(decoded.ops, result.ops)
            XCTAssertEqual(decoded.workload, workload)
        }
    }

    func testOpenLoopKeepsItsScheduleAgainstWarren() throws {
        let port = try startServer()
        var config = Self.smallConfig(port: port, .mixed)
        config.readPercent = 50
        config.outstanding = 64
        config.warmupSeconds = 0.2
        config.ratePerSecond = 500
        let result = try BenchRunner.run(config)
        XCTAssertEqual(result.targetRatePerSecond, 500)
        // A modest schedule on a local server: every scheduled request is sent and answered in the window, give or
        // take the few in flight at its edges. Nothing here is about speed.
        XCTAssertEqual(Double(result.ops), 500, accuracy: 25, result.text())
        XCTAssertEqual(result.dropped, 0, result.text())
        XCTAssertEqual(result.errorsTotal, 0, "\(result.errors)")
        XCTAssertGreaterThan(result.latencyMicros.p50, 0)
        XCTAssertLessThanOrEqual(result.latencyMicros.p50, result.latencyMicros.p99)
        XCTAssertThrowsError(try { () throws -> Void in
            var bad = config
            bad.workload = .churn
            try bad.validate()
        }(), "--rate is refused for workloads without a schedule")
    }

    /// A schedule far beyond what one session with one request in flight can carry: requests queue instead of
    /// being dropped, so every scheduled request is either answered (with its queueing in its latency) or counted
    /// as never sent. Nothing here is about speed.
    func testOpenLoopQueuesWhatItCannotSendAndCountsTheRest() throws {
        let port = try startServer()
        var config = Self.smallConfig(port: port, .write)
        config.connections = 1
        config.outstanding = 1
        config.warmupSeconds = 0
        config.ratePerSecond = 200_000
        let result = try BenchRunner.run(config)
        let scheduled = config.ratePerSecond * config.durationSeconds
        let dropped = Double(try XCTUnwrap(result.dropped))
        XCTAssertGreaterThan(result.ops, 0, result.text())
        XCTAssertGreaterThan(dropped, 0, "a backlog was left when the window closed: \(result.text())")
        XCTAssertEqual(Double(result.ops) + dropped, scheduled, accuracy: scheduled * 0.01, result.text())
        // Fewer than half were answered, so the last answered ones were scheduled in the first half of the window:
        // their latency, counted from the schedule, includes the time they queued.
        XCTAssertLessThan(Double(result.ops), scheduled / 2, result.text())
        XCTAssertGreaterThan(result.latencyMicros.max, 0.4e6 * config.durationSeconds, result.text())
        XCTAssertEqual(result.errorsTotal, 0, "\(result.errors)")
    }

    /// `--keys-per-dir`: the keys sit in directories of that many children (the last one holding the rest), reads
    /// find them there, and cleanup removes the directories too.
    func testKeysSpreadOverDirectories() throws {
        let port = try startServer()
        var config = Self.smallConfig(port: port, .read)
        config.keysPerDir = 7
        config.cleanup = false
        config.warmupSeconds = 0
        let result = try BenchRunner.run(config)
        XCTAssertGreaterThan(result.ops, 0, result.text())
        XCTAssertEqual(result.errorsTotal, 0, "\(result.errors)")

        let (conns, errors) = Phases.open(1, config)
        XCTAssertEqual(errors, [])
        func children(_ path: String) -> [String]? {
            var found: [String]?
            Phases.runScript([.getChildren(GetChildrenRequest(path: path, watch: false))], on: conns, outstanding: 1,
                             limitSeconds: 10) { _, header, body in
                if header.err == 0 { found = (try? GetChildrenResponse(from: &body))?.children }
                return .done
            }
            return found
        }
        XCTAssertEqual(children(config.keysDir)?.sorted(), (0..<8).map { "d\($0)" }.sorted())
        XCTAssertEqual(children(config.keysDir + "/d0")?.sorted(), (0..<7).map { "k\($0)" }.sorted())
        XCTAssertEqual(children(config.keysDir + "/d7"), ["k49"])
        XCTAssertEqual(config.keyPath(49), "/warren-bench/keys/d7/k49")

        config.cleanup = true
        config.durationSeconds = 0
        let again = try BenchRunner.run(config)
        XCTAssertEqual(again.errorsTotal, 0, "\(again.errors)")
        XCTAssertTrue(again.notes.isEmpty, "cleanup left something: \(again.notes)")
        XCTAssertNil(children(config.root), "cleanup removed the whole bench tree")
        for c in conns { c.close(sayGoodbye: true) }
    }

    /// Two sessions, 50 keys of 100 bytes, one measured second.
    private static func smallConfig(port: Int, _ workload: Workload) -> BenchConfig {
        var config = BenchConfig(hosts: [HostPort(host: "127.0.0.1", port: port)])
        config.workload = workload
        config.connections = 2
        config.keys = 50
        config.valueBytes = 100
        config.durationSeconds = 1
        return config
    }

    func testUnreachableServerIsAConnectError() throws {
        var config = BenchConfig(hosts: [HostPort(host: "127.0.0.1", port: try Self.freePort())])
        config.durationSeconds = 1
        XCTAssertThrowsError(try BenchRunner.run(config)) { error in
            guard case BenchError.connect = error else { return XCTFail("expected a connect error, got \(error)") }
        }
    }

    // MARK: - Server process

    private func startServer() throws -> Int {
        let binary = ProcessInfo.processInfo.environment["WARREN_BIN"].map { URL(fileURLWithPath: $0) }
            ?? Self.repoRoot.appendingPathComponent(".build/debug/warren")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            throw XCTSkip("no Warren server binary at \(binary.path); run `swift build` first or set WARREN_BIN")
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-bench-smoke-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("data"), withIntermediateDirectories: true)
        workDir = dir
        let port = try Self.freePort()
        let cfg = dir.appendingPathComponent("zoo.cfg")
        try """
            tickTime=2000
            dataDir=\(dir.appendingPathComponent("data").path)
            clientPort=\(port)
            clientPortAddress=127.0.0.1
            maxClientCnxns=0
            """.write(to: cfg, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = binary
        p.arguments = ["server", "--config", cfg.path, "--log-level", "warning"]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        server = p
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            guard p.isRunning else { throw XCTSkip(
                    "\(binary.path) exited with status \(p.terminationStatus) instead of serving; rebuild it or set WARREN_BIN") }
            if (try? BenchConnection.open(index: 0, target: HostPort(host: "127.0.0.1", port: port), sessionTimeoutMs: 5000))
                .map({ Engine.closeSessions([$0]) }) != nil
            {
                return port
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTFail("Warren server did not accept a session on port \(port) within 20 s")
        throw XCTSkip("server did not start")
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
                bind(fd, sa, len) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard bound else { throw XCTSkip("cannot bind a loopback socket") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
