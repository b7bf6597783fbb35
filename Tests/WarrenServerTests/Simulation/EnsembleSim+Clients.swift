import Foundation
import WarrenJute
import WarrenStorage
import WarrenTree
import WarrenZab

@testable import WarrenCore
@testable import WarrenServer

/// The clients' way to the servers, what they record, and the checks at the end of a run.
extension EnsembleSim {
    // MARK: clients

    /// A client connection's packet to its server.
    func clientSend(_ client: SimClient, _ bytes: [UInt8]) {
        guard let id = client.server, let s = servers[id], let core = s.core else { return }
        if s.pausedUntilMs > nowMs {
            schedule(at: s.pausedUntilMs, .clientPacket(id, incarnation: s.incarnation, conn: client.conn, bytes))
            return
        }
        perform(id, core.onPacket(client.conn, bytes, now: now(id)))
    }

    /// Opens a connection to a random running server; nil when none runs.
    func clientOpen(_ client: SimClient) -> (ServerId, UInt64)? {
        let running = ids.filter { servers[$0]!.core != nil }
        guard !running.isEmpty else { return nil }
        let id = running[Int(rng.next() % UInt64(running.count))]
        nextConn += 1
        servers[id]!.core!.onOpened(nextConn, remote: "/10.0.0.\(client.index):\(nextConn)", ip: "10.0.0.\(client.index)", now: now(id))
        return (id, nextConn)
    }

    func clientClose(_ client: SimClient) {
        guard let id = client.server, let core = servers[id]?.core else { return }
        perform(id, core.onClosed(client.conn, now: now(id)))
    }

    func clientStep(_ i: Int, faultsOn: Bool) {
        let c = clients[i]
        guard c.asleepUntilMs <= nowMs else { return }
        if faultsOn, c.state == .connected, rng.next() % 400 == 0 {
            // The client process stops for longer than its session timeout: the session must expire, and with it
            // the session's ephemeral node, while the others' sessions live on.
            c.asleepUntilMs = nowMs + random(4500...7000)
            note("client \(i) sleeps until \(c.asleepUntilMs - 1_000_000)")
            clientClose(c)
            c.connectionLost(self, reason: "client asleep")
            return
        }
        if c.state == .connected, rng.next() % 150 == 0 {
            // The client drops its connection (a reset, a load balancer) and resumes the session on any server,
            // which may lag behind what the session has seen.
            note("client \(i) drops its connection")
            clientClose(c)
            c.connectionLost(self, reason: "client dropped it")
            c.connect(self, lastZxidSeen: c.lastZxidSeen)
            return
        }
        switch c.state {
        case .idle:
            c.connect(self, lastZxidSeen: c.lastZxidSeen)
        case .connecting:
            if nowMs - c.stateSinceMs > 3000 { c.connectionLost(self, reason: "handshake not answered"); clientClose(c) }
        case .connected:
            guard c.outstanding.count < 3 else { return }
            let key = keys[Int(rng.next() % UInt64(keys.count))]
            switch rng.next() % 10 {
            case 0..<4:
                c.writes += 1
                c.request(self, .setData(path: key, value: "c\(i)-\(c.writes)"))
            case 4..<8:
                c.request(self, .getData(path: key, atLeast: c.seen[key] ?? 0, watch: rng.next() % 2 == 0))
            default:
                c.request(self, .sync(path: key, ackedBefore: acked[key]?.map(\.zxid).max() ?? 0))
            }
        }
    }

    func followUp(_ client: SimClient, _ op: SimClient.Op) {
        schedule(after: random(0...2), .clientFollowUp(client.index, conn: client.conn, op))
    }

    func recordEphemeral(_ path: String, session: Int64) { ephemerals[path] = session }

    func observe(key: String, version: Int32, mzxid: Int64, value: String, by what: String) {
        if let known = history[key]?[version] {
            if known.mzxid != mzxid || known.value != value {
                fail("\(key) version \(version) was \(known.value)@\(known.mzxid.hex), now \(value)@\(mzxid.hex) (\(what)): a write was lost")
            }
        } else {
            history[key, default: [:]][version] = (mzxid, value)
        }
    }

    /// An acknowledged write: sent at `sentMs`, acknowledged now, committed at `zxid`.
    func recordAck(key: String, zxid: Int64, value: String, sentMs: Int64) {
        if acked[key, default: []].contains(where: { $0.zxid == zxid }) {
            fail("two acknowledged writes share zxid \(zxid.hex)")
        }
        acked[key, default: []].append((zxid, value))
        writeSpans.append((zxid: zxid, sentMs: sentMs, ackedMs: nowMs, key: key))
    }

    /// ZooKeeper's writes are linearizable: their zxid order is one total order that respects real time, so a write
    /// acknowledged before another was sent has the smaller zxid. Checked over every acknowledged write of the run
    /// (all keys: the tree is one object), sweeping from the newest zxid down with the earliest acknowledgement
    /// seen among newer zxids.
    func checkWritesLinearizable() {
        var earliestAckAbove: (ms: Int64, zxid: Int64, key: String)?
        for w in writeSpans.sorted(by: { $0.zxid > $1.zxid }) {
            if let above = earliestAckAbove, above.ms < w.sentMs {
                return fail("writes not linearizable: \(above.key) at \(above.zxid.hex) was acknowledged at \(above.ms - 1_000_000) ms, "
                            + "before \(w.key) at the older \(w.zxid.hex) was sent at \(w.sentMs - 1_000_000) ms")
            }
            if earliestAckAbove.map({ w.ackedMs < $0.ms }) ?? true { earliestAckAbove = (w.ackedMs, w.zxid, w.key) }
        }
    }

    // MARK: the end

    func checkFinalState() throws {
        let serving = ids.compactMap { id -> (ServerId, ServerCore)? in
            guard let core = servers[id]!.core, core.ensemble?.zab.isServing == true else { return nil }
            return (id, core)
        }
        guard serving.count == ids.count else {
            fail("not every server serves after healing: \(ids.map { "\($0): \(servers[$0]!.core?.ensemble?.mode ?? "down")" })")
            return
        }
        let states = Set(serving.map { "\($0.1.tree.lastProcessedZxid.hex)/\($0.1.tree.digest)" })
        guard states.count == 1 else {
            fail("servers disagree after healing: \(serving.map { "\($0.0): \($0.1.tree.lastProcessedZxid.hex) \($0.1.tree.digest)" })"
                 + "\n" + serving.map { "server \($0.0): \(Self.describe($0.1.tree, keys: ["/", "/zookeeper", "/zookeeper/config"] + keys))" }.joined(separator: "\n"))
            return
        }
        let tree = serving[0].1.tree
        // Every watch of a connected session whose node changed since has fired.
        for c in clients where c.state == .connected {
            for (key, watched) in c.watches.sorted(by: { $0.key < $1.key }) {
                if let stat = tree.exists(key), stat.mzxid > watched {
                    fail("client \(c.index): its watch on \(key) set at \(watched.hex) never fired (the node is at \(stat.mzxid.hex))")
                }
            }
        }
        // Session expiry removes exactly the expired sessions' ephemerals: a live session keeps its own.
        for (path, session) in ephemerals.sorted(by: { $0.key < $1.key }) {
            let owner = tree.exists(path)?.ephemeralOwner
            if tree.sessions[session] != nil && owner != session {
                fail("ephemeral \(path) of live session \(session.hex) is \(owner.map { "owned by \($0.hex)" } ?? "gone")")
            } else if tree.sessions[session] == nil && owner != nil {
                fail("ephemeral \(path) outlived its session \(session.hex)")
            }
        }
        for (session, paths) in tree.ephemeralsBySession() where tree.sessions[session] == nil {
            fail("ephemerals \(paths) belong to session \(session.hex), which is not open")
        }
        checkWritesLinearizable()
        for key in keys {
            guard let writes = acked[key], let newest = writes.max(by: { $0.zxid < $1.zxid }) else { continue }
            guard case let .success((data, stat)) = tree.getData(key, ctx: SessionContext(sessionId: 0)) else {
                fail("\(key) is gone")
                continue
            }
            if stat.mzxid < newest.zxid {
                fail("acknowledged write to \(key) at \(newest.zxid.hex) lost: the tree has \(stat.mzxid.hex)")
            } else if stat.mzxid == newest.zxid, data.map({ String(decoding: $0, as: UTF8.self) }) != newest.value {
                fail("\(key) at \(newest.zxid.hex) holds \(String(describing: data)) instead of \(newest.value)")
            }
        }
    }

    /// What a failure report shows of a tree: its sessions, and the listed nodes' children, data and stat.
    static func describe(_ tree: DataTree, keys: [String]) -> String {
        let ctx = SessionContext(sessionId: 0)
        var out = "sessions \(tree.sessions.keys.sorted().map(\.hex))"
        for key in keys {
            let children = (try? tree.getChildren(key, ctx: ctx).get().children.sorted()) ?? []
            if case let .success((data, stat)) = tree.getData(key, ctx: ctx) {
                out += "\n  \(key) \(children) \(data.map { String(decoding: $0.prefix(40), as: UTF8.self) } ?? "nil") \(stat)"
            } else {
                out += "\n  \(key) missing"
            }
        }
        return out
    }

    var ephemeralsCreated: Int { ephemerals.count }

    var ackedWrites: Int { acked.values.map(\.count).reduce(0, +) }
    var clientReplies: Int { clients.map(\.replies).reduce(0, +) }
}
