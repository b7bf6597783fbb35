import Foundation
import Logging
import WarrenJute
import WarrenRandom
import WarrenStorage
import WarrenTree
import WarrenZab

@testable import WarrenServer

/// A seeded simulation of a whole ensemble of real `ServerCore`s (Zab, the request pipeline, sessions, snapshots)
/// under faults, with simulated clients that check ZooKeeper's client guarantees as replies arrive.
///
/// Everything the shell does is simulated here, deterministically from one seed: the quorum links (per-link FIFO,
/// as TCP; random delays; a cut drops what is in flight and tells both ends), the disk (a persist becomes durable
/// after a random delay, in order; a crash loses what was not yet durable; snapshots, truncation and epochs as the
/// shell writes them), both clocks (one monotonic time; per-server wall clocks that faults step by an hour) and the
/// timers. Faults: partitions of one server, crashes and restarts from what was durable, wall-clock steps.
///
/// The clients check, as they go: per-connection FIFO replies; a session's reply zxids never go back (also across
/// reconnects); a client's reads of a key never see an older version than it saw or wrote before; a `sync` then a
/// read sees every write acknowledged (to anyone) before the sync was sent. At the end, with every fault healed:
/// every server serves the same state (zxid and digest), and no acknowledged write is lost.
final class EnsembleSim {
    struct Violation: Error, CustomStringConvertible {
        let seed: UInt64
        let what: String
        let trace: [String]
        var description: String {
            let faults = trace.filter { line in EnsembleSim.faultWords.contains { line.contains($0) } }
            return "seed \(seed): \(what)\nfaults:\n" + faults.joined(separator: "\n") + "\nlast events:\n"
                + trace.suffix(120).joined(separator: "\n")
        }
    }

    static let faultWords = [" start ", " crash", " power loss", " partition ", " heal ", " pause ", " wall clock ", " sleeps ", "VIOLATION"]
    let seed: UInt64
    private var rng: SeededRandom
    private(set) var nowMs: Int64 = 1_000_000
    private var events: [(at: Int64, seq: Int, event: Event)] = []
    private var seq = 0
    private(set) var trace: [String] = []
    private var violations: [String] = []
    private var loadEndMs: Int64 = .max

    let ids: [ServerId]
    private let config: ServerConfig
    private let logger = Logger(label: "warren-sim") { _ in SwiftLogNoOpLogHandler() }
    private var servers: [ServerId: SimServer] = [:]
    /// Per ordered pair of servers: whether the link is up, its generation (bumped by every cut, so messages sent
    /// before a cut are never delivered after it) and when its last message arrives (FIFO).
    private var links: [Pair: Link] = [:]
    private var clients: [SimClient] = []
    private var nextConn: UInt64 = 1
    /// Per key, every acknowledged write: its zxid and value.
    private var acked: [String: [(zxid: Int64, value: String)]] = [:]
    let keys = (0..<4).map { "/sim-k\($0)" }

    enum Event {
        case deliver(Pair, generation: Int, ZabMessage)
        case durable(ServerId, incarnation: Int, upTo: Int64)
        case zabTick(ServerId, incarnation: Int)
        case tick(ServerId, incarnation: Int)
        case clientStep(Int)
        /// A client's packet to a server that was paused when it was sent.
        case clientPacket(ServerId, incarnation: Int, conn: UInt64, [UInt8])
        /// A request a client makes in answer to a reply (the create after a noNode, the read after a sync), sent
        /// a moment later on the same connection, as a real client would after reading the whole socket.
        case clientFollowUp(Int, conn: UInt64, SimClient.Op)
        case restart(ServerId)
        case heal(ServerId)
        case fault
    }

    struct Pair: Hashable, CustomStringConvertible {
        let from: ServerId
        let to: ServerId
        var description: String { "\(from)→\(to)" }
    }

    struct Link {
        var up = true
        var generation = 0
        var lastArrivalMs: Int64 = 0
    }

    /// The shell's durable state of one server, and its running core (nil while crashed).
    final class SimServer {
        var core: ServerCore?
        var incarnation = 0
        var partitioned = false
        var wallOffsetMs: Int64 = 0
        var epochs = EpochState()
        var snapshot: (zxid: Int64, bytes: [UInt8])?
        var durableLog: [LogEntry] = []
        var pendingLog: [LogEntry] = []
        var lastDurableAt: Int64 = 0
        var membership: DynamicConfig?
        /// The core's mode when last looked at (for the trace).
        var lastMode = ""
        /// A stopped process (SIGSTOP, a long GC pause): nothing runs on it before this time.
        var pausedUntilMs: Int64 = 0
    }

    /// `size` servers, the last `observers` of them observers (they take clients and forward writes but do not vote).
    init(seed: UInt64, size: Int = 3, observers: Int = 0) throws {
        precondition(observers < size, "\(observers) observers of \(size) servers")
        self.seed = seed
        rng = SeededRandom(seed: seed)
        ids = (1...Int64(size)).map { $0 }
        var c = ServerConfig()
        c.tickTimeMs = 200
        c.initLimit = 10
        c.syncLimit = 5
        c.snapCount = 40  // snapshots every few dozen writes: restarts recover from snapshot and log
        c.fourLetterWordWhitelist = ServerConfig.allFourLetterWords
        c.peers = ids.map {
            PeerConfig(id: $0, host: "127.0.0.1", quorumPort: 0, electionPort: 0, isObserver: $0 > Int64(size - observers))
        }
        config = c
        for a in ids { for b in ids where a != b { links[Pair(from: a, to: b)] = Link() } }
        for id in ids { servers[id] = SimServer() }
        for id in ids { try start(id) }
    }

    // MARK: running

    /// Runs `faultyMs` of simulated time with faults and client load, then heals everything and runs `calmMs` more;
    /// returns the violations found (empty: the run was clean).
    func run(clients clientCount: Int = 4, faultyMs: Int64 = 12_000, calmMs: Int64 = 8_000) throws -> [Violation] {
        let faultsEnd = nowMs + faultyMs
        loadEndMs = faultsEnd + calmMs - 2000
        for i in 0..<clientCount {
            clients.append(SimClient(index: i))
            schedule(after: Int64(rng.next() % 50), .clientStep(i))
        }
        schedule(after: 500, .fault)
        while let (at, _, event) = popEvent() {
            if at > faultsEnd + calmMs { break }
            nowMs = at
            try handle(event, faultsOn: at < faultsEnd)
            if !violations.isEmpty { break }
        }
        if violations.isEmpty { try checkFinalState() }
        return violations.map { Violation(seed: seed, what: $0, trace: trace) }
    }

    private func schedule(after ms: Int64, _ event: Event) { schedule(at: nowMs + ms, event) }

    private func schedule(at: Int64, _ event: Event) {
        seq += 1
        let item = (at: at, seq: seq, event: event)
        // Binary insertion, ordered by (time, sequence): a stable order, so one seed always replays the same run.
        var lo = 0, hi = events.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if events[mid].at < at || (events[mid].at == at && events[mid].seq < seq) { lo = mid + 1 } else { hi = mid }
        }
        events.insert(item, at: lo)
    }

    private func popEvent() -> (Int64, Int, Event)? {
        guard !events.isEmpty else { return nil }
        let e = events.removeFirst()
        return (e.at, e.seq, e.event)
    }

    /// WARREN_SIM_ECHO=1 prints every event as it happens (for a seed that crashes inside a core).
    private let echo = ProcessInfo.processInfo.environment["WARREN_SIM_ECHO"] != nil

    private func note(_ line: String) {
        if echo { FileHandle.standardError.write(Data("\(nowMs - 1_000_000) \(line)\n".utf8)) }
        trace.append("\(nowMs - 1_000_000) \(line)")
        if trace.count > 400_000 { trace.removeFirst(100_000) }
    }

    private func fail(_ what: String) {
        note("VIOLATION: \(what)")
        violations.append(what)
    }

    private func now(_ id: ServerId) -> Now { Now(monoMs: nowMs, wallMs: nowMs + servers[id]!.wallOffsetMs) }

    private func random(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &rng) }

    /// The server an event runs on, if it runs on one (a paused server runs it when it resumes).
    private func target(of event: Event) -> ServerId? {
        switch event {
        case let .deliver(pair, _, _): return pair.to
        case let .durable(id, _, _), let .zabTick(id, _), let .tick(id, _), let .clientPacket(id, _, _, _): return id
        default: return nil
        }
    }

    private func handle(_ event: Event, faultsOn: Bool) throws {
        if let id = target(of: event), let s = servers[id], s.pausedUntilMs > nowMs {
            schedule(at: s.pausedUntilMs, event)
            return
        }
        switch event {
        case let .clientPacket(id, incarnation, conn, bytes):
            guard servers[id]!.incarnation == incarnation, let core = servers[id]!.core else { return }
            perform(id, core.onPacket(conn, bytes, now: now(id)))
        case let .deliver(pair, generation, message):
            guard let link = links[pair], link.up, link.generation == generation, let core = servers[pair.to]!.core else { return }
            perform(pair.to, core.onQuorumMessage(from: pair.from, message, now: now(pair.to)))
        case let .durable(id, incarnation, upTo):
            let s = servers[id]!
            guard s.incarnation == incarnation, let core = s.core else { return }
            let done = s.pendingLog.prefix { $0.zxid.raw <= upTo }
            s.durableLog += done
            s.pendingLog.removeFirst(done.count)
            perform(id, core.onDurable(upTo: upTo, now: now(id)))
        case let .zabTick(id, incarnation):
            let s = servers[id]!
            guard s.incarnation == incarnation, let core = s.core else { return }
            perform(id, core.onZabTick(now: now(id)))
            schedule(after: Int64(ServerCore.zabTick(config).ms), .zabTick(id, incarnation: incarnation))
        case let .tick(id, incarnation):
            let s = servers[id]!
            guard s.incarnation == incarnation, let core = s.core else { return }
            perform(id, core.onTick(now: now(id)))
            schedule(after: 100, .tick(id, incarnation: incarnation))
        case let .clientStep(i):
            // Clients stop a while before the end, so the final check compares settled replicas.
            guard nowMs < loadEndMs else { return }
            clientStep(i, faultsOn: faultsOn)
            schedule(after: random(5...40), .clientStep(i))
        case let .clientFollowUp(i, conn, op):
            let c = clients[i]
            if c.state == .connected && c.conn == conn { c.request(self, op) }
        case let .restart(id):
            try start(id)
        case let .heal(id):
            heal(id)
        case .fault:
            guard faultsOn else {
                for id in ids where servers[id]!.partitioned { heal(id) }
                return
            }
            injectFault()
            schedule(after: random(300...1500), .fault)
        }
    }

    // MARK: faults

    private func injectFault() {
        let id = ids[Int(rng.next() % UInt64(ids.count))]
        let s = servers[id]!
        switch rng.next() % 8 {
        case 0, 1, 2:
            guard s.core != nil, !s.partitioned else { return }
            note("partition \(id)")
            s.partitioned = true
            cutLinks(of: id)
            schedule(after: random(200...3000), .heal(id))
        case 3, 4:
            guard s.core != nil else { return }
            note("crash \(id) (\(s.pendingLog.count) log records not yet durable are lost)")
            crash(id)
            schedule(after: random(100...2500), .restart(id))
        case 6:
            guard s.core != nil else { return }
            let ms = random(100...2500)
            note("pause \(id) for \(ms) ms")
            s.pausedUntilMs = max(s.pausedUntilMs, nowMs + ms)
        case 5:
            let step: Int64 = rng.next() % 2 == 0 ? 3_600_000 : -3_600_000
            note("wall clock of \(id) steps \(step / 1000) s")
            s.wallOffsetMs += step
        case 7 where rng.next() % 3 == 0:
            // A power loss: every server stops at once and loses what it had not synced.
            note("power loss: every server crashes")
            for other in ids where servers[other]!.core != nil {
                crash(other)
                schedule(after: random(100...2000), .restart(other))
            }
        default:
            break  // a quiet spell
        }
    }

    private func cutLinks(of id: ServerId) {
        for other in ids where other != id {
            for pair in [Pair(from: id, to: other), Pair(from: other, to: id)] {
                links[pair]!.up = false
                links[pair]!.generation += 1
            }
            // Both transports see the connection go down.
            if let core = servers[other]!.core { perform(other, core.onPeerDisconnected(id, now: now(other))) }
            if let core = servers[id]!.core { perform(id, core.onPeerDisconnected(other, now: now(id))) }
        }
    }

    private func heal(_ id: ServerId) {
        let s = servers[id]!
        guard s.partitioned else { return }
        note("heal \(id)")
        s.partitioned = false
        for other in ids where other != id && !servers[other]!.partitioned {
            links[Pair(from: id, to: other)]!.up = true
            links[Pair(from: other, to: id)]!.up = true
        }
    }

    private func crash(_ id: ServerId) {
        let s = servers[id]!
        cutLinks(of: id)
        s.core = nil
        s.incarnation += 1
        s.pendingLog = []
        s.partitioned = false
        for c in clients where c.server == id { c.connectionLost(self, reason: "server \(id) crashed") }
    }

    /// Starts (or restarts) a server from what its disk holds, as the shell does.
    private func start(_ id: ServerId) throws {
        let s = servers[id]!
        let tree = try s.snapshot.map { try DataTree.restore(from: $0.bytes, config: config.treeConfig) } ?? DataTree(config: config.treeConfig)
        let logged = s.durableLog.filter { $0.zxid.raw > tree.lastProcessedZxid }
        var c = config
        c.myid = id
        if let m = s.membership {
            c.peers = m.servers
            c.configVersion = m.version
        }
        let durable = DurableState(epochs: s.epochs, snapshotZxid: Zxid(raw: tree.lastProcessedZxid), log: logged)
        let recovered = RecoveredServerState(
            tree: tree, sessionSecret: 7, logged: logged.map { LogRecord(zxid: $0.zxid.raw, payload: $0.payload) })
        s.core = try ServerCore(config: c, recovered: recovered, now: now(id), logger: logger, durable: durable,
                                seed: seed &+ UInt64(id) &* 0x9E37 &+ UInt64(s.incarnation))
        note("start \(id) (snapshot \(tree.lastProcessedZxid.hex), \(logged.count) logged)")
        for other in ids where other != id && !servers[other]!.partitioned {
            links[Pair(from: id, to: other)]!.up = true
            links[Pair(from: other, to: id)]!.up = true
        }
        s.pausedUntilMs = 0
        perform(id, s.core!.ensembleStart(now: now(id)))
        schedule(after: Int64(ServerCore.zabTick(config).ms), .zabTick(id, incarnation: s.incarnation))
        schedule(after: 100, .tick(id, incarnation: s.incarnation))
    }

    // MARK: the shell's side of the core's actions

    /// The core keeps each connection's `outstanding` by hand in a dozen places; its pipeline is the truth. Checked
    /// after every event on every running server.
    private func checkOutstanding(_ id: ServerId) {
        guard let core = servers[id]!.core else { return }
        var counts: [UInt64: Int] = [:]
        for entry in core.pipeline {
            switch entry {
            case let .txn(_, origin), let .forwarded(_, _, origin):
                if let c = origin.connection { counts[c, default: 0] += 1 }
            case let .reply(conn, _, _), let .read(conn, _, _, _):
                counts[conn, default: 0] += 1
            }
        }
        for (conn, state) in core.conns where !state.closing && state.outstanding != counts[conn, default: 0] {
            fail("server \(id) connection \(conn): outstanding \(state.outstanding), pipeline holds \(counts[conn, default: 0])")
        }
    }

    private func perform(_ id: ServerId, _ actions: [CoreAction]) {
        let s = servers[id]!
        defer {
            checkOutstanding(id)
            if let mode = s.core?.ensemble?.mode, mode != s.lastMode {
                s.lastMode = mode
                note("server \(id) is \(mode) (epoch \(s.core?.ensemble?.zab.epoch.map(String.init) ?? "-"), zxid \(s.core!.tree.lastProcessedZxid.hex))")
            }
        }
        for action in actions {
            switch action {
            case let .send(conn, bytes):
                clients.first { $0.conn == conn && $0.server == id }?.receive(self, bytes)
            case let .close(conn, _):
                clients.first { $0.conn == conn && $0.server == id }?.connectionLost(self, reason: "closed by server \(id)")
            case .setReading, .rollLog:
                break
            case let .membershipChanged(membership):
                // The shell's dynamic config file, which the next start reads (kept only while this is a member).
                if membership.members[id] != nil { s.membership = membership }
            case let .persist(records):
                s.pendingLog += records.map { LogEntry(zxid: Zxid(raw: $0.zxid), payload: $0.payload) }
                // A sync takes a few milliseconds, now and then much longer (a busy disk).
                let at = max(nowMs + (rng.next() % 10 == 0 ? random(20...150) : random(0...12)), s.lastDurableAt)
                s.lastDurableAt = at
                schedule(at: at, .durable(id, incarnation: s.incarnation, upTo: records.last!.zxid))
            case let .snapshot(zxid, tree):
                s.snapshot = (zxid, tree.snapshot())
            case let .quorumSend(to, message):
                send(Pair(from: id, to: to), message)
            case let .quorumSendSnapshot(to, epoch, lastZxid, tree):
                send(Pair(from: id, to: to), .snapshot(epoch: epoch, lastZxid: lastZxid, state: tree.streamingSnapshot()))
            case let .truncateLog(zxid):
                // The shell flushes queued appends first; then the records after `zxid` go.
                s.durableLog = (s.durableLog + s.pendingLog).filter { $0.zxid.raw <= zxid }
                s.pendingLog = []
            case let .installSnapshot(zxid, payload):
                s.durableLog = (s.durableLog + s.pendingLog).filter { $0.zxid.raw <= zxid }
                s.pendingLog = []
                s.snapshot = (zxid, payload)
            case let .persistEpochs(epochs):
                s.epochs = epochs
            }
        }
    }

    private func send(_ pair: Pair, _ message: ZabMessage) {
        guard var link = links[pair], link.up, servers[pair.to]!.core != nil else { return }
        // Mostly a LAN's few milliseconds; now and then a stall (retransmission, a full buffer) that holds the
        // link's later messages too, so a follower falls behind for a while.
        let delay = rng.next() % 40 == 0 ? random(50...400) : random(0...6)
        let at = max(nowMs + delay, link.lastArrivalMs)
        link.lastArrivalMs = at
        links[pair] = link
        schedule(at: at, .deliver(pair, generation: link.generation, message))
    }

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

    private func clientStep(_ i: Int, faultsOn: Bool) {
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

    /// Ephemeral nodes acknowledged as created, with their sessions.
    private var ephemerals: [String: Int64] = [:]

    func recordEphemeral(_ path: String, session: Int64) { ephemerals[path] = session }

    /// Per key and version, the (mzxid, value) first seen for it in a write's reply or a read. A key's versions
    /// form one history: the same version seen with another mzxid means a write that was acknowledged or read
    /// was lost and its version reused (masked in the final state by the writes after it).
    private var history: [String: [Int32: (mzxid: Int64, value: String)]] = [:]

    func observe(key: String, version: Int32, mzxid: Int64, value: String, by what: String) {
        if let known = history[key]?[version] {
            if known.mzxid != mzxid || known.value != value {
                fail("\(key) version \(version) was \(known.value)@\(known.mzxid.hex), now \(value)@\(mzxid.hex) (\(what)): a write was lost")
            }
        } else {
            history[key, default: [:]][version] = (mzxid, value)
        }
    }

    func recordAck(key: String, zxid: Int64, value: String) {
        if acked[key, default: []].contains(where: { $0.zxid == zxid }) {
            fail("two acknowledged writes share zxid \(zxid.hex)")
        }
        acked[key, default: []].append((zxid, value))
    }

    func violation(_ what: String) { fail(what) }
    func log(_ what: String) { note(what) }
    func randomDelay(_ range: ClosedRange<Int64>) -> Int64 { random(range) }

    // MARK: the end

    private func checkFinalState() throws {
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

    /// Sessions the clients found expired when they reconnected.
    var sessionsExpired = 0
    /// Watch events the clients received.
    var watchEvents = 0
    var ephemeralsCreated: Int { ephemerals.count }

    var ackedWrites: Int { acked.values.map(\.count).reduce(0, +) }
    var clientReplies: Int { clients.map(\.replies).reduce(0, +) }
}

extension Int64 {
    var hex: String { "0x" + String(self, radix: 16) }
}
