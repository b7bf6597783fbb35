import WarrenZab

/// The simulated network, disks' fsync timing and the fault controls.
extension Simulator {
    // MARK: - Network

    func connected(_ a: ServerId, _ b: ServerId) -> Bool {
        servers[a]!.up && servers[b]!.up && group[a, default: 0] == group[b, default: 0]
    }

    func delay() -> Int {
        if faults.longDelayChance > 0 && Double.random(in: 0..<1, using: &rng) < faults.longDelayChance {
            return Int.random(in: 20...60, using: &rng)
        }
        return Int.random(in: faults.delayUnits, using: &rng)
    }

    func send(from: ServerId, to: ServerId, _ message: ZabMessage) {
        let target = servers[to]!
        if case .notification = message {
            guard connected(from, to) else { return }
            if Double.random(in: 0..<1, using: &rng) < faults.notificationDrop { return }
            let copies = Double.random(in: 0..<1, using: &rng) < faults.notificationDuplicate ? 2 : 1
            for _ in 0..<copies {
                queue.push(.message(from: from, to: to, message, generation: -1, incarnation: target.incarnation), at: now + delay())
            }
            return
        }
        let pair = Pair.unordered(from, to)
        guard connected(from, to), Double.random(in: 0..<1, using: &rng) >= faults.streamBreak else {
            breakConnection(from, to)
            return
        }
        let direction = Pair(a: from, b: to)
        let at = max(now + delay(), lastDelivery[direction, default: 0])
        lastDelivery[direction] = at
        queue.push(.message(from: from, to: to, message, generation: generation[pair, default: 0],
                            incarnation: target.incarnation), at: at)
    }

    /// Drops the connection between two servers: in-flight stream messages are lost, both sides are told.
    func breakConnection(_ x: ServerId, _ y: ServerId) {
        generation[Pair.unordered(x, y), default: 0] += 1
        for (s, p) in [(x, y), (y, x)] where servers[s]!.up {
            queue.push(.disconnected(server: s, peer: p, incarnation: servers[s]!.incarnation), at: now + delay())
        }
    }

    func scheduleFsync(server: SimServer, batch: Int, upTo: Zxid) {
        if fsyncHeld.contains(server.id) {
            heldFsyncs.append((server.id, batch, upTo, server.incarnation))
            return
        }
        // One disk per server: fsyncs complete in the order they were issued.
        let at = max(now + Int.random(in: faults.fsyncUnits, using: &rng), lastFsync[server.id, default: 0])
        lastFsync[server.id] = at
        queue.push(.fsync(server: server.id, batch: batch, upTo: upTo, incarnation: server.incarnation), at: at)
    }

    /// Lets held fsyncs of `id` complete (in order) from now on.
    func releaseFsync(_ id: ServerId) {
        fsyncHeld.remove(id)
        for h in heldFsyncs where h.server == id {
            queue.push(.fsync(server: h.server, batch: h.batch, upTo: h.upTo, incarnation: h.incarnation), at: now + 1)
        }
        heldFsyncs.removeAll { $0.server == id }
    }

    /// Whether a quorum of the history's voters — and, for a reconfig entry, of its new voters too — holds `z`
    /// durably. Asked once per entry, at its first delivery anywhere; a reconfig's membership holds from then on.
    func quorumHoldsDurably(_ z: Zxid, changingTo next: [ServerId: MemberRole]? = nil) -> Bool {
        let holders = ids.filter { servers[$0]!.disk.holdsDurably(z) }
        var ok = ZabConfig(members: members).isQuorum(holders)
        if let next {
            ok = ok && ZabConfig(members: next).isQuorum(holders)
            members = next
            coverage.note("reconfig")
        }
        return ok
    }

    // MARK: - Faults

    func crash(_ id: ServerId) {
        let s = servers[id]!
        guard s.up else { return }
        if !s.disk.unsynced.isEmpty { coverage.note("crashWithUnsynced") }
        s.crash()
        heldFsyncs.removeAll { $0.server == id }
        for p in ids where p != id { breakConnection(id, p) }
    }

    func restart(_ id: ServerId) {
        let s = servers[id]!
        guard !s.up else { return }
        s.restart(seed: rng.next())
    }

    /// Splits the servers into groups that cannot talk across; connections across groups break.
    func partition(_ groups: [[ServerId]]) {
        group = [:]
        for (i, g) in groups.enumerated() { for s in g { group[s] = i + 1 } }
        for a in ids { for b in ids where a < b && group[a, default: 0] != group[b, default: 0] { breakConnection(a, b) } }
    }

    func heal() {
        group = [:]
        for id in pausedUntil.keys { pausedUntil[id] = now }
    }
}
