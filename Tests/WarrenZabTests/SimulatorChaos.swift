import WarrenRandom
import Foundation
import WarrenJute
import WarrenTree
import WarrenZab

/// One randomized run: an ensemble under crashes, partitions, lossy links and slow disks while clients write,
/// then everything heals and the ensemble must elect a leader and make progress. Every parameter comes from the
/// seed, so `ZAB_SEED=<seed>` replays a failure exactly.
enum ChaosRun {
    static let chaosTicks = 400
    static let settleTicksMax = 300
    static let progressTicksMax = 100

    /// Returns nil when the run is safe and live, else a report starting with the seed.
    /// - Parameter reconfig: five servers, of which 1…3 start as the voters and 4 and 5 wait to be added; the
    ///   leader keeps changing the membership (voters, observers, removals, its own) during the chaos.
    static func run(seed: UInt64, reconfig: Bool = false, coverage: inout Simulator.Coverage) -> String? {
        runOne(seed: seed, reconfig: reconfig, coverage: &coverage)
    }

    static func run(seed: UInt64, reconfig: Bool = false) -> String? {
        var ignored = Simulator.Coverage()
        return runOne(seed: seed, reconfig: reconfig, coverage: &ignored)
    }

    private static func runOne(seed: UInt64, reconfig: Bool, coverage: inout Simulator.Coverage) -> String? {
        var pick = SeededRandom(seed: seed ^ 0x5A5A_5A5A)
        let shape = Int.random(in: 0..<3, using: &pick)
        var members: [ServerId: MemberRole] = [1: .participant, 2: .participant, 3: .participant]
        var joining: [ServerId: [ServerId: MemberRole]] = [:]
        if reconfig {
            for id: ServerId in [4, 5] { joining[id] = members.merging([id: .participant]) { $1 } }
        } else {
            if shape == 1 { members[4] = .participant; members[5] = .participant }
            if shape == 2 { members[4] = .observer }
        }
        let retained = Int.random(in: 3...40, using: &pick)
        let counterMax: Int64 = Int.random(in: 0..<4, using: &pick) == 0 ? Int64.random(in: 2...12, using: &pick) : Zxid.counterMax
        // The liveness timeout below syncLimit, as in the shell (1 s against 10 s there; closer here, so that both
        // the lease and the ack deadline end leaderships under the chaos's pauses and slow disks).
        let syncLimit = Int.random(in: 5...10, using: &pick)
        let leaderTimeout = Int.random(in: 3...syncLimit, using: &pick)
        let sim = Simulator(members: members, joining: joining, seed: seed) { cfg in
            cfg.retainedEntriesMax = retained
            // Half the seeds also bound the retained bytes (derived from the seed: no extra draw, so every seed
            // replays the run it did before this bound existed when it is off).
            if seed % 2 == 1 { cfg.retainedBytesMax = retained * 4 }
            cfg.zxidCounterMax = counterMax
            cfg.syncLimitTicks = syncLimit
            cfg.leaderTimeoutTicks = leaderTimeout
        }
        defer { coverage.merge(sim.coverage) }
        sim.tracing = ProcessInfo.processInfo.environment["ZAB_TRACE"] != nil
        let setup = (reconfig ? "reconfig, " : "") + "\(members.count) servers (\(members.values.filter { $0 == .observer }.count) observers), retain \(retained), counterMax \(counterMax), syncLimit \(syncLimit), leaderTimeout \(leaderTimeout)"
        func report(_ why: String) -> String {
            if sim.tracing {
                for (t, server, action) in sim.traceLog.suffix(Int(ProcessInfo.processInfo.environment["ZAB_TRACE"]!) ?? 200) {
                    print("t=\(t) s\(server) \(action)")
                }
            }
            return "ZAB_SEED=\(seed) [\(setup)] at time \(sim.now): \(why)\n\(sim.checker.violations.joined(separator: "\n"))\n\(sim.stateDump)"
        }

        for _ in 0..<chaosTicks {
            injectFaults(sim)
            if Double.random(in: 0..<1, using: &sim.rng) < 0.4, let via = sim.ids.filter({ sim.servers[$0]!.up }).randomElement(using: &sim.rng) {
                sim.write(via: via, client: Int64.random(in: 1...3, using: &sim.rng))
            }
            if Double.random(in: 0..<1, using: &sim.rng) < 0.1, let via = sim.ids.filter({ sim.servers[$0]!.up }).randomElement(using: &sim.rng) {
                sim.servers[via]!.sync()
            }
            if reconfig && Double.random(in: 0..<1, using: &sim.rng) < 0.03 { changeMembership(sim) }
            sim.run(ticks: 1)
            if !sim.checker.violations.isEmpty { return report("safety violated during chaos") }
        }

        // Heal everything; the ensemble must converge and serve.
        sim.heal()
        sim.faults = Simulator.Faults()
        for id in sim.ids { sim.restart(id) }
        guard sim.run(ticks: settleTicksMax, until: { sim.settled }) else {
            return report("no settled leader within \(settleTicksMax) ticks of healing")
        }
        // A client writes through the leader, retrying when a write is not acknowledged in time (a leader that
        // used up its zxid counters rejects writes and re-elects).
        var probes: [SimRequest] = []
        let progressed = sim.run(ticks: progressTicksMax) {
            if let z = probes.compactMap({ sim.acknowledged[$0] }).max() {
                return sim.ids.allSatisfy { sim.servers[$0]!.lastZxid >= z }
            }
            if sim.now % (10 * Simulator.tickUnits) == 0, let leader = sim.leader {
                probes.append(sim.write(via: leader, client: 99))
            }
            return false
        }
        guard progressed else { return report("no write reached every server within \(progressTicksMax) ticks (\(probes.count) tries)") }
        // Txns still in flight when the probe went out (forwarded writes) land too.
        sim.run(ticks: progressTicksMax) { sim.ids.allSatisfy { sim.servers[$0]!.count == sim.checker.history.count } }
        if !sim.checker.violations.isEmpty { return report("safety violated after healing") }
        return finalCheck(sim).map(report)
    }

    /// Every server holds the whole history; every acknowledged write is in it at its zxid.
    private static func finalCheck(_ sim: Simulator) -> String? {
        let history = sim.checker.history
        for id in sim.ids where sim.servers[id]!.count != history.count {
            return "server \(id) holds \(sim.servers[id]!.count) txns, the history has \(history.count)"
        }
        var at: [SimRequest: Zxid] = [:]
        for entry in history {
            var r = JuteReader(entry.payload)
            guard let txn = try? Txn(from: &r) else { return "history entry \(entry.zxid) is not a txn" }
            at[SimRequest(client: txn.header.sessionId, seq: txn.header.cxid)] = entry.zxid
        }
        for (request, zxid) in sim.acknowledged where at[request] != zxid {
            return "acknowledged write \(request) at \(zxid) is missing from the final history (found \(String(describing: at[request])))"
        }
        return nil
    }

    /// The leader proposes a random membership of the five servers (one to five voters, some of the rest
    /// observers), when no change is pending and — as Warren's shell requires (NewConfigNoQuorum) — the new
    /// voters synced with it are a quorum of them.
    private static func changeMembership(_ sim: Simulator) {
        guard let l = sim.leader, let leader = sim.servers[l], !leader.node.reconfigInProgress,
              let synced = leader.node.syncedServers else { return }
        var next: [ServerId: MemberRole] = [:]
        for id in sim.ids {
            let roll = Int.random(in: 0..<10, using: &sim.rng)
            if roll < 6 { next[id] = .participant } else if roll < 8 { next[id] = .observer }
        }
        let voters = next.filter { $0.value == .participant }.keys
        guard !voters.isEmpty, next != leader.node.config.members, voters.filter(synced.contains).count * 2 > voters.count else { return }
        leader.proposeReconfig(next)
    }

    private static func chance(_ p: Double, _ sim: Simulator) -> Bool { Double.random(in: 0..<1, using: &sim.rng) < p }

    private static func injectFaults(_ sim: Simulator) {
        let up = sim.ids.filter { sim.servers[$0]!.up }
        let down = sim.ids.filter { !sim.servers[$0]!.up }
        if chance(0.015, sim), let victim = up.randomElement(using: &sim.rng) { sim.crash(victim) }
        if chance(0.05, sim), let back = down.randomElement(using: &sim.rng) { sim.restart(back) }
        if chance(0.01, sim) {
            let order = sim.ids.shuffled(using: &sim.rng)
            let cut = Int.random(in: 1..<order.count, using: &sim.rng)
            sim.partition([Array(order[..<cut]), Array(order[cut...])])
        }
        if chance(0.03, sim) { sim.heal() }
        if chance(0.01, sim), let victim = up.randomElement(using: &sim.rng) {
            sim.pause(victim, ticks: Int.random(in: 3...40, using: &sim.rng))
        }
        if chance(0.01, sim) {
            sim.faults.notificationDrop = Double.random(in: 0...0.3, using: &sim.rng)
            sim.faults.notificationDuplicate = Double.random(in: 0...0.2, using: &sim.rng)
            sim.faults.streamBreak = Double.random(in: 0...0.02, using: &sim.rng)
            sim.faults.longDelayChance = Double.random(in: 0...0.05, using: &sim.rng)
            sim.faults.fsyncUnits = 1...Int.random(in: 1...40, using: &sim.rng)
        }
    }
}
