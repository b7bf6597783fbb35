/// Learner (follower and observer) side of discovery, synchronization and broadcast.
extension ZabNode {
    func becomeLearner(of leader: ServerId) {
        learning = LearnerState(leader: leader, isObserver: isObserver, startedAt: now, lastHeard: now)
        send(leader, .followerInfo(acceptedEpoch: epochs.acceptedEpoch, acceptedLeader: epochs.acceptedLeader,
                                   isObserver: isObserver))
    }

    func learnerReceive(from s: ServerId, _ message: ZabMessage) {
        guard let l = learning, s == l.leader else { return }
        learning!.lastHeard = now
        if case let .leaderInfo(e) = message {
            onLeaderInfo(e)
            return
        }
        guard let e = l.epoch, messageEpoch(message) == e else { return }
        switch message {
        case let .diff(_, from):
            guard l.stage == .awaitingSync else { return abandonLeader() }
            // The leader planned from the last zxid this learner reported; the log has not changed since.
            guard from == log.last else { return abandonLeader() }
            learning!.stage = .receiving
        case let .trunc(_, to):
            guard l.stage == .awaitingSync, to < log.last, log.contains(to) else { return abandonLeader() }
            log.truncate(after: to)
            out.append(.truncateLog(after: to))
            learning!.stage = .receiving
        case let .snapshot(_, z, state):
            guard l.stage == .awaitingSync else { return abandonLeader() }
            log.installSnapshot(at: z)
            out.append(.installSnapshot(lastZxid: z, state: state))
            learning!.stage = .receiving
        case let .proposal(_, entry, prev):
            guard l.stage != .awaitingSync, !l.isObserver || l.stage == .receiving else { return abandonLeader() }
            receiveEntry(entry, prev: prev)
        case let .inform(_, entry, prev):
            guard l.isObserver, l.stage != .awaitingSync, l.stage != .receiving else { return abandonLeader() }
            receiveEntry(entry, prev: prev)
            if let committed = learning?.leaderCommitted {
                learning!.leaderCommitted = max(committed, entry.zxid)
                deliverCommitted()
            }
        case let .newLeader(_, z):
            guard l.stage == .receiving, z == log.last else { return abandonLeader() }
            learning!.stage = .awaitingDurable(z)
            ackNewLeaderIfDurable()
        case let .upToDate(_, committed):
            guard l.stage == .awaitingUpToDate else { return abandonLeader() }
            learning!.stage = .serving
            learning!.leaderCommitted = max(l.leaderCommitted, committed)
            deliverCommitted()
            out.append(l.isObserver ? .becameObserver(leader: l.leader, epoch: e) : .becameFollower(leader: l.leader, epoch: e))
        case let .commit(_, z), let .ping(_, z):
            if case .ping = message { send(l.leader, .pong(epoch: e)) }
            guard l.stage != .awaitingSync else { return }
            learning!.leaderCommitted = max(l.leaderCommitted, z)
            deliverCommitted()
        case let .syncReply(_, z, token):
            guard l.stage == .serving else { return }
            // The commits through z were sent first: if they have not all arrived, the stream lost messages (a
            // broken connection whose loss is not reported yet), and answering now could show a stale read.
            guard log.delivered >= z else { return abandonLeader() }
            out.append(.synced(token: token))
        default:
            break
        }
    }

    private func messageEpoch(_ m: ZabMessage) -> Int64? {
        switch m {
        case let .diff(e, _), let .trunc(e, _), let .snapshot(e, _, _), let .proposal(e, _, _), let .newLeader(e, _),
             let .upToDate(e, _), let .commit(e, _), let .inform(e, _, _), let .ping(e, _), let .syncReply(e, _, _):
            return e
        default:
            return nil
        }
    }

    private func onLeaderInfo(_ e: Int64) {
        guard let l = learning, l.stage == .awaitingLeaderInfo || l.stage == .awaitingSync else { return }
        // One epoch is promised to one leader only; an observer's promise does not count toward any quorum.
        let acceptable = e > epochs.acceptedEpoch || (e == epochs.acceptedEpoch && (epochs.acceptedLeader == l.leader || l.isObserver))
        guard acceptable else { return abandonLeader() }
        if !l.isObserver {
            writeEpochs(EpochState(acceptedEpoch: e, acceptedLeader: l.leader, currentEpoch: epochs.currentEpoch))
        }
        learning!.epoch = e
        learning!.stage = .awaitingSync
        send(l.leader, .ackEpoch(epoch: e, currentEpoch: epochs.currentEpoch, lastZxid: log.last))
    }

    /// Logs one entry of the leader's stream. A duplicate is ignored; a gap means the stream is broken.
    private func receiveEntry(_ entry: LogEntry, prev: Zxid) {
        if entry.zxid <= log.last {
            if log.entry(entry.zxid) == entry || entry.zxid <= log.delivered { return }
            return abandonLeader()
        }
        guard prev == log.last else { return abandonLeader() }
        appendAndPersist(entry)
        deliverCommitted()
    }

    /// NEWLEADER is acknowledged only after the synced history is durable and currentEpoch is written, in that
    /// order: acking earlier loses committed txns when followers crash (ZOOKEEPER-4646), and writing the epoch
    /// before the log lets a server with a missing tail win an election and truncate others (ZOOKEEPER-4643).
    func ackNewLeaderIfDurable() {
        guard let l = learning, case let .awaitingDurable(z) = l.stage, let e = l.epoch, log.synced >= z else { return }
        if !l.isObserver {
            precondition(newLeaderAcked[e].map { $0 == l.leader } ?? true,
                         "two leaders in epoch \(e): \(newLeaderAcked[e]!) and \(l.leader); \(stateDescription)")
            newLeaderAcked[e] = l.leader
            writeEpochs(EpochState(acceptedEpoch: epochs.acceptedEpoch, acceptedLeader: epochs.acceptedLeader, currentEpoch: e))
        }
        send(l.leader, .ackNewLeader(epoch: e, lastZxid: z))
        learning!.stage = .awaitingUpToDate
        learning!.lastAckSent = z
    }

    func learnerPersisted() {
        ackNewLeaderIfDurable()
        guard let l = learning, l.hasAckedNewLeader, !l.isObserver, let e = l.epoch, log.synced > l.lastAckSent else { return }
        learning!.lastAckSent = log.synced
        send(l.leader, .ack(epoch: e, upTo: log.synced))
    }

    private func deliverCommitted() {
        guard let l = learning else { return }
        deliver(upTo: l.leaderCommitted)
    }

    /// A SNAP transfer from the leader progressed: initLimit counts from now, as ZooKeeper's learner socket
    /// timeout (initLimit per read during sync) does, instead of from the start of the sync.
    func learnerSyncProgress(_ s: ServerId) {
        guard let l = learning, s == l.leader, l.stage == .awaitingSync else { return }
        learning!.syncProgressAt = now
    }

    /// A serving learner gives its leader `leaderTimeoutTicks` of silence (pings arrive every `pingIntervalTicks`
    /// however idle the ensemble is); before that, the sync has initLimit.
    func learnerTick() {
        guard let l = learning else { return }
        let limit = l.stage == .serving ? config.leaderTimeoutTicks : config.initLimitTicks
        let since = l.stage == .serving ? l.lastHeard : max(l.startedAt, l.syncProgressAt ?? l.startedAt)
        if now - since > limit { startLooking() }
    }

    private func abandonLeader() { startLooking() }
}
