import Foundation
import Logging
import WarrenJute
import WarrenRandom
@testable import WarrenStorage
import WarrenTree
import WarrenZab

@testable import WarrenCore
@testable import WarrenServer

/// A seeded simulation of a whole ensemble of real `ServerCore`s (Zab, the request pipeline, sessions, snapshots)
/// under faults, with simulated clients that check ZooKeeper's client guarantees as replies arrive.
///
/// Everything the shell does is simulated here, deterministically from one seed: the quorum links (per-link FIFO,
/// as TCP; random delays; a cut drops what is in flight and tells both ends), the disk — the real `TxnLog`,
/// `SnapshotStore` and `Recovery` code over a `SimulatedDisk` (a persist is appended at once and synced after a
/// random delay; a crash keeps what was synced and a torn prefix of the rest; the epochs and the dynamic membership
/// are kept as the shell's files would be) — both clocks (one monotonic time; per-server wall clocks that faults
/// step by an hour) and the timers. Faults: partitions of one server, crashes and restarts from the disk, power
/// loss, failed syncs, full disks, wall-clock steps.
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

    static let faultWords = [" start ", " crash", " power loss", " partition ", " heal ", " pause ", " wall clock ", " sleeps ",
                             " sync of ", " disk of ", " failed", "VIOLATION"]
    let seed: UInt64
    var rng: SeededRandom
    private(set) var nowMs: Int64 = 1_000_000
    var events: [(at: Int64, seq: Int, event: Event)] = []
    var seq = 0
    private(set) var trace: [String] = []
    var violations: [String] = []
    var loadEndMs: Int64 = .max

    let ids: [ServerId]
    let config: ServerConfig
    let logger = Logger(label: "warren-sim") { _ in SwiftLogNoOpLogHandler() }
    var servers: [ServerId: SimServer] = [:]
    /// Per ordered pair of servers: whether the link is up, its generation (bumped by every cut, so messages sent
    /// before a cut are never delivered after it) and when its last message arrives (FIFO).
    var links: [Pair: Link] = [:]
    var clients: [SimClient] = []
    var nextConn: UInt64 = 1
    /// Per key, every acknowledged write: its zxid and value.
    var acked: [String: [(zxid: Int64, value: String)]] = [:]
    /// Every acknowledged write with when it was sent and acknowledged (`checkWritesLinearizable`).
    var writeSpans: [(zxid: Int64, sentMs: Int64, ackedMs: Int64, key: String)] = []
    /// Ephemeral nodes acknowledged as created, with their sessions.
    var ephemerals: [String: Int64] = [:]
    /// Per key and version, the (mzxid, value) first seen for it in a write's reply or a read. A key's versions
    /// form one history: the same version seen with another mzxid means a write that was acknowledged or read
    /// was lost and its version reused (masked in the final state by the writes after it).
    var history: [String: [Int32: (mzxid: Int64, value: String)]] = [:]
    /// Sessions the clients found expired when they reconnected.
    var sessionsExpired = 0
    /// Watch events the clients received.
    var watchEvents = 0
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
        /// A full disk has room again.
        case diskSpace(ServerId)
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
        /// The server's log and snapshots on the simulated disk (nil while crashed), under `directory`.
        var storage: (log: TxnLog, snapshots: SnapshotStore)?
        let directory: String
        /// Fails this server's system calls on the simulated disk (failed syncs, a full disk).
        let faults: FaultInjector
        /// Records appended since the last sync (for the trace).
        var unsynced = 0
        var lastDurableAt: Int64 = 0
        var membership: DynamicConfig?
        /// The core's mode when last looked at (for the trace).
        var lastMode = ""
        /// The config node's mzxid when last looked at (for the trace).
        var lastConfigMzxid: Int64 = -1
        /// A stopped process (SIGSTOP, a long GC pause): nothing runs on it before this time.
        var pausedUntilMs: Int64 = 0

        init(id: ServerId, disk: SimulatedDisk) {
            directory = "/sim/\(id)"
            faults = FaultInjector(disk: disk)
        }
    }

    /// Every server's files, each under its own directory.
    let disk = SimulatedDisk()

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
        for id in ids { servers[id] = SimServer(id: id, disk: disk) }
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
        let end = faultsEnd + calmMs
        while let (at, seq, event) = popEvent() {
            // A commit can still be on its way to a follower when the time is up (a session expiring just then):
            // the final check waits, up to `settleMsMax`, for an instant at which every server has applied the same.
            if at > end && (appliedTheSame() || at > end + Self.settleMsMax) { break }
            nowMs = at
            try handle(event, seq: seq, faultsOn: at < faultsEnd)
            if !violations.isEmpty { break }
        }
        if nowMs > end { note("servers applied the same \(nowMs - end) ms after the end") }
        if violations.isEmpty { try checkFinalState() }
        return violations.map { Violation(seed: seed, what: $0, trace: trace) }
    }

    static let settleMsMax: Int64 = 2000

    /// Every server runs and has applied the same zxid.
    func appliedTheSame() -> Bool {
        Set(ids.map { servers[$0]!.core?.tree.lastProcessedZxid ?? -1 }).count == 1 && servers.values.allSatisfy { $0.core != nil }
    }

    func schedule(after ms: Int64, _ event: Event) { schedule(at: nowMs + ms, event) }

    /// `keeping`: the sequence number of an event put off (to the end of a pause), so it stays ahead of every event
    /// scheduled after it — what is queued for a stopped process is handled in order when it resumes, as a socket's
    /// bytes or a thread's reports are.
    func schedule(at: Int64, _ event: Event, keeping originalSeq: Int? = nil) {
        let seq: Int
        if let originalSeq {
            seq = originalSeq
        } else {
            self.seq += 1
            seq = self.seq
        }
        let item = (at: at, seq: seq, event: event)
        // Binary insertion, ordered by (time, sequence): a stable order, so one seed always replays the same run.
        var lo = 0, hi = events.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if events[mid].at < at || (events[mid].at == at && events[mid].seq < seq) { lo = mid + 1 } else { hi = mid }
        }
        events.insert(item, at: lo)
    }

    func popEvent() -> (Int64, Int, Event)? {
        guard !events.isEmpty else { return nil }
        let e = events.removeFirst()
        return (e.at, e.seq, e.event)
    }

    /// WARREN_SIM_ECHO=1 prints every event as it happens (for a seed that crashes inside a core).
    let echo = ProcessInfo.processInfo.environment["WARREN_SIM_ECHO"] != nil

    func note(_ line: String) {
        if echo { FileHandle.standardError.write(Data("\(nowMs - 1_000_000) \(line)\n".utf8)) }
        trace.append("\(nowMs - 1_000_000) \(line)")
        if trace.count > 400_000 { trace.removeFirst(100_000) }
    }

    func fail(_ what: String) {
        note("VIOLATION: \(what)")
        violations.append(what)
    }

    func now(_ id: ServerId) -> Now { Now(monoMs: nowMs, wallMs: nowMs + servers[id]!.wallOffsetMs) }

    func random(_ range: ClosedRange<Int64>) -> Int64 { Int64.random(in: range, using: &rng) }

    /// The server an event runs on, if it runs on one (a paused server runs it when it resumes).
    func target(of event: Event) -> ServerId? {
        switch event {
        case let .deliver(pair, _, _): return pair.to
        case let .durable(id, _, _), let .zabTick(id, _), let .tick(id, _), let .clientPacket(id, _, _, _): return id
        default: return nil
        }
    }

    func handle(_ event: Event, seq: Int, faultsOn: Bool) throws {
        if let id = target(of: event), let s = servers[id], s.pausedUntilMs > nowMs {
            // Put off in its original order: a new sequence number would let an event already due at the end of
            // the pause overtake it (a durability report of seed 33394 did, and Zab stopped on it).
            schedule(at: s.pausedUntilMs, event, keeping: seq)
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
            guard s.incarnation == incarnation, let core = s.core, let storage = s.storage else { return }
            do {
                try storage.log.sync()
            } catch {
                return diskFailed(id, "log sync", error)
            }
            s.unsynced = 0
            perform(id, core.onDurable(upTo: upTo, now: now(id)))
        case let .zabTick(id, incarnation):
            let s = servers[id]!
            guard s.incarnation == incarnation, let core = s.core else { return }
            perform(id, core.onZabTick(now: now(id)))
            schedule(after: Int64(ServerCore.zabTick(config.core).ms), .zabTick(id, incarnation: incarnation))
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
            guard servers[id]!.core == nil else { return }
            do { try start(id) } catch let error as StorageError {
                // A disk still full (or failing): the process exits again; an operator or supervisor retries.
                note("start \(id) failed: \(error)")
                schedule(after: random(200...1000), .restart(id))
            }
        case let .heal(id):
            heal(id)
        case let .diskSpace(id):
            note("disk of \(id) has room again")
            servers[id]!.faults.clear()
        case .fault:
            guard faultsOn else {
                for id in ids where servers[id]!.partitioned { heal(id) }
                for id in ids { servers[id]!.faults.clear() }
                return
            }
            injectFault()
            schedule(after: random(300...1500), .fault)
        }
    }
}

extension Int64 {
    var hex: String { "0x" + String(self, radix: 16) }
}
