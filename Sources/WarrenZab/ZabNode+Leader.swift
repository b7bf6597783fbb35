/// Leader side of discovery and synchronization.
extension ZabNode {
    func becomeLeading() {
        leading = LeaderState(startedAt: now)
        tryDecideEpoch()
    }

    func leaderReceive(from s: ServerId, _ message: ZabMessage) {
        guard leading != nil else { return }
        if leading!.learners[s] != nil { leading!.learners[s]!.lastHeard = now }
        switch message {
        case let .followerInfo(acceptedEpoch, acceptedLeader, observer):
            onFollowerInfo(from: s, acceptedEpoch: acceptedEpoch, acceptedLeader: acceptedLeader, isObserver: observer)
        case let .ackEpoch(e, currentEpoch, lastZxid) where e == leading!.epoch:
            onAckEpoch(from: s, currentEpoch: currentEpoch, lastZxid: lastZxid)
        case let .ackNewLeader(e, z) where e == leading!.epoch:
            onAckNewLeader(from: s, zxid: z)
        case let .ack(e, z) where e == leading!.epoch:
            onAck(from: s, upTo: z)
        case let .forward(payload):
            if leading!.stage == .broadcast && leading!.learners[s]?.stage == .synced {
                out.append(.forwarded(from: s, payload: payload))
            }
        case let .syncRequest(token):
            if leading!.stage == .broadcast && leading!.learners[s]?.stage == .synced {
                leaderSync(from: s, token)
            }
        default:
            break  // pongs only refresh lastHeard; anything else is stale or misdirected
        }
    }

    private func onFollowerInfo(from s: ServerId, acceptedEpoch: Int64, acceptedLeader: ServerId, isObserver observer: Bool) {
        // A member must come in its configured role; a server outside the membership (about to be added by a
        // reconfig, or removed by one) may follow as either, and counts toward no quorum of the current voters.
        if let role = config.members[s], (role == .observer) != observer { return }
        // A FOLLOWERINFO starts a new session with that learner.
        leading!.learnerSessions += 1
        leading!.learners[s] = LearnerHandle(isObserver: observer, acceptedEpoch: acceptedEpoch, lastHeard: now,
                                             session: leading!.learnerSessions)
        guard let e = leading!.epoch else {
            tryDecideEpoch()
            return
        }
        if !observer && (acceptedEpoch > e || (acceptedEpoch == e && acceptedLeader != id)) {
            // This voter promised the epoch to another leader and can never follow this leadership; a new
            // election picks an epoch above its promise.
            startLooking()
            return
        }
        send(s, .leaderInfo(epoch: e))
    }

    /// Once a quorum of voters (this one included) reported their acceptedEpoch, proposes one above all of them.
    private func tryDecideEpoch() {
        guard let l = leading, l.epoch == nil else { return }
        let voters = l.learners.filter { !$0.value.isObserver }
        guard isQuorumOfAll(voters.keys + [id]) else { return }
        let e = voters.values.reduce(epochs.acceptedEpoch) { max($0, $1.acceptedEpoch) } + 1
        writeEpochs(EpochState(acceptedEpoch: e, acceptedLeader: id, currentEpoch: epochs.currentEpoch))
        leading!.epoch = e
        for s in l.learners.keys.sorted() { send(s, .leaderInfo(epoch: e)) }
        tryStartSync()
    }

    private func onAckEpoch(from s: ServerId, currentEpoch: Int64, lastZxid: Zxid) {
        guard let h = leading!.learners[s], h.stage == .info else { return }
        if leading!.stage != .broadcast && !h.isObserver
            && (currentEpoch, lastZxid.raw) > (epochs.currentEpoch, log.last.raw) {
            // A member of the establishing quorum has a newer history than this leader: leading would lose it.
            startLooking()
            return
        }
        leading!.learners[s]!.stage = .epochAcked(currentEpoch: currentEpoch, lastZxid: lastZxid)
        switch leading!.stage {
        case .discovery: tryStartSync()
        case .sync: if !h.isObserver { syncLearner(s) }
        case .broadcast: syncLearner(s)
        }
    }

    /// Once a quorum of voters acknowledged the new epoch, fixes the history to establish and syncs them.
    private func tryStartSync() {
        guard let l = leading, l.stage == .discovery, l.epoch != nil else { return }
        let acked = l.learners.filter { !$0.value.isObserver && $0.value.stage != .info }.keys
        guard isQuorumOfAll(acked + [id]) else { return }
        leading!.stage = .sync
        leading!.historyEnd = log.last
        for s in acked.sorted() { syncLearner(s) }
        leaderSelfReadyIfDurable()
    }

    /// The leader's own NEWLEADER step: its log durable through the history, then currentEpoch written.
    func leaderSelfReadyIfDurable() {
        guard let l = leading, l.stage == .sync, !l.selfReady, let e = l.epoch, log.synced >= l.historyEnd else { return }
        writeEpochs(EpochState(acceptedEpoch: epochs.acceptedEpoch, acceptedLeader: epochs.acceptedLeader, currentEpoch: e))
        leading!.selfReady = true
        tryEstablish()
    }

    /// Sends the learner what it lacks — DIFF, TRUNC+DIFF or SNAP, then the entries — and NEWLEADER.
    /// Followers get the whole log (uncommitted tail included); observers only the committed part.
    func syncLearner(_ s: ServerId) {
        guard let l = leading, let e = l.epoch, let h = l.learners[s],
              case let .epochAcked(_, peerLast) = h.stage else { return }
        let end = h.isObserver ? l.committed : log.last
        let from: Zxid
        // A learner with no history at all gets the state machine itself, not the log from zero: its shell may
        // have set up local state before any txn (Warren's /zookeeper/config), and a SNAP makes it the leader's.
        if peerLast != .zero, let t = log.largest(atMost: min(peerLast, end)) {
            // Histories that share a zxid agree up to it, so the learner keeps everything through t.
            from = t
            if t == peerLast { send(s, .diff(epoch: e, from: t)) } else { send(s, .trunc(epoch: e, to: t)) }
        } else {
            from = log.delivered
            out.append(.sendSnapshot(to: s, epoch: e, lastZxid: from))
        }
        var prev = from
        for entry in log.entries(after: from, through: end) {
            send(s, .proposal(epoch: e, entry: entry, prev: prev))
            prev = entry.zxid
        }
        send(s, .newLeader(epoch: e, lastZxid: end))
        leading!.learners[s]!.stage = .syncing(newLeaderZxid: end)
        leading!.learners[s]!.forwarding = true
    }

    private func onAckNewLeader(from s: ServerId, zxid: Zxid) {
        guard let h = leading!.learners[s], h.stage == .syncing(newLeaderZxid: zxid) else { return }
        leading!.learners[s]!.stage = .synced
        leading!.learners[s]!.acked = max(h.acked, zxid)
        if leading!.stage == .broadcast {
            send(s, .upToDate(epoch: leading!.epoch!, committed: leading!.committed))
            recomputeCommit()
        } else {
            tryEstablish()
        }
    }

    /// With a quorum (itself included) durably holding the history, the leader commits it and starts serving.
    private func tryEstablish() {
        guard let l = leading, l.stage == .sync, l.selfReady, let e = l.epoch else { return }
        let synced = l.learners.filter { !$0.value.isObserver && $0.value.stage == .synced }.keys
        // A reconfig in the history not yet delivered commits with it: its new voters must hold the history too.
        guard isQuorumOfAll(synced + [id]) else { return }
        leading!.pendingReconfig = log.entries(after: log.delivered, through: l.historyEnd).reversed()
            .lazy.compactMap { entry in self.membershipChange(entry).map { (entry.zxid, $0) } }.first
        precondition(epochs.acceptedEpoch == e && epochs.acceptedLeader == id && epochs.currentEpoch == e,
                     "establishing epoch \(e) without owning it: \(stateDescription)")
        leading!.stage = .broadcast
        leading!.committed = l.historyEnd
        deliver(upTo: l.historyEnd)
        for s in synced.sorted() { send(s, .upToDate(epoch: e, committed: l.historyEnd)) }
        out.append(.becameLeader(epoch: e))
        for (s, h) in l.learners.sorted(by: { $0.key < $1.key }) where h.isObserver {
            if case .epochAcked = h.stage { syncLearner(s) }
        }
    }
}
