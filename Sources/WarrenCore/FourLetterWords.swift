import WarrenJute
import WarrenTree
import WarrenZab

/// ZooKeeper's four-letter words, answered in ZooKeeper's text formats so that existing monitoring scripts parse
/// them unchanged. Only words in `4lw.commands.whitelist` run; `srvr` alone by default, like ZooKeeper.
package extension ServerCore {
    static let versionString = "3.8.0-warren, built on 2026-11-25 00:00 UTC"

    /// `host`: what the shell read for this word (`HostFacts.parts(forFourLetterWord:)`).
    func fourLetterWord(_ word: String, host: HostFacts, now: Now) -> String {
        guard config.fourLetterWordWhitelist.contains(word) else {
            return "\(word) is not executed because it is not in the whitelist.\n"
        }
        switch word {
        case "ruok": return "imok"
        case "isro":
            // ZooKeeper's answers: "null" while it serves no clients at all (an ensemble member looking for a leader).
            guard let ens = ensemble else { return "rw" }
            return ens.readOnly ? "ro" : ens.zab.isServing ? "rw" : "null"
        case "srvr": return serverSummary(withClients: false)
        case "stat": return serverSummary(withClients: true)
        case "cons": return connectionsText() + "\n"
        case "crst":
            resetStats(.connections)
            return "Connection stats reset.\n"
        case "srst":
            resetStats(.server)
            return "Server stats reset.\n"
        case "mntr": return monitorText(host: host, now: now)
        case "conf": return confText(host: host)
        case "envi": return envText(host: host)
        case "wchs":
            let s = watches.summary()
            return "\(s.watchers) connections watching \(s.paths) paths\nTotal watches:\(s.watches)\n"
        case "wchc":
            var out = ""
            for (watcher, paths) in watches.pathsByWatcher() {
                out += "0x\(Self.hex(conns[watcher]?.sessionId ?? 0))\n"
                for p in paths { out += "\t\(p)\n" }
            }
            return out + "\n"
        case "wchp":
            var out = ""
            for (path, watchers) in watches.watchersByPath() {
                out += "\(path)\n"
                for w in watchers { out += "\t0x\(Self.hex(conns[w]?.sessionId ?? 0))\n" }
            }
            return out + "\n"
        case "dump": return dumpText(now: now)
        case "dirs": return "datadir_size: \(host.dataDirBytes)\nlogdir_size: \(host.dataLogDirBytes)\n"
        case "hash": return "\(tree.lastProcessedZxid): \(tree.digest)\n"
        default: return ""
        }
    }

    private func serverSummary(withClients: Bool) -> String {
        var out = "Zookeeper version: \(Self.versionString)\n"
        if withClients {
            out += "Clients:\n" + connectionsText(brief: true) + "\n"
        }
        out += "Latency min/avg/max: \(stats.latency.minMs)/\(TextFormat.fixed4(stats.latency.avg))/\(stats.latency.maxMs)\n"
        out += "Received: \(stats.packetsReceived)\n"
        out += "Sent: \(stats.packetsSent)\n"
        out += "Connections: \(conns.count)\n"
        out += "Outstanding: \(pipeline.count)\n"
        out += "Zxid: 0x\(String(tree.lastProcessedZxid, radix: 16))\n"
        out += "Mode: \(serverMode)\n"
        out += "Node count: \(tree.reportedNodeCount)\n"
        return out
    }

    private func connectionsText(brief: Bool = false) -> String {
        var out = ""
        for conn in conns.values.sorted(by: { $0.id < $1.id }) {
            out += " \(conn.remote)[\(conn.connected ? 1 : 0)](queued=\(conn.outstanding),recved=\(conn.received),sent=\(conn.sent)"
            if !brief && conn.sessionId != 0 {
                out += ",sid=0x\(Self.hex(conn.sessionId)),lop=\(conn.lastOp),est=\(conn.establishedWallMs),to=\(conn.timeoutMs)"
                out += ",lcxid=0x\(String(UInt32(bitPattern: conn.lastCxid), radix: 16)),lzxid=0x\(Self.hex(conn.lastZxid))"
                out += ",lresp=\(conn.lastResponseWallMs),llat=\(conn.lastLatencyMs),minlat=\(conn.latency.minMs)"
                out += ",avglat=\(TextFormat.fixed4(conn.latency.avg)),maxlat=\(conn.latency.maxMs)"
            }
            out += ")\n"
        }
        return out
    }

    private func monitorText(host: HostFacts, now: Now) -> String {
        monitorRows(host: host, now: now).map { "\($0.0)\t\($0.1)\n" }.joined()
    }

    /// mntr's rows, in order: the one gathering of these facts, shared with the AdminServer and `/metrics`.
    /// `host` needs `HostFacts.Parts.process`.
    func monitorRows(host: HostFacts, now: Now) -> [(String, String)] {
        let summary = watches.summary()
        let rows: [(String, String)] = [
            ("zk_version", Self.versionString),
            ("zk_server_state", serverMode),
            ("zk_ephemerals_count", "\(tree.ephemeralCount)"),
            ("zk_num_alive_connections", "\(conns.count)"),
            ("zk_avg_latency", TextFormat.fixed4(stats.latency.avg)),
            ("zk_outstanding_requests", "\(pipeline.count)"),
            ("zk_znode_count", "\(tree.reportedNodeCount)"),
            ("zk_global_sessions", "\(sessions.count)"),
            ("zk_local_sessions", "0"),
            ("zk_packets_sent", "\(stats.packetsSent)"),
            ("zk_packets_received", "\(stats.packetsReceived)"),
            ("zk_bytes_received_count", "\(stats.bytesReceived)"),
            ("zk_last_client_response_size", "\(stats.lastResponseBytes)"),
            ("zk_max_client_response_size", "\(stats.maxResponseBytes)"),
            ("zk_min_client_response_size", "\(stats.minResponseBytes)"),
            ("zk_watch_count", "\(watches.watchCount)"),
            ("zk_approximate_data_size", "\(tree.approximateDataSize)"),
            ("zk_min_latency", "\(stats.latency.minMs)"),
            ("zk_max_latency", "\(stats.latency.maxMs)"),
            ("zk_open_file_descriptor_count", "\(host.openFileDescriptors)"),
            ("zk_max_file_descriptor_count", "\(host.fileDescriptorLimit)"),
            ("zk_throttled_ops", "\(stats.throttledOps)"),
            ("zk_paused_connections", "\(pausedConnections.count)"),
            ("zk_resident_bytes", "\(host.residentBytes)"),
            ("zk_uptime", "\(now.monoMs - startedMonoMs)"),
            ("zk_proposal_count", "\(stats.proposals)"),
            ("zk_stale_sessions_expired", "\(stats.sessionsExpired)"),
            ("zk_last_zxid", "0x\(String(tree.lastProcessedZxid, radix: 16))"),
            ("zk_watching_connections", "\(summary.watchers)"),
        ] + leaderRows + ensembleRows
        return rows
    }

    /// `standalone`, or in an ensemble `leader`, `follower`, `observer` (or `looking` between leaders).
    var serverMode: String { ensemble?.mode ?? "standalone" }

    /// Warren's own ensemble rows: elections taken part in; handshakes held during elections, so far and now; SNAP
    /// sync chunks and bytes.
    private var ensembleRows: [(String, String)] {
        guard let ens = ensemble else { return [] }
        return [("warren_elections", "\(ens.elections)"),
                ("warren_connects_held", "\(stats.connectsHeld)"), ("warren_connects_waiting", "\(ens.heldConnects.count)"),
                ("warren_snapshot_chunks_sent", "\(ens.snapshotChunksSent)"),
                ("warren_snapshot_bytes_sent", "\(ens.snapshotBytesSent)"),
                ("warren_snapshot_chunks_received", "\(ens.snapshotChunksReceived)"),
                ("warren_snapshot_bytes_received", "\(ens.snapshotBytesReceived)")]
    }

    /// ZooKeeper's leader-only mntr rows.
    private var leaderRows: [(String, String)] {
        guard let ens = ensemble, let counts = ens.zab.followerCounts else { return [] }
        return [
            ("zk_followers", "\(counts.connected)"),
            ("zk_synced_followers", "\(counts.synced)"),
            ("zk_pending_syncs", "\(ens.zab.pendingSyncCount)"),
            ("zk_last_proposal_size", "\(ens.lastProposalBytes)"),
        ]
    }

    /// ZooKeeper's layout: the rows, then for an ensemble member the membership in force (as in
    /// `/zookeeper/config`, no newline after the version) after a `membership: ` line.
    private func confText(host: HostFacts) -> String {
        let rows = confRows(host: host).map { "\($0.0)=\($0.1)\n" }.joined()
        guard let ens = ensemble else { return rows }
        return rows + "membership: \n" + ens.membership.text
    }

    /// conf's rows, in order (shared with the AdminServer's `configuration`).
    /// `host` needs `HostFacts.Parts.directories`.
    func confRows(host: HostFacts) -> [(String, String)] {
        [("clientPort", config.servesPlaintextClients ? "\(config.clientPort)" : "-1"),
         ("secureClientPort", "\(config.secureClientPort ?? -1)"),
         ("dataDir", "\(config.dataDir)/version-2"), ("dataDirSize", "\(host.dataDirBytes)"),
         ("dataLogDir", "\(config.dataLogDir)/version-2"), ("dataLogSize", "\(host.dataLogDirBytes)"),
         ("tickTime", "\(config.tickTimeMs)"), ("maxClientCnxns", "\(config.maxClientCnxns)"),
         ("minSessionTimeout", "\(config.effectiveMinSessionTimeoutMs)"),
         ("maxSessionTimeout", "\(config.effectiveMaxSessionTimeoutMs)"),
         ("clientPortListenBacklog", "-1"), ("serverId", "\(config.myid)")]
            + ensembleConfRows()
    }

    /// The ensemble rows ZooKeeper's `conf` adds (peerType 0 participant, 1 observer; electionAlg 3 is the only one).
    private func ensembleConfRows() -> [(String, String)] {
        guard let ens = ensemble else { return [] }
        let me = ens.membership.servers.first { $0.id == config.myid } ?? config.peers.first { $0.id == config.myid }
        return [("initLimit", "\(config.initLimit)"), ("syncLimit", "\(config.syncLimit)"), ("electionAlg", "3"),
                ("electionPort", "\(me?.electionPort ?? -1)"), ("quorumPort", "\(me?.quorumPort ?? -1)"),
                ("peerType", ens.zab.config.members[config.myid] == .observer ? "1" : "0")]
    }

    private func envText(host: HostFacts) -> String {
        "Environment:\n" + Self.envRows(host).map { "\($0.0)=\($0.1)\n" }.joined()
    }

    /// envi's rows, in order (shared with the AdminServer's `environment`); `host` needs
    /// `HostFacts.Parts.environment`.
    static func envRows(_ host: HostFacts) -> [(String, String)] {
        [("zookeeper.version", Self.versionString)] + host.environment
    }

    private func dumpText(now: Now) -> String {
        var out = "SessionTracker dump:\n"
        // ZooKeeper's layout: one set per expiry bucket, dated like Java's Date.toString().
        let buckets = Dictionary(grouping: sessions.all, by: \.expiresAtMonoMs)
        out += "Session Sets (\(buckets.count))/(\(sessions.count)):\n"
        for (expiresAtMonoMs, members) in buckets.sorted(by: { $0.key < $1.key }) {
            // Expiry is on the monotonic clock; shown as the wall-clock date it falls on as the clocks stand now.
            let expiresAtWallMs = now.wallMs(atMono: expiresAtMonoMs)
            let date = TextFormat.javaDateUTC(wallMs: expiresAtWallMs)
            out += "\(members.count) expire at \(date):\n"
            for s in members.sorted(by: { $0.id < $1.id }) { out += "\t0x\(Self.hex(s.id))\n" }
        }
        out += "ephemeral nodes dump:\n"
        let eph = tree.ephemeralsBySession()
        out += "Sessions with Ephemerals (\(eph.count)):\n"
        for (sid, paths) in eph.sorted(by: { $0.key < $1.key }) {
            out += "0x\(Self.hex(sid)):\n"
            for p in paths.sorted() { out += "\t\(p)\n" }
        }
        out += "Connections dump:\n"
        out += "Connections Sets (\(conns.count))/(\(conns.count)):\n"
        for conn in conns.values.sorted(by: { $0.id < $1.id }) {
            out += "\tip: \(conn.remote) sessionId: 0x\(Self.hex(conn.sessionId))\n"
        }
        return out
    }
}
