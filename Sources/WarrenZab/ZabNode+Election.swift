/// Fast leader election state for one round.
struct Election: CustomStringConvertible {
    var proposal: Vote
    /// Latest notification per voter in this round (this server's own included for participants).
    var received: [ServerId: Notification] = [:]
    /// Notifications from voters that already left the election (following or leading), any round.
    var outOfElection: [ServerId: Notification] = [:]
    var resendAt: Int
    /// When a quorum agreed on `proposal`: decide at this tick unless a better vote shows up first.
    var decideAt: Int?

    init(proposal: Vote, resendAt: Int) {
        self.proposal = proposal
        self.resendAt = resendAt
    }

    var description: String {
        "proposal \(proposal) received \(received.keys.sorted()) out \(outOfElection.keys.sorted()) decideAt \(decideAt.map(String.init) ?? "-")"
    }
}

extension ZabNode {
    /// A participant proposes itself with its currentEpoch and last logged zxid; an observer's vote never counts.
    var initialVote: Vote { Vote(leader: id, zxid: log.last, peerEpoch: epochs.currentEpoch) }

    /// Whether this server should switch its proposal from `current` to `candidate`. Only a voter of the membership
    /// in force can be elected (the others ignore votes for anyone else). A server that is no such voter — an
    /// observer, a server outside the membership — proposes itself only as a stand-in for its own log: it switches
    /// to any eligible candidate whose log is at least as new as its own (whatever the ids), and to none older, so
    /// its agreement, which counts where it is a voter of a logged reconfig, never elects a leader missing its
    /// entries.
    func prefers(_ candidate: Vote, over current: Vote) -> Bool {
        guard config.isVoter(candidate.leader) else { return false }
        if !config.isVoter(current.leader) {
            return (candidate.peerEpoch, candidate.zxid.raw) >= (current.peerEpoch, current.zxid.raw)
        }
        return candidate > current
    }

    /// Whether this server's vote counts: it is a voter of the membership in force or of a reconfig it logged and
    /// has not delivered (`quorumConfigs`), whose quorum an election must also reach.
    var votesInElection: Bool { quorumConfigs.contains { $0.isVoter(id) } }

    /// This server's notification as peers should see it now. Once settled, the vote names the leader and — as
    /// soon as discovery fixed it — the leadership's epoch, so every member of one leadership reports the same
    /// (leader, epoch) whatever round each of them decided in.
    var ownNotification: Notification {
        if let e = election {
            return Notification(vote: e.proposal, electionEpoch: logicalClock, state: .looking, config: configEntry)
        }
        var vote = decidedVote ?? initialVote
        if let e = epoch { vote.peerEpoch = e }
        return Notification(vote: vote, electionEpoch: decidedRound, state: state, config: configEntry)
    }

    func broadcastNotification() {
        let note = ownNotification
        for server in knownServers.sorted() where server != id { send(server, .notification(note)) }
    }

    func electionTick() {
        guard var e = election else { return }
        if now >= e.resendAt {
            let jitter = config.electionJitterTicks > 0 ? Int.random(in: 0...config.electionJitterTicks, using: &rng) : 0
            e.resendAt = now + max(1, config.electionResendTicks) + jitter
            election = e
            broadcastNotification()
        }
        if let at = e.decideAt, now >= at { decide(e.proposal) }
    }

    func onNotification(from sender: ServerId, _ n: Notification) {
        guard election != nil else {
            if let l = learning, sender == l.leader, !mayStillLead(n, sender) {
                // The server this one chose will not lead (it settled on another, or looks for one other than
                // itself): waiting for it would take initLimit. Look again; the peers' answers show who leads.
                return startLooking()
            }
            if let l = learning, sender == l.leader, n.state == .leading, l.stage == .awaitingLeaderInfo {
                // It leads now, and has not answered this server's FOLLOWERINFO: that one reached it while it was
                // still looking, and was answered with a notification instead. Without this, a leadership that
                // needs this server waited out initLimit and started over, with the same timing, again and again.
                send(l.leader, .followerInfo(acceptedEpoch: epochs.acceptedEpoch, acceptedLeader: epochs.acceptedLeader,
                                             isObserver: l.isObserver))
            }
            // Not looking: tell a looking peer whom this server follows or leads.
            if n.state == .looking { send(sender, .notification(ownNotification)) }
            return
        }
        guard quorumConfigs.contains(where: { $0.isVoter(sender) }) else {
            // Not a voter here (an observer, or a server outside this membership): its vote does not count, and a
            // looking server does not answer it — two looking servers that are not voters to each other (their
            // memberships differ) would otherwise answer each other without end. It hears this server's periodic
            // notifications, and a settled server answers it at once (above).
            return
        }
        switch n.state {
        case .looking:
            lookingVoterNotified(from: sender, n)
        case .following, .leading:
            settledVoterNotified(from: sender, n)
        case .observing:
            break
        }
    }

    /// Whether `sender`, as `n` describes it, may yet become (or already is) the leader: a voter that leads, or is
    /// still looking with a vote for itself in the round this server decided in (its finalize wait has not ended).
    /// Following anyone, looking with a vote for another server or in a later round, or no longer a voter, it will
    /// not.
    private func mayStillLead(_ n: Notification, _ sender: ServerId) -> Bool {
        // A leader a reconfig removed (or made an observer) steps down and can never lead again: look at once
        // instead of waiting out the leader timeout.
        guard config.isVoter(sender) else { return false }
        switch n.state {
        case .leading: return true
        // In a later round than the one this server decided in, it gave up the leadership this server joined
        // (its initLimit ran out): waiting for that attempt would only leave this server out of the next one.
        case .looking: return n.vote.leader == sender && n.electionEpoch <= decidedRound
        case .following, .observing: return false
        }
    }

    private func lookingVoterNotified(from sender: ServerId, _ n: Notification) {
        guard var e = election else { return }
        if n.electionEpoch > logicalClock {
            logicalClock = n.electionEpoch
            e.received = [:]
            e.proposal = prefers(n.vote, over: initialVote) ? n.vote : initialVote
            e.decideAt = nil
            election = e
            broadcastNotification()
        } else if n.electionEpoch < logicalClock {
            // A peer in an older round: bring it up to date.
            send(sender, .notification(ownNotification))
            return
        } else if prefers(n.vote, over: e.proposal) {
            e.proposal = n.vote
            e.decideAt = nil
            election = e
            broadcastNotification()
        }
        election!.received[sender] = n
        election!.received[id] = ownNotification
        checkElectionQuorum()
    }

    /// Starts (or cancels) the finalize wait depending on whether a quorum of this round agrees on the proposal.
    func checkElectionQuorum() {
        guard let e = election, votesInElection else { return }
        let agreeing = e.received.filter { $0.value.electionEpoch == logicalClock && $0.value.vote == e.proposal }.keys
        if isQuorumOfAll(agreeing) {
            if Set(agreeing).isSuperset(of: config.voters) {
                decide(e.proposal)
            } else if e.decideAt == nil {
                election!.decideAt = now + config.finalizeWaitTicks
            }
        } else {
            election!.decideAt = nil
        }
    }

    private func settledVoterNotified(from sender: ServerId, _ n: Notification) {
        guard election != nil, config.isVoter(n.vote.leader) else { return }
        if n.electionEpoch == logicalClock && votesInElection {
            election!.received[sender] = n
            let agreeing = election!.received.filter { $0.value.vote == n.vote }.keys
            // Joining a leader that says it leads: its own establishment checks the quorums its history needs
            // (`tryEstablish`), so the membership in force suffices here; requiring a quorum of a reconfig this
            // server logged but never delivered would keep it out for good once that change is truncated away.
            if config.isQuorum(agreeing) && leaderConfirmed(n.vote.leader, round: n.electionEpoch, in: election!.received) {
                decide(n.vote)
                return
            }
        }
        // Joining an ensemble that already settled: a quorum of settled voters names the same leader and epoch
        // (their zxids and rounds differ with when each decided, so they are not compared).
        election!.outOfElection[sender] = n
        let out = election!.outOfElection
        let agreeing = out.filter { $0.value.vote.leader == n.vote.leader && $0.value.vote.peerEpoch == n.vote.peerEpoch }.keys
        if config.isQuorum(agreeing) && leaderConfirmed(n.vote.leader, round: n.electionEpoch, in: out) {
            logicalClock = n.electionEpoch
            decide(n.vote)
        }
    }

    /// A vote for another server counts only once that server itself says it leads (so nobody follows a leader
    /// that crashed or never took the role); a vote for this server only in the round it was cast.
    private func leaderConfirmed(_ leader: ServerId, round: Int64, in notes: [ServerId: Notification]) -> Bool {
        if leader == id { return logicalClock == round }
        return notes[leader]?.state == .leading
    }

    /// Ends the election on `vote`.
    func decide(_ vote: Vote) {
        precondition(config.isVoter(vote.leader), "decided on non-voter \(vote.leader): \(stateDescription)")
        precondition(!(!config.isVoter(id) && vote.leader == id), "a server that is no voter elected itself: \(stateDescription)")
        election = nil
        decidedVote = vote
        decidedRound = logicalClock
        if vote.leader == id { becomeLeading() } else { becomeLearner(of: vote.leader) }
    }
}
