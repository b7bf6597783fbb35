/// Leader side of broadcast, commit and liveness.
extension ZabNode {
    func leaderPropose(_ payload: [UInt8]) {
        guard let l = leading, l.stage == .broadcast, let e = l.epoch else {
            out.append(.rejected(payload: payload, reason: .noLeader))
            return
        }
        guard !l.exhausted else {
            out.append(.rejected(payload: payload, reason: .zxidExhausted))
            return
        }
        let prev = log.last
        let entry = LogEntry(zxid: Zxid(epoch: e, counter: l.counter + 1), payload: payload)
        precondition(entry.zxid > prev, "proposal \(entry.zxid) not above last logged \(prev): \(stateDescription)")
        leading!.counter += 1
        if let members = membershipChange(entry) {
            precondition(l.pendingReconfig == nil, "reconfig \(entry.zxid) proposed while another is pending: \(stateDescription)")
            leading!.pendingReconfig = (entry.zxid, members)
        }
        appendAndPersist(entry)
        for (s, h) in l.learners.sorted(by: { $0.key < $1.key }) where h.forwarding && !h.isObserver {
            send(s, .proposal(epoch: e, entry: entry, prev: prev))
            if h.stage == .synced && h.ackDueBy == nil {
                leading!.learners[s]!.ackDueBy = now + config.syncLimitTicks
                leading!.learners[s]!.ackDueFor = entry.zxid
            }
        }
        if leading!.counter >= config.zxidCounterMax {
            // The next zxid would overflow into the epoch bits: finish what is in flight, then re-elect.
            leading!.exhausted = true
        }
    }

    func onAck(from s: ServerId, upTo z: Zxid) {
        guard let h = leading!.learners[s], h.stage == .synced, !h.isObserver else { return }
        let acked = max(h.acked, min(z, log.last))
        leading!.learners[s]!.acked = acked
        if h.ackDueBy != nil && acked >= h.ackDueFor {
            // Progress: what it still lacks is due syncLimit from now (ZooKeeper moves its ack deadline on every
            // packet a learner sends; here only acks that cover the awaited proposal move it).
            leading!.learners[s]!.ackDueBy = acked < log.last ? now + config.syncLimitTicks : nil
            leading!.learners[s]!.ackDueFor = log.last
        }
        recomputeCommit()
    }

    func leaderPersisted() {
        leaderSelfReadyIfDurable()
        recomputeCommit()
    }

    /// Commits the highest zxid durable on a quorum of voters (the leader's own log included), delivers it and
    /// tells the learners.
    func recomputeCommit() {
        guard let l = leading, l.stage == .broadcast, let e = l.epoch else { return }
        var durable: [ServerId: Zxid] = [id: log.synced]
        for (s, h) in l.learners where !h.isObserver && h.stage == .synced { durable[s] = h.acked }
        guard var target = Self.quorumDurable(config.members, durable) else { return }
        if let p = l.pendingReconfig, target >= p.zxid {
            // Joint consensus: the reconfig and what follows it commit only once the new voters hold them too;
            // until then the entries before it may still commit on the old quorum alone.
            let new = Self.quorumDurable(p.members, durable) ?? .zero
            target = new >= p.zxid ? min(target, new) : (log.largest(atMost: Zxid(raw: p.zxid.raw - 1)) ?? l.committed)
        }
        target = min(target, log.last)
        guard target > l.committed else { return }
        let holders = durable.filter { $0.value >= target }.keys
        precondition(config.isQuorum(holders), "commit \(target) ahead of a quorum's acks \(durable): \(stateDescription)")
        if let p = l.pendingReconfig, target >= p.zxid {
            precondition(ZabConfig(members: p.members).isQuorum(holders),
                         "reconfig \(p.zxid) committed ahead of the new voters' acks \(durable): \(stateDescription)")
        }
        let previous = l.committed
        leading!.committed = target
        // Taken before delivering: delivery trims the retained log, and observers need these entries (INFORM).
        let informs = l.learners.values.contains { $0.isObserver && $0.forwarding }
        let newlyCommitted = informs ? Array(log.entries(after: previous, through: target)) : []
        deliver(upTo: target)
        for (s, h) in l.learners.sorted(by: { $0.key < $1.key }) where h.forwarding {
            if h.isObserver {
                var prev = previous
                for entry in newlyCommitted {
                    send(s, .inform(epoch: e, entry: entry, prev: prev))
                    prev = entry.zxid
                }
            } else {
                send(s, .commit(epoch: e, upTo: target))
            }
        }
        answerSyncs(upTo: target)
        stepDownIfDrained()
    }

    /// The highest zxid durable on a quorum of the voters in `members`, given what each server holds durably
    /// (servers missing from `durable` hold nothing); nil when there are no voters.
    static func quorumDurable(_ members: [ServerId: MemberRole], _ durable: [ServerId: Zxid]) -> Zxid? {
        let held = members.filter { $0.value == .participant }.keys.map { durable[$0] ?? .zero }.sorted(by: >)
        guard !held.isEmpty else { return nil }
        return held[held.count / 2]
    }

    /// A sync from `learner` (nil: one of this leader's own clients) is answered once everything proposed so far
    /// is committed: at once if it is, else right after the commit that covers it.
    func leaderSync(from learner: ServerId?, _ token: [UInt8]) {
        let after = log.last
        let session = learner.flatMap { leading!.learners[$0]?.session } ?? 0
        if after <= leading!.committed {
            answerSync(learner, session, after, token)
        } else {
            leading!.pendingSyncs.append((learner, session, after, token))
        }
    }

    /// Pending syncs were queued with non-decreasing `after` (the log only grows), so the ready ones are a prefix.
    private func answerSyncs(upTo target: Zxid) {
        let ready = leading!.pendingSyncs.prefix { $0.after <= target }
        guard !ready.isEmpty else { return }
        leading!.pendingSyncs.removeFirst(ready.count)
        for s in ready { answerSync(s.learner, s.session, s.after, s.token) }
    }

    private func answerSync(_ learner: ServerId?, _ session: Int, _ after: Zxid, _ token: [UInt8]) {
        precondition(after <= leading!.committed, "sync answered before \(after) committed: \(stateDescription)")
        guard let learner else { return out.append(.synced(token: token)) }
        // A learner dropped since it asked has lost its clients; nothing to answer — also when it has come back
        // since, in a new session (a restarted server would find no such sync; EnsembleSim seed 1786).
        guard let e = leading!.epoch, let h = leading!.learners[learner], h.session == session, h.forwarding else { return }
        send(learner, .syncReply(epoch: e, upTo: after, token: token))
    }

    private func stepDownIfDrained() {
        guard let l = leading, l.exhausted, l.committed == log.last else { return }
        startLooking()
    }

    func leaderTick() {
        guard let l = leading else { return }
        if l.stage != .broadcast {
            if now - l.startedAt > config.initLimitTicks { startLooking() }
            return
        }
        // A learner still syncing may be busy far longer than syncLimit without a word (streaming, then restoring
        // and installing a large snapshot): like ZooKeeper, give it initLimit, counted from its last sign of life or
        // SNAP progress. A synced follower is dropped when it falls syncLimit behind or is silent that long; one
        // silent for less stays (it may be paused) but does not count toward the quorum below.
        for (s, h) in l.learners {
            let silent = now - h.lastHeard > (h.stage == .synced ? config.syncLimitTicks : config.initLimitTicks)
            if silent || h.ackDueBy.map({ now > $0 }) == true { leading!.learners[s] = nil }
        }
        if !leaderHasQuorum(heardWithin: config.leaderTimeoutTicks - max(1, config.pingIntervalTicks)) {
            // Cut off from a quorum: stop taking writes (and serving reads) now. The margin of one ping interval
            // makes this happen before the followers, whose clock starts when they last heard this leader, give
            // up on it and elect another.
            startLooking()
            return
        }
        if now >= leading!.nextPingAt, let e = l.epoch {
            leading!.nextPingAt = now + max(1, config.pingIntervalTicks)
            for s in leading!.learners.keys.sorted() { send(s, .ping(epoch: e, committed: leading!.committed)) }
        }
    }

    /// An established leader keeps leading only while a quorum of voters (itself included) is synced and, when
    /// `heardWithin` is given, was heard from within that many ticks.
    private func leaderHasQuorum(heardWithin: Int? = nil) -> Bool {
        guard let l = leading else { return false }
        let synced = l.learners.filter { _, h in
            !h.isObserver && h.stage == .synced && (heardWithin.map { now - h.lastHeard <= $0 } ?? true)
        }.keys
        return config.isQuorum(synced + [id])
    }

    /// A SNAP transfer to `s` progressed: it counts as hearing from a learner that is not yet synced.
    func leaderSyncProgress(_ s: ServerId) {
        guard let h = leading?.learners[s], h.stage != .synced else { return }
        leading!.learners[s]!.lastHeard = now
    }

    func leaderLostLearner(_ s: ServerId) {
        guard leading?.learners[s] != nil else { return }
        leading!.learners[s] = nil
        if leading!.stage == .broadcast && !leaderHasQuorum() { startLooking() }
    }
}
