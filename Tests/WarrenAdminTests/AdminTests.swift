import Prometheus
import XCTest
@testable import WarrenAdmin
@testable import WarrenCore
@testable import WarrenServer
import WarrenTree
import WarrenZab

final class AdminTests: XCTestCase {
    static func facts(mode: String = "standalone", ensemble: EnsembleFacts? = nil) -> ServerFacts {
        ServerFacts(
            monitor: [("zk_version", "3.8.0-warren"), ("zk_server_state", mode), ("zk_avg_latency", "0.5000"),
                      ("zk_znode_count", "7"), ("zk_watch_count", "3"), ("zk_packets_received", "11"),
                      ("zk_packets_sent", "12"), ("zk_last_zxid", "0x5"), ("warren_elections", "2"),
                      ("zk_bytes_received_count", "100")],
            conf: [("clientPort", "2181"), ("secureClientPort", "-1"), ("dataDir", "/d/version-2"), ("dataDirSize", "10"),
                   ("dataLogDir", "/d/version-2"), ("dataLogSize", "20"), ("maxClientCnxns", "60"), ("serverId", "0")],
            environment: [("zookeeper.version", "3.8.0-warren"), ("os.name", "Linux")],
            version: "3.8.0-warren", mode: mode, lastProcessedZxid: 0x1_0000_0005, digest: 42,
            connections: [ConnectionFacts(
                remote: "127.0.0.1:5000", outstanding: 0, received: 4, sent: 4, sessionId: 77, lastOp: "GETD",
                establishedWallMs: 1000, timeoutMs: 4000, lastCxid: 3, lastZxid: 2, lastResponseWallMs: 2000,
                lastLatencyMs: 1, minLatencyMs: 0, avgLatencyMs: 0.5, maxLatencyMs: 1)],
            watchSummary: WatchSummary(watchers: 1, paths: 2, watches: 3),
            watchesBySession: [(77, ["/a", "/b"])], watchersByPath: [("/a", [77])],
            sessionsByExpiry: [(5000, [77])], ephemeralsBySession: [(77, ["/e"])], ensemble: ensemble)
    }

    static let peers = [
        PeerConfig(id: 1, host: "127.0.0.1", quorumPort: 2888, electionPort: 3888, isObserver: false, clientHost: nil,
                   clientPort: nil),
        PeerConfig(id: 2, host: "127.0.0.2", quorumPort: 2889, electionPort: 3889, isObserver: false,
                   clientHost: "127.0.0.2", clientPort: 2182),
    ]

    func testJSONTextKeepsOrderAndEscapes() {
        let v = JSON.object([("b", .int(1)), ("a", .string("q\"\\\n\u{1}")), ("n", .null),
                             ("x", .array([.bool(true), .double(0.5)]))])
        XCTAssertEqual(v.text, #"{"b":1,"a":"q\"\\\n\u0001","n":null,"x":[true,0.5]}"#)
        XCTAssertEqual(JSON.number(or: "12"), .int(12))
        XCTAssertEqual(JSON.number(or: "0.2500"), .double(0.25))
        XCTAssertEqual(JSON.number(or: "0x1f"), .string("0x1f"))
        XCTAssertEqual(JSON.double(.infinity).text, "null")
    }

    func testConfigDefaults() throws {
        let c = try MonitoringConfig(extra: [])
        XCTAssertFalse(c.adminEnabled, "off unless asked for (see MonitoringConfig)")
        XCTAssertEqual(c.adminPort, 8080)
        XCTAssertEqual(c.adminAddress, "0.0.0.0")
        XCTAssertEqual(c.commandURL, "/commands")
        XCTAssertEqual(c.idleTimeoutMs, 30_000)
        XCTAssertFalse(c.metricsEnabled)
        XCTAssertEqual(c.metricsPort, 7000)
    }

    func testConfigKeysAndErrors() throws {
        let c = try MonitoringConfig(extra: [
            ("admin.enableServer", "true"), ("zookeeper.admin.serverPort", "9090"), ("admin.serverAddress", "127.0.0.1"),
            ("admin.commandURL", "/cmd/"), ("admin.idleTimeout", "500"),
            ("metricsProvider.className", MonitoringConfig.prometheusProviderClass),
            ("metricsProvider.httpPort", "7001"), ("metricsProvider.httpHost", "127.0.0.1"),
            ("metricsProvider.exportJvmInfo", "true"), ("unrelated.key", "x"),
        ])
        XCTAssertTrue(c.adminEnabled)
        XCTAssertEqual(c.adminPort, 9090)
        XCTAssertEqual(c.adminAddress, "127.0.0.1")
        XCTAssertEqual(c.commandURL, "/cmd")
        XCTAssertEqual(c.idleTimeoutMs, 500)
        XCTAssertTrue(c.metricsEnabled)
        XCTAssertEqual(c.metricsPort, 7001)
        XCTAssertThrowsError(try MonitoringConfig(extra: [("admin.serverPort", "70000")])) { error in
            XCTAssertTrue("\(error)".contains("admin.serverPort"), "\(error)")
        }
        XCTAssertThrowsError(try MonitoringConfig(extra: [("admin.enableServer", "yes")]))
        XCTAssertThrowsError(try MonitoringConfig(extra: [("metricsProvider.httpPort", "x")]))
        XCTAssertThrowsError(try MonitoringConfig(extra: [("admin.commandURL", "commands")]))
        let other = try MonitoringConfig(extra: [("metricsProvider.className", "org.example.OtherProvider")])
        XCTAssertFalse(other.metricsEnabled)
        XCTAssertFalse(c.snapshotEnabled, "the whole tree over HTTP without authentication: off unless asked for")
        XCTAssertEqual(c.snapshotIntervalMs, 300_000)
        let snap = try MonitoringConfig(extra: [("admin.snapshot.enabled", "true"),
                                                ("zookeeper.admin.snapshot.intervalInMS", "1000")])
        XCTAssertTrue(snap.snapshotEnabled)
        XCTAssertEqual(snap.snapshotIntervalMs, 1000)
        XCTAssertThrowsError(try MonitoringConfig(extra: [("admin.snapshot.intervalInMS", "-1")]))
    }

    func testSnapshotGateLetsOnePerInterval() {
        let gate = SnapshotGate(intervalMs: 60_000)
        XCTAssertNil(gate.take())
        let wait = gate.take()
        XCTAssertNotNil(wait)
        XCTAssertTrue((59_000...60_001).contains(wait ?? 0), "\(String(describing: wait))")
        XCTAssertNil(SnapshotGate(intervalMs: 0).take())
    }

    func testRoutes() {
        func r(_ m: String, _ u: String, metrics: Bool = true) -> AdminRoute {
            AdminRoute.route(method: m, uri: u, commandURL: "/commands", metrics: metrics)
        }
        XCTAssertEqual(r("GET", "/metrics"), .metrics)
        XCTAssertEqual(r("GET", "/metrics", metrics: false), .notFound)
        XCTAssertEqual(r("GET", "/commands"), .commandIndex)
        XCTAssertEqual(r("GET", "/commands/"), .commandIndex)
        XCTAssertEqual(r("GET", "/commands/mntr?x=1"), .command("mntr"))
        XCTAssertEqual(r("HEAD", "/commands/ruok"), .command("ruok"))
        XCTAssertEqual(r("POST", "/commands/ruok"), .methodNotAllowed)
        XCTAssertEqual(r("DELETE", "/metrics"), .methodNotAllowed)
        XCTAssertEqual(r("GET", "/commands/a/b"), .notFound)
        XCTAssertEqual(r("GET", "/commandsx"), .notFound)
        XCTAssertEqual(r("POST", "/nowhere"), .notFound)
        XCTAssertEqual(AdminRoute.route(method: "GET", uri: "/commands/ruok", commandURL: nil, metrics: true), .notFound)
    }

    func testEveryNameAndAliasResolvesToItsPrimary() {
        let expected: [String: String] = [
            "mntr": "monitor", "monitor": "monitor", "srvr": "server_stats", "server_stats": "server_stats",
            "stat": "stats", "conf": "configuration", "config": "configuration", "cons": "connections",
            "envi": "environment", "env": "environment", "wchs": "watch_summary", "wchc": "watches",
            "wchp": "watches_by_path", "isro": "is_read_only", "lead": "leader", "ruok": "ruok", "dump": "dump",
            "hash": "hash", "dirs": "dirs", "voting_view": "voting_view", "zabstate": "zabstate",
        ]
        for (name, primary) in expected {
            XCTAssertEqual(AdminCommands.named(name)?.primaryName, primary, name)
        }
        XCTAssertNil(AdminCommands.named("nosuch"))
        XCTAssertEqual(AdminCommands.unknown("nosuch"),
                       .object([("command", .string("nosuch")), ("error", .string("Unknown command: nosuch"))]))
    }

    func testResponsesCarryCommandAndErrorLast() {
        let f = Self.facts()
        for command in AdminCommands.all {
            guard case .object(let fields) = command.response(f) else { return XCTFail(command.primaryName) }
            XCTAssertEqual(fields.suffix(2).map(\.0), ["command", "error"], command.primaryName)
            XCTAssertEqual(fields[fields.count - 2].1, .string(command.primaryName))
        }
        XCTAssertEqual(AdminCommands.named("ruok")!.response(f), .object([("command", .string("ruok")), ("error", .null)]))
    }

    func testMonitorAndServerStatsFromMntrRows() {
        let f = Self.facts()
        let mntr = AdminCommands.named("mntr")!.response(f)
        XCTAssertEqual(mntr["znode_count"], .int(7))
        XCTAssertEqual(mntr["avg_latency"], .double(0.5))
        XCTAssertEqual(mntr["server_state"], .string("standalone"))
        XCTAssertEqual(mntr["version"], .string("3.8.0-warren"))
        XCTAssertEqual(mntr["last_zxid"], .string("0x5"))
        XCTAssertEqual(mntr["warren_elections"], .int(2))
        let srvr = AdminCommands.named("srvr")!.response(f)
        XCTAssertEqual(srvr["node_count"], .int(7))
        XCTAssertEqual(srvr["server_stats"]?["packets_received"], .int(11))
        XCTAssertEqual(srvr["server_stats"]?["server_state"], .string("standalone"))
        XCTAssertEqual(srvr["server_stats"]?["data_dir_size"], .int(10))
        XCTAssertEqual(srvr["read_only"], .bool(false))
        let conf = AdminCommands.named("conf")!.response(f)
        XCTAssertEqual(conf["client_port"], .int(2181))
        XCTAssertEqual(conf["max_client_cnxns"], .int(60))
        XCTAssertEqual(conf["data_dir"], .string("/d/version-2"))
        XCTAssertNil(conf["data_dir_size"])
    }

    func testSessionAndWatchCommands() {
        let f = Self.facts()
        XCTAssertEqual(AdminCommands.named("wchs")!.response(f)["num_total_watches"], .int(3))
        XCTAssertEqual(AdminCommands.named("wchc")!.response(f)["session_id_to_watched_paths"]?["77"],
                       .array([.string("/a"), .string("/b")]))
        XCTAssertEqual(AdminCommands.named("wchp")!.response(f)["path_to_session_ids"]?["/a"], .array([.int(77)]))
        let dump = AdminCommands.named("dump")!.response(f)
        XCTAssertEqual(dump["expiry_time_to_session_ids"]?["5000"], .array([.int(77)]))
        XCTAssertEqual(dump["session_id_to_ephemeral_paths"]?["77"], .array([.string("/e")]))
        guard case .array(let conns)? = AdminCommands.named("cons")!.response(f)["connections"] else { return XCTFail() }
        XCTAssertEqual(conns.first?["session_id"], .int(77))
        XCTAssertEqual(conns.first?["last_operation"], .string("GETD"))
    }

    func testEnsembleCommands() {
        let e = EnsembleFacts(myid: 2, peers: Self.peers, clientAddress: "127.0.0.2:2182", zabState: .following, serving: true, leaderId: 1, epoch: 1,
                              elections: 1, followers: nil)
        let f = Self.facts(mode: "follower", ensemble: e)
        let lead = AdminCommands.named("leader")!.response(f)
        XCTAssertEqual(lead["is_leader"], .bool(false))
        XCTAssertEqual(lead["leader_id"], .int(1))
        XCTAssertEqual(lead["leader_ip"], .string("127.0.0.1"))
        let zab = AdminCommands.named("zabstate")!.response(f)
        XCTAssertEqual(zab["zabstate"], .string("broadcast"))
        XCTAssertEqual(zab["voting"], .bool(true))
        XCTAssertEqual(zab["myid"], .int(2))
        XCTAssertEqual(zab["zab_epoch"], .int(1))
        XCTAssertEqual(zab["zab_counter"], .int(5))
        XCTAssertEqual(zab["client_address"], .string("127.0.0.2:2182"))
        let view = AdminCommands.named("voting_view")!.response(f)["current_config"]
        XCTAssertEqual(view?["1"]?["server_addresses"], .array([.string("127.0.0.1:2888")]))
        XCTAssertEqual(view?["2"]?["learner_type"], .string("participant"))
        XCTAssertEqual(view?["1"]?["client_address"], .string(""))
        XCTAssertEqual(zab["quorum_address"]?["one"], .string("127.0.0.2:2889"))
        // Standalone: ZooKeeper's answers for a server that is not a quorum peer.
        XCTAssertEqual(AdminCommands.named("leader")!.response(Self.facts())["error"], .string("server is not initialized"))
        XCTAssertEqual(AdminCommands.named("zabstate")!.response(Self.facts())["zabstate"], .string(""))
        // Looking: only the commands ZooKeeper answers without a serving server.
        let looking = Self.facts(mode: "looking", ensemble: e)
        XCTAssertEqual(AdminCommands.named("srvr")!.response(looking)["error"],
                       .string("This ZooKeeper instance is not currently serving requests"))
        XCTAssertEqual(AdminCommands.named("mntr")!.response(looking)["error"], .null)
    }

    func testLastSnapshotInZooKeepersShape() {
        var f = Self.facts()
        XCTAssertEqual(AdminCommands.named("lsnp")!.response(f).text,
                       #"{"zxid":"ffffffffffffffff","timestamp":-1,"command":"last_snapshot","error":null}"#)
        f.lastSnapshot = (zxid: 0x1_0000_002a, timestampSeconds: 1_700_000_000)
        XCTAssertEqual(AdminCommands.named("last_snapshot")!.response(f).text,
                       #"{"zxid":"10000002a","timestamp":1700000000,"command":"last_snapshot","error":null}"#)
    }

    func testResetCommandsNameWhatTheyReset() {
        XCTAssertEqual(AdminCommands.named("srst")?.reset, .server)
        XCTAssertEqual(AdminCommands.named("connection_stat_reset")?.reset, .connections)
        XCTAssertNil(AdminCommands.named("srvr")?.reset)
        XCTAssertEqual(AdminCommands.named("stat_reset")!.response(Self.facts()).text, #"{"command":"stat_reset","error":null}"#)
    }

    func testOpcodeLabels() {
        XCTAssertEqual(ServerMetrics.opLabel(.getData), "get_data")
        XCTAssertEqual(ServerMetrics.opLabel(.getACL), "get_acl")
        XCTAssertEqual(ServerMetrics.opLabel(.createTTL), "create_ttl")
        XCTAssertEqual(ServerMetrics.opLabel(.setWatches2), "set_watches2")
        XCTAssertEqual(ServerMetrics.opLabel(.whoAmI), "who_am_i")
        XCTAssertEqual(ServerMetrics.opLabel(.create2), "create2")
    }

    func testMetricsRenderZooKeeperGaugesAndRoles() {
        XCTAssertEqual(MetricsExporter.metricName(forMonitorKey: "zk_znode_count"), "znode_count")
        XCTAssertEqual(MetricsExporter.metricName(forMonitorKey: "warren_elections"), "warren_elections")
        XCTAssertNil(MetricsExporter.metricName(forMonitorKey: "zk_version"))
        XCTAssertNil(MetricsExporter.metricName(forMonitorKey: "zk_last_zxid"))
        let exporter = MetricsExporter()
        let text = String(decoding: exporter.render(Self.facts()), as: UTF8.self)
        XCTAssertTrue(text.contains("# TYPE znode_count gauge\nznode_count 7"), text)
        XCTAssertTrue(text.contains("# TYPE avg_latency gauge\navg_latency 0.5"), text)
        XCTAssertTrue(text.contains(#"warren_server_role{role="standalone"} 1"#), text)
        XCTAssertTrue(text.contains(#"warren_server_role{role="leader"} 0"#), text)
        XCTAssertFalse(text.contains("version"), text)
        XCTAssertTrue(text.contains("# TYPE bytes_received_count counter\nbytes_received_count 100"), text)
        // A counter follows mntr's running total across scrapes, and restarts when the total does.
        var later = Self.facts()
        later.monitor = later.monitor.map { $0.0 == "zk_bytes_received_count" ? ($0.0, "250") : $0 }
        XCTAssertTrue(String(decoding: exporter.render(later), as: UTF8.self).contains("bytes_received_count 250"))
        later.monitor = later.monitor.map { $0.0 == "zk_bytes_received_count" ? ($0.0, "7") : $0 }
        XCTAssertTrue(String(decoding: exporter.render(later), as: UTF8.self).contains("bytes_received_count 7\n"))
    }

    func testRecentSummaryKeepsTotalsAndTheMedianOfRecentObservations() {
        let summary = RecentSummary()
        XCTAssertEqual(summary.snapshot(), RecentSummary.Snapshot(count: 0, sum: 0, median: nil))
        for v in [5.0, 1.0, 3.0, 2.0] { summary.observe(v) }
        XCTAssertEqual(summary.snapshot(), RecentSummary.Snapshot(count: 4, sum: 11, median: 2))
        // Past the window the oldest observations leave the median; count and sum keep everything.
        for _ in 0..<RecentSummary.samplesMax { summary.observe(100) }
        let later = summary.snapshot()
        XCTAssertEqual(later.count, Int64(4 + RecentSummary.samplesMax))
        XCTAssertEqual(later.sum, 11 + 100 * Double(RecentSummary.samplesMax))
        XCTAssertEqual(later.median, 100)
    }

    func testSummariesRenderInZooKeepersShape() {
        let empty = String(decoding: MetricsExporter.summaryText("fsynctime", .init(count: 0, sum: 0, median: nil)), as: UTF8.self)
        XCTAssertEqual(empty, "# HELP fsynctime fsynctime\n# TYPE fsynctime summary\n" +
                       "fsynctime{quantile=\"0.5\"} NaN\nfsynctime_count 0\nfsynctime_sum 0.0\n")
        let some = String(decoding: MetricsExporter.summaryText("snapshottime", .init(count: 2, sum: 3.5, median: 1.25)), as: UTF8.self)
        XCTAssertTrue(some.contains("snapshottime{quantile=\"0.5\"} 1.25\nsnapshottime_count 2\nsnapshottime_sum 3.5\n"), some)
        let rendered = String(decoding: MetricsExporter().render(Self.facts()), as: UTF8.self)
        XCTAssertTrue(rendered.contains("# TYPE fsynctime summary\n"), rendered)
        XCTAssertTrue(rendered.contains("# TYPE snapshottime summary\n"), rendered)
    }
}
