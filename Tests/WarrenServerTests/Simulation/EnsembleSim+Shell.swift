import Foundation
import WarrenJute
@testable import WarrenStorage
import WarrenTree
import WarrenZab

@testable import WarrenCore
@testable import WarrenServer

/// The faults, and the shell's side of the cores: starting them from the simulated disk, carrying out their
/// actions, and the links between them.
extension EnsembleSim {
    // MARK: faults

    func injectFault() {
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
            switch rng.next() % 4 {
            case 0:
                // The next sync fails (an I/O error): the shell stops the process; it restarts from the disk.
                note("sync of \(id) will fail")
                s.faults.fail("fdatasync", errno: EIO)
            case 1:
                // The disk is full for a while: appends fail, the process stops and fails to start until then.
                let ms = random(300...2000)
                note("disk of \(id) full for \(ms) ms")
                s.faults.fail("write", errno: ENOSPC)
                s.faults.fail("pwrite", errno: ENOSPC)
                schedule(after: ms, .diskSpace(id))
            default:
                note("crash \(id) (\(s.unsynced) log records not yet synced may be lost)")
                crash(id)
                schedule(after: random(100...2500), .restart(id))
            }
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

    func cutLinks(of id: ServerId) {
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

    func heal(_ id: ServerId) {
        let s = servers[id]!
        guard s.partitioned else { return }
        note("heal \(id)")
        s.partitioned = false
        for other in ids where other != id && !servers[other]!.partitioned {
            links[Pair(from: id, to: other)]!.up = true
            links[Pair(from: other, to: id)]!.up = true
        }
    }

    func crash(_ id: ServerId) {
        let s = servers[id]!
        cutLinks(of: id)
        s.core = nil
        s.incarnation += 1
        s.lastConfigMzxid = -1
        s.storage = nil
        s.unsynced = 0
        for line in disk.unsynced(under: s.directory + "/") { note("  unsynced at the crash: \(line)") }
        disk.crash(under: s.directory + "/", random: &rng)
        s.partitioned = false
        for c in clients where c.server == id { c.connectionLost(self, reason: "server \(id) crashed") }
    }

    /// A failed write or sync: the shell stops the process (a replica whose disk state is unknown must not vote);
    /// it restarts from what the disk holds.
    func diskFailed(_ id: ServerId, _ what: String, _ error: Error) {
        note("\(what) of \(id) failed (\(error)): the process stops")
        crash(id)
        servers[id]!.faults.clear("fdatasync")  // an I/O error passes; a full disk stays full until `.diskSpace`
        schedule(after: random(100...1500), .restart(id))
    }

    /// Starts (or restarts) a server from what its disk holds, as the shell does: the log opened (its torn tail
    /// repaired), the newest valid snapshot restored, the records after it handed to Zab.
    func start(_ id: ServerId) throws {
        let s = servers[id]!
        var options = TxnLog.Options(logFileBytesMax: 256 << 10, logFileRecordsMax: 500, writeBufferBytes: 8 << 10, runwayBytes: 16 << 10)
        options.faults = s.faults
        let log = try TxnLog.open(directory: s.directory + "/log/version-2", options: options)
        let snapshots = try SnapshotStore(directory: s.directory + "/snap/version-2", faults: s.faults)
        let state = try Recovery.load(snapshots: snapshots, log: log)
        s.storage = (log, snapshots)
        let tree = try state.snapshot.map { try DataTree.restore(from: $0.payload, config: config.treeConfig) } ?? DataTree(config: config.treeConfig)
        let logged = state.records.map { LogEntry(zxid: Zxid(raw: $0.zxid), payload: $0.payload) }
        var c = config
        c.myid = id
        if let m = s.membership {
            c.peers = m.servers
            c.configVersion = m.version
        }
        let durable = DurableState(epochs: s.epochs, snapshotZxid: Zxid(raw: tree.lastProcessedZxid), log: logged)
        let recovered = RecoveredServerState(tree: tree, sessionSecret: 7, logged: state.records,
                                             recordsSinceSnapshot: state.records.count)
        s.core = try ServerCore(config: c, recovered: recovered, now: now(id), logger: logger, durable: durable,
                                seed: seed &+ UInt64(id) &* 0x9E37 &+ UInt64(s.incarnation))
        note("start \(id) (snapshot \(tree.lastProcessedZxid.hex), \(logged.count) logged)")
        for other in ids where other != id && !servers[other]!.partitioned {
            links[Pair(from: id, to: other)]!.up = true
            links[Pair(from: other, to: id)]!.up = true
        }
        s.pausedUntilMs = 0
        perform(id, s.core!.ensembleStart(now: now(id)))
        schedule(after: Int64(ServerCore.zabTick(config.core).ms), .zabTick(id, incarnation: s.incarnation))
        schedule(after: 100, .tick(id, incarnation: s.incarnation))
    }

    // MARK: the shell's side of the core's actions

    /// The core's own check of its connections' `outstanding` against its pipeline, after every event on every
    /// running server.
    func checkOutstanding(_ id: ServerId) {
        for line in servers[id]!.core?.outstandingDisagreements() ?? [] { fail("server \(id) \(line)") }
    }

    func perform(_ id: ServerId, _ actions: [CoreAction]) {
        let s = servers[id]!
        defer {
            checkOutstanding(id)
            if let mode = s.core?.ensemble?.mode, mode != s.lastMode {
                s.lastMode = mode
                note("server \(id) is \(mode) (epoch \(s.core?.ensemble?.zab.epoch.map(String.init) ?? "-"), zxid \(s.core!.tree.lastProcessedZxid.hex))")
            }
            // The config node changes outside transactions (versioning, adopted memberships): worth a line.
            if let stat = s.core?.tree.exists(ServerCore.configPath), stat.mzxid != s.lastConfigMzxid {
                s.lastConfigMzxid = stat.mzxid
                note("server \(id) /zookeeper/config at mzxid \(stat.mzxid.hex), \(stat.dataLength) bytes")
            }
        }
        for action in actions {
            switch action {
            case let .send(conn, bytes):
                clients.first { $0.conn == conn && $0.server == id }?.receive(self, bytes)
            case let .close(conn, _):
                clients.first { $0.conn == conn && $0.server == id }?.connectionLost(self, reason: "closed by server \(id)")
            case .setReading:
                break
            case .rollLog:
                do { try s.storage!.log.roll() } catch { return diskFailed(id, "log roll", error) }
            case let .membershipChanged(membership):
                // The shell's dynamic config file, which the next start reads (kept only while this is a member).
                if membership.members[id] != nil { s.membership = membership }
            case let .persist(records):
                do {
                    try s.storage!.log.append(records.map { LogRecord(zxid: $0.zxid, payload: $0.payload) })
                } catch {
                    return diskFailed(id, "log append", error)
                }
                s.unsynced += records.count
                // A sync takes a few milliseconds, now and then much longer (a busy disk).
                let at = max(nowMs + (rng.next() % 10 == 0 ? random(20...150) : random(0...12)), s.lastDurableAt)
                s.lastDurableAt = at
                schedule(at: at, .durable(id, incarnation: s.incarnation, upTo: records.last!.zxid))
            case let .snapshot(zxid, tree):
                // Written in the background by the shell; a failure is logged and the next one tried later.
                do { _ = try s.storage!.snapshots.writeSnapshot(zxid: zxid, payload: tree.snapshot()) } catch {
                    note("snapshot of \(id) at \(zxid.hex) failed: \(error)")
                }
            case let .quorumSend(to, message):
                send(Pair(from: id, to: to), message)
            case let .quorumSendSnapshot(to, epoch, lastZxid, tree):
                send(Pair(from: id, to: to), .snapshot(epoch: epoch, lastZxid: lastZxid, state: tree.streamingSnapshot()))
            case let .truncateLog(zxid):
                // The shell flushes queued appends first; then the records after `zxid` go.
                do {
                    try s.storage!.log.sync()
                    _ = try s.storage!.log.truncate(after: zxid)
                } catch {
                    return diskFailed(id, "log truncation", error)
                }
                s.unsynced = 0
            case let .installSnapshot(zxid, payload):
                do {
                    try s.storage!.log.sync()
                    _ = try s.storage!.snapshots.writeSnapshot(zxid: zxid, payload: payload)
                    _ = try s.storage!.log.truncate(after: zxid)
                } catch {
                    return diskFailed(id, "snapshot install", error)
                }
                s.unsynced = 0
            case let .persistEpochs(epochs):
                s.epochs = epochs
            }
        }
    }

    func send(_ pair: Pair, _ message: ZabMessage) {
        guard var link = links[pair], link.up, servers[pair.to]!.core != nil else { return }
        // Mostly a LAN's few milliseconds; now and then a stall (retransmission, a full buffer) that holds the
        // link's later messages too, so a follower falls behind for a while.
        let delay = rng.next() % 40 == 0 ? random(50...400) : random(0...6)
        let at = max(nowMs + delay, link.lastArrivalMs)
        link.lastArrivalMs = at
        links[pair] = link
        schedule(at: at, .deliver(pair, generation: link.generation, message))
    }
}
