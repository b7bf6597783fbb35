import Foundation
import WarrenRandom
@testable import WarrenZab

/// A whole ensemble in one process, driven by one seed: servers (`SimServer`), a network with per-pair FIFO
/// connections for the Zab stream and lossy datagrams for election notifications, disks that lose unsynced
/// tails on a crash, and a checker (`SimChecker`) that watches safety on every event.
///
/// Time is in units; one tick is `tickUnits` units. Nothing here reads a clock or global randomness.
final class Simulator {
    static let tickUnits = 10

    enum Event {
        case message(from: ServerId, to: ServerId, ZabMessage, generation: Int, incarnation: Int)
        case fsync(server: ServerId, batch: Int, upTo: Zxid, incarnation: Int)
        case disconnected(server: ServerId, peer: ServerId, incarnation: Int)
        case resume(ServerId)
        case tick
    }

    /// Knobs for the network and disk; chaos runs change them as they go.
    struct Faults {
        /// Chance an election notification is lost / duplicated.
        var notificationDrop = 0.0
        var notificationDuplicate = 0.0
        /// Chance a stream message breaks its connection (the message and everything in flight are lost).
        var streamBreak = 0.0
        /// Message delay range in units; notifications are reordered freely within it, stream messages stay FIFO.
        var delayUnits = 1...8
        /// Occasionally a much longer delay (a stalled link).
        var longDelayChance = 0.0
        var fsyncUnits = 1...10
    }

    let config: ZabConfig
    var rng: SeededRandom
    var now = 0
    var servers: [ServerId: SimServer] = [:]
    var ids: [ServerId] { servers.keys.sorted() }
    var faults = Faults()
    var checker = SimChecker()
    /// Requests acknowledged to their client, with the zxid they got.
    var acknowledged: [SimRequest: Zxid] = [:]
    /// Servers whose fsyncs do not complete until released (scenario tests).
    var fsyncHeld: Set<ServerId> = []
    var heldFsyncs: [(server: ServerId, batch: Int, upTo: Zxid, incarnation: Int)] = []
    /// Partition group per server; servers talk only within a group.
    var group: [ServerId: Int] = [:]
    /// Per unordered pair: connection generation (bumped on every break) and per direction the last delivery time.
    var generation: [Pair: Int] = [:]
    var lastDelivery: [Pair: Int] = [:]
    var queue = EventQueue<Event>()
    /// Per server, when its newest fsync completes (fsyncs complete in issue order).
    var lastFsync: [ServerId: Int] = [:]
    /// Everything the servers did, when `tracing` (scenario tests assert on orders).
    var tracing = false
    private(set) var log: [(time: Int, server: ServerId, action: ZabAction)] = []
    var traceLog: [(time: Int, server: ServerId, action: ZabAction)] { log }

    struct Pair: Hashable {
        var a: ServerId, b: ServerId
        static func unordered(_ x: ServerId, _ y: ServerId) -> Pair { Pair(a: min(x, y), b: max(x, y)) }
    }

    /// The membership the history is at: changed by the first delivery of a reconfig entry.
    var members: [ServerId: MemberRole]

    /// - Parameter joining: servers outside `members`, each with the membership its own configuration names.
    init(members: [ServerId: MemberRole], joining: [ServerId: [ServerId: MemberRole]] = [:], seed: UInt64,
         configure: (inout ZabConfig) -> Void = { _ in }) {
        var cfg = ZabConfig(members: members)
        configure(&cfg)
        config = cfg
        self.members = members
        rng = SeededRandom(seed: seed)
        for id in Set(members.keys).union(joining.keys).sorted() {
            var own = cfg
            own.members = joining[id] ?? members
            // Members start with the ensemble's membership stamped (as the shell does); a joiner with its own.
            let entry = joining[id] == nil && !joining.isEmpty ? SimServer.initialConfigEntry(members) : nil
            servers[id] = SimServer(id: id, sim: self, config: own, configEntry: entry, seed: rng.next(),
                                    snapshotEvery: Int.random(in: 3...30, using: &rng))
        }
        queue.push(.tick, at: Simulator.tickUnits)
        for id in ids { servers[id]!.handle(servers[id]!.node.on(.start)) }
    }

    /// How often the interesting paths ran (tests assert the seed set reaches them).
    struct Coverage: CustomStringConvertible {
        var counts: [String: Int] = [:]
        mutating func note(_ what: String) { counts[what, default: 0] += 1 }
        mutating func merge(_ other: Coverage) { counts.merge(other.counts, uniquingKeysWith: +) }
        subscript(_ what: String) -> Int { counts[what] ?? 0 }
        var description: String { counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }
    }
    var coverage = Coverage()

    /// Called before each action is carried out (scenario tests check what is durable at that moment).
    var onAction: ((SimServer, ZabAction) -> Void)?

    /// `ZAB_TRACE_LIVE=1`: every action printed as it happens (for a run that traps in a precondition).
    static let liveTrace = ProcessInfo.processInfo.environment["ZAB_TRACE_LIVE"] == "1"

    func trace(_ server: ServerId, _ action: ZabAction) {
        if tracing { log.append((now, server, action)) }
        if Self.liveTrace { print("t=\(now) s\(server) \(action)") }
        switch action {
        case .send(_, .diff): coverage.note("diff")
        case .send(_, .trunc): coverage.note("trunc")
        case .sendSnapshot: coverage.note("snap")
        case .becameLeader: coverage.note("leader")
        case let .persist(entries) where entries.contains { $0.zxid.counter == config.zxidCounterMax }:
            coverage.note("zxidExhausted")
        case .send(_, .inform): coverage.note("inform")
        case .deliver: coverage.note("deliver")
        default: break
        }
        onAction?(servers[server]!, action)
    }

    // MARK: - Running

    /// Processes events up to `time` (inclusive).
    func run(until time: Int) {
        while let next = queue.nextTime, next <= time {
            let (t, event) = queue.pop()!
            now = t
            dispatch(event)
        }
        now = max(now, time)
    }

    func run(ticks: Int) { run(until: now + ticks * Simulator.tickUnits) }

    /// Runs tick by tick until `done` holds or `ticks` pass; returns whether it held.
    @discardableResult
    func run(ticks: Int, until done: () -> Bool) -> Bool {
        for _ in 0..<ticks {
            if done() { return true }
            run(ticks: 1)
        }
        return done()
    }

    /// Servers stalled (a long GC pause, a swapped-out process) until the given time: they handle nothing, and
    /// what arrives for them waits, in order.
    var pausedUntil: [ServerId: Int] = [:]
    /// Events that arrived for a paused server, in arrival order.
    private var held: [ServerId: [Event]] = [:]

    func pause(_ id: ServerId, ticks: Int) {
        let until = max(pausedUntil[id] ?? 0, now + ticks * Simulator.tickUnits)
        pausedUntil[id] = until
        queue.push(.resume(id), at: until)
        coverage.note("pause")
    }

    private func target(of event: Event) -> ServerId? {
        switch event {
        case let .message(_, to, _, _, _): return to
        case let .fsync(server, _, _, _), let .disconnected(server, _, _): return server
        case .tick, .resume: return nil
        }
    }

    private func dispatch(_ event: Event) {
        if let s = target(of: event), (pausedUntil[s] ?? 0) > now || held[s] != nil {
            held[s, default: []].append(event)
            return
        }
        if case let .resume(s) = event {
            if let until = pausedUntil[s], until > now { return }  // extended: a later resume is queued
            let backlog = held.removeValue(forKey: s) ?? []
            for e in backlog { dispatch(e) }
            return
        }
        switch event {
        case .tick:
            queue.push(.tick, at: now + Simulator.tickUnits)
            for id in ids.shuffled(using: &rng) where servers[id]!.up && (pausedUntil[id] ?? 0) <= now {
                servers[id]!.handle(servers[id]!.node.on(.tick))
            }
        case let .message(from, to, message, gen, incarnation):
            let s = servers[to]!
            guard s.up, s.incarnation == incarnation else { return }
            if gen >= 0 {
                guard gen == generation[Pair.unordered(from, to), default: 0] else { return }
                guard connected(from, to) else { return breakConnection(from, to) }
            } else if !connected(from, to) {
                return
            }
            s.handle(s.node.on(.message(from: from, message)))
        case let .fsync(server, batch, upTo, incarnation):
            let s = servers[server]!
            guard s.up, s.incarnation == incarnation else { return }
            s.disk.complete(batch)
            s.handle(s.node.on(.persisted(upTo: upTo)))
        case let .disconnected(server, peer, incarnation):
            let s = servers[server]!
            guard s.up, s.incarnation == incarnation else { return }
            s.handle(s.node.on(.peerDisconnected(peer)))
        case .resume:
            break
        }
    }

    // MARK: - Observing

    /// The serving leader, when exactly one up server is one.
    var leader: ServerId? {
        let leaders = ids.filter { servers[$0]!.up && servers[$0]!.node.state == .leading && servers[$0]!.node.isServing }
        return leaders.count == 1 ? leaders[0] : nil
    }

    /// True when every up server serves under the same leader.
    var settled: Bool {
        guard let l = leader else { return false }
        return ids.allSatisfy { !servers[$0]!.up || (servers[$0]!.node.isServing && servers[$0]!.node.leaderId == l) }
    }

    private var nextSeq: [Int64: Int32] = [:]

    /// A new write from client `client` submitted through `server`.
    @discardableResult
    func write(via server: ServerId, client: Int64 = 1) -> SimRequest {
        let seq = nextSeq[client, default: 0]
        nextSeq[client] = seq + 1
        let request = SimRequest(client: client, seq: seq)
        if servers[server]!.up { servers[server]!.submit(request) }
        return request
    }

    func actions(of server: ServerId) -> [(time: Int, action: ZabAction)] {
        log.filter { $0.server == server }.map { ($0.time, $0.action) }
    }

    var stateDump: String {
        ids.map { id in
            let s = servers[id]!
            // Membership changes logged but not delivered (what an establishing leader needs both quorums for).
            let pending = s.node.log.entries(after: s.node.lastDeliveredZxid, through: s.node.lastLoggedZxid)
                .compactMap { e in SimServer.membership(e).map { m in "\(e.zxid)→" + m.keys.sorted().map { "\($0)\(m[$0] == .observer ? "o" : "p")" }.joined(separator: ",") } }
            return "  \(s.up ? "up" : "DOWN") count \(s.count) tree \(s.lastZxid) disk(\(s.disk.epochs), snap \(s.disk.snapshot.zxid), \(s.disk.durable.count) durable, \(s.disk.unsynced.count) unsynced) \(s.node.stateDescription)" + (pending.isEmpty ? "" : " undelivered reconfigs \(pending)")
        }.joined(separator: "\n")
    }
}
