import WarrenCore
import WarrenServer
import WarrenZab

/// ZooKeeper's AdminServer commands: primary names, aliases and JSON shapes as ZooKeeper 3.8 answers them, computed
/// from `ServerFacts` (the four-letter words' own gathering). Pure: no I/O, so the mapping is unit-tested directly.
public struct AdminCommand: Sendable {
    public let names: [String]
    public var primaryName: String { names[0] }
    /// What `ServerFacts` must carry for this command.
    public let detail: FactsDetail
    /// ZooKeeper answers these only while it serves ("This ZooKeeper instance is not currently serving requests");
    /// monitor, environment and zabstate answer at any time.
    public let needsServing: Bool
    /// Statistics the command resets before it answers (`stat_reset`, `connection_stat_reset`).
    public var reset: StatsReset? = nil
    let fields: @Sendable (ServerFacts) -> [(String, JSON)]

    /// The full answer: the command's fields, then `command` (the primary name) and `error`, as ZooKeeper's.
    public func response(_ facts: ServerFacts) -> JSON {
        if needsServing && facts.mode == "looking" {
            return AdminCommands.errorResponse(primaryName, "This ZooKeeper instance is not currently serving requests")
        }
        var out = fields(facts)
        if let i = out.firstIndex(where: { $0.0 == "error" }) {  // a command that reports its own error
            let error = out.remove(at: i).1
            return .object(out + [("command", .string(primaryName)), ("error", error)])
        }
        return .object(out + [("command", .string(primaryName)), ("error", .null)])
    }
}

public enum AdminCommands {
    /// Every command, in ZooKeeper's order of primary names.
    public static let all: [AdminCommand] = [
        AdminCommand(names: ["configuration", "conf", "config"], detail: [], needsServing: true) { f in
            f.conf.filter { !["secureClientPort", "dataDirSize", "dataLogSize"].contains($0.0) }
                .map { (snakeCase($0.0), JSON.number(or: $0.1)) }
        },
        AdminCommand(names: ["connection_stat_reset", "crst"], detail: [], needsServing: true, reset: .connections) { _ in [] },
        AdminCommand(names: ["connections", "cons"], detail: [], needsServing: true) { f in
            [("connections", .array(f.connections.map { connection($0) })), ("secure_connections", .array([]))]
        },
        AdminCommand(names: ["dirs"], detail: [], needsServing: true) { f in
            [("datadir_size", monitorValue(f.conf, "dataDirSize")), ("logdir_size", monitorValue(f.conf, "dataLogSize"))]
        },
        AdminCommand(names: ["dump"], detail: .sessions, needsServing: true) { f in
            [("expiry_time_to_session_ids", .object(f.sessionsByExpiry.map { ("\($0.0)", .array($0.1.map { .int($0) })) })),
             ("session_id_to_ephemeral_paths",
              .object(f.ephemeralsBySession.map { ("\($0.0)", .array($0.1.map { .string($0) })) }))]
        },
        AdminCommand(names: ["environment", "env", "envi"], detail: [], needsServing: false) { f in
            f.environment.map { ($0.0, .string($0.1)) }
        },
        // Warren's digest covers the nodes and sessions as of the last applied zxid; it compares Warren servers with
        // each other (equal zxid, equal digest), not with ZooKeeper's digest, which is computed differently.
        AdminCommand(names: ["hash"], detail: [], needsServing: true) { f in
            [("digests", .array([.object([("zxid", .int(f.lastProcessedZxid)),
                                           ("digest", .int(Int64(bitPattern: f.digest)))])]))]
        },
        AdminCommand(names: ["is_read_only", "isro"], detail: [], needsServing: true) { f in
            [("read_only", .bool(isReadOnly(f)))]
        },
        // The newest snapshot file in dataDir; ZooKeeper reports the last one it wrote or loaded, which is the same
        // file unless the newest is damaged. No snapshot: zxid -1 in hex and timestamp -1, as ZooKeeper.
        AdminCommand(names: ["last_snapshot", "lsnp"], detail: .lastSnapshot, needsServing: true) { f in
            [("zxid", .string(String(UInt64(bitPattern: f.lastSnapshot?.zxid ?? -1), radix: 16))),
             ("timestamp", .int(f.lastSnapshot?.timestampSeconds ?? -1))]
        },
        AdminCommand(names: ["leader", "lead"], detail: [], needsServing: true) { f in
            guard let e = f.ensemble else { return [("error", .string("server is not initialized"))] }
            let leaderIp = e.peers.first { $0.id == e.leaderId }?.host ?? ""
            return [("is_leader", .bool(e.zabState == .leading)), ("leader_id", .int(e.leaderId ?? -1)),
                    ("leader_ip", .string(leaderIp))]
        },
        AdminCommand(names: ["monitor", "mntr"], detail: [], needsServing: false) { f in
            f.monitor.map { row in
                let key = row.0.hasPrefix("zk_") ? String(row.0.dropFirst(3)) : row.0
                return (key, key == "version" || key == "server_state" || key == "last_zxid" ? .string(row.1) : .number(or: row.1))
            }
        },
        AdminCommand(names: ["ruok"], detail: [], needsServing: true) { _ in [] },
        AdminCommand(names: ["server_stats", "srvr"], detail: [], needsServing: true) { f in serverStats(f) },
        AdminCommand(names: ["stat_reset", "srst"], detail: [], needsServing: true, reset: .server) { _ in [] },
        AdminCommand(names: ["stats", "stat"], detail: [], needsServing: true) { f in
            // Brief connection rows, as ZooKeeper's `stat`: no session fields.
            serverStats(f) + [("connections", .array(f.connections.map { connection($0, brief: true) })),
                              ("secure_connections", .array([]))]
        },
        AdminCommand(names: ["voting_view"], detail: [], needsServing: true) { f in
            guard let e = f.ensemble else { return [("current_config", .object([]))] }
            return [("current_config", .object(e.peers.sorted { $0.id < $1.id }.map { p in
                ("\(p.id)", .object([
                    ("server_addresses", .array([.string("\(p.host):\(p.quorumPort)")])),
                    ("election_addresses", .array([.string("\(p.host):\(p.electionPort)")])),
                    ("client_address", .string(clientAddress(of: p, in: e))),
                    ("learner_type", .string(p.isObserver ? "observer" : "participant")),
                ]))
            }))]
        },
        AdminCommand(names: ["watch_summary", "wchs"], detail: [], needsServing: true) { f in
            [("num_connections", .int(Int64(f.watchSummary.watchers))), ("num_paths", .int(Int64(f.watchSummary.paths))),
             ("num_total_watches", .int(Int64(f.watchSummary.watches)))]
        },
        AdminCommand(names: ["watches", "wchc"], detail: .watches, needsServing: true) { f in
            [("session_id_to_watched_paths",
              .object(f.watchesBySession.map { ("\($0.0)", .array($0.1.map { .string($0) })) }))]
        },
        AdminCommand(names: ["watches_by_path", "wchp"], detail: .watches, needsServing: true) { f in
            [("path_to_session_ids", .object(f.watchersByPath.map { ($0.0, .array($0.1.map { .int($0) })) }))]
        },
        AdminCommand(names: ["zabstate"], detail: [], needsServing: false) { f in zabState(f) },
    ]

    private static let byName: [String: AdminCommand] = {
        var table: [String: AdminCommand] = [:]
        for command in all { for name in command.names { table[name] = command } }
        return table
    }()

    public static func named(_ name: String) -> AdminCommand? { byName[name] }

    /// ZooKeeper's answer to an unknown command (HTTP 200, like ZooKeeper 3.8).
    public static func unknown(_ name: String) -> JSON { errorResponse(name, "Unknown command: \(name)") }

    static func errorResponse(_ name: String, _ message: String) -> JSON {
        .object([("command", .string(name)), ("error", .string(message))])
    }

    /// `maxClientCnxns` → `max_client_cnxns`, as ZooKeeper's `ZooKeeperServerConf` names its fields.
    public static func snakeCase(_ key: String) -> String {
        var out = ""
        for ch in key {
            if ch.isUppercase { out += "_" }
            out += ch.lowercased()
        }
        return out
    }

    static func monitorValue(_ rows: [(String, String)], _ key: String) -> JSON {
        rows.first { $0.0 == key }.map { JSON.number(or: $0.1) } ?? .null
    }

    /// ZooKeeper calls a server in read-only mode `read-only` in mntr's `server_state`.
    static func isReadOnly(_ f: ServerFacts) -> Bool { f.mode == "read-only" || f.mode == "r/o" }

    static func connection(_ c: ConnectionFacts, brief: Bool = false) -> JSON {
        var fields: [(String, JSON)] = [
            ("remote_socket_address", .string(c.remote)), ("interest_ops", .int(1)),
            ("outstanding_requests", .int(Int64(c.outstanding))), ("packets_received", .int(Int64(c.received))),
            ("packets_sent", .int(Int64(c.sent))),
        ]
        if !brief && c.sessionId != 0 {
            fields += [
                ("session_id", .int(c.sessionId)), ("last_operation", .string(c.lastOp)),
                ("established", .int(c.establishedWallMs)), ("session_timeout", .int(Int64(c.timeoutMs))),
                ("last_cxid", .int(Int64(c.lastCxid))), ("last_zxid", .int(c.lastZxid)),
                ("last_response_time", .int(c.lastResponseWallMs)), ("last_latency", .int(c.lastLatencyMs)),
                ("min_latency", .int(c.minLatencyMs)), ("avg_latency", .int(Int64(c.avgLatencyMs))),
                ("max_latency", .int(c.maxLatencyMs)),
            ]
        }
        return .object(fields)
    }

    static func serverStats(_ f: ServerFacts) -> [(String, JSON)] {
        func m(_ key: String) -> JSON { monitorValue(f.monitor, key) }
        let clientResponse = JSON.object([("last_buffer_size", m("zk_last_client_response_size")),
                                          ("min_buffer_size", m("zk_min_client_response_size")),
                                          ("max_buffer_size", m("zk_max_client_response_size"))])
        let stats: [(String, JSON)] = [
            ("packets_sent", m("zk_packets_sent")), ("packets_received", m("zk_packets_received")),
            ("fsync_threshold_exceed_count", .int(0)), ("client_response_stats", clientResponse),
            ("provider_null", .bool(false)),
            ("data_dir_size", monitorValue(f.conf, "dataDirSize")), ("log_dir_size", monitorValue(f.conf, "dataLogSize")),
            ("server_state", .string(f.mode)), ("last_processed_zxid", .int(f.lastProcessedZxid)),
            ("outstanding_requests", m("zk_outstanding_requests")), ("avg_latency", m("zk_avg_latency")),
            ("max_latency", m("zk_max_latency")), ("min_latency", m("zk_min_latency")),
            ("num_alive_client_connections", m("zk_num_alive_connections")), ("uptime", m("zk_uptime")),
        ]
        return [("version", .string(f.version)), ("read_only", .bool(isReadOnly(f))), ("server_stats", .object(stats)),
                ("client_response", clientResponse), ("node_count", m("zk_znode_count"))]
    }

    /// A peer's client address as the voting view shows it: from its `server.N` line's `;host:port` part, or for
    /// this server its own client port; "" for others (ZooKeeper does not know them either).
    static func clientAddress(of peer: PeerConfig, in e: EnsembleFacts) -> String {
        if let port = peer.clientPort { return "\(peer.clientHost ?? "0.0.0.0"):\(port)" }
        return peer.id == e.myid ? e.clientAddress : ""
    }

    /// One quorum or election address in the shape ZooKeeper's JSON gives its `MultipleAddresses` (one address).
    static func addresses(_ host: String, _ port: Int) -> JSON {
        let address = JSON.string("\(host):\(port)")
        return .object([
            ("empty", .bool(false)), ("all_addresses", .array([address])), ("all_reachable_addresses", .array([address])),
            ("one", address), ("reachable_address", address), ("wildcard_addresses", .array([.string("0.0.0.0:\(port)")])),
            ("all_ports", .array([.int(Int64(port))])), ("all_host_strings", .array([.string(host)])),
            ("all_reachable_addresses_or_all", .array([address])), ("reachable_or_one", address),
        ])
    }

    static func zabState(_ f: ServerFacts) -> [(String, JSON)] {
        guard let e = f.ensemble, let me = e.peers.first(where: { $0.id == e.myid }) else {
            return [("voting", .bool(false)), ("zabstate", .string(""))]
        }
        // ZooKeeper's QuorumPeer.ZabState: election while looking, then discovery and synchronization until the
        // role is serving, then broadcast.
        let phase: String
        switch (e.zabState, e.serving) {
        case (.looking, _): phase = "election"
        case (_, true): phase = "broadcast"
        case (_, false): phase = "synchronization"
        }
        let zxid = f.lastProcessedZxid
        return [
            ("myid", .int(e.myid)), ("is_leader", .bool(e.zabState == .leading)),
            ("quorum_address", addresses(me.host, me.quorumPort)),
            ("election_address", addresses(me.host, me.electionPort)),
            ("client_address", .string(clientAddress(of: me, in: e))),
            ("voting", .bool(!me.isObserver)),
            ("last_zxid", .string("0x" + String(UInt64(bitPattern: zxid), radix: 16))),
            ("zab_epoch", .int(zxid >> 32)), ("zab_counter", .int(zxid & 0xFFFF_FFFF)), ("zabstate", .string(phase)),
        ]
    }
}
