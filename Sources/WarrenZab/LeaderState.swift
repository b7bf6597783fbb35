/// What the leader knows about one connected learner.
struct LearnerHandle: CustomStringConvertible {
    enum Stage: Equatable {
        /// FOLLOWERINFO received.
        case info
        /// ACKEPOCH received with the learner's currentEpoch and last logged zxid.
        case epochAcked(currentEpoch: Int64, lastZxid: Zxid)
        /// Sync and NEWLEADER sent; waiting for its ack.
        case syncing(newLeaderZxid: Zxid)
        /// NEWLEADER acknowledged: its acks count toward commits.
        case synced
    }

    var isObserver: Bool
    /// From its FOLLOWERINFO.
    var acceptedEpoch: Int64
    var stage: Stage = .info
    /// The tick of the last message from it, of any kind (liveness).
    var lastHeard: Int
    /// Cumulative: every entry through this zxid is durable on the learner.
    var acked: Zxid = .zero
    /// A synced follower with proposals outstanding must acknowledge through `ackDueFor` by tick `ackDueBy`
    /// (syncLimit after the proposal went out, or after its previous ack moved); nil when it has acked everything.
    var ackDueBy: Int?
    var ackDueFor: Zxid = .zero
    /// Receives proposals and commits (or informs): set when its sync is sent.
    var forwarding = false
    /// Which FOLLOWERINFO of this learner started this handle (`LeaderState.learnerSessions`): a sync asked in one
    /// session is never answered in a later one, whose server (restarted, or reconnected after the leader
    /// dropped it) holds no such request.
    var session = 0

    var description: String {
        "\(isObserver ? "obs" : "fol") \(stage) heard \(lastHeard) acked \(acked) due \(ackDueBy.map { "\(ackDueFor)@\($0)" } ?? "-")"
    }
}

/// The leader's state for one leadership (discovery → sync → broadcast).
struct LeaderState: CustomStringConvertible {
    enum Stage: Equatable { case discovery, sync, broadcast }

    var stage: Stage = .discovery
    /// The new epoch, once a quorum's FOLLOWERINFO fixed it.
    var epoch: Int64?
    var startedAt: Int
    var learners: [ServerId: LearnerHandle] = [:]
    /// The last zxid of the history being established (the leader's log when sync started).
    var historyEnd: Zxid = .zero
    /// The leader's own NEWLEADER step is done: log durable through `historyEnd`, currentEpoch written.
    var selfReady = false
    /// The counter of the last proposal in `epoch`.
    var counter: Int64 = 0
    var committed: Zxid = .zero
    /// The counter hit `zxidCounterMax`: no more proposals; step down once everything is committed.
    var exhausted = false
    /// Syncs waiting for a commit, in arrival order: answer `token` to `learner` (nil: this leader's own) in its
    /// learner session `session` once `after` is committed. Bounded by the shells' bounds on in-flight client
    /// requests, one entry per request.
    var pendingSyncs: [(learner: ServerId?, session: Int, after: Zxid, token: [UInt8])] = []
    /// FOLLOWERINFOs taken so far: numbers learner sessions (`LearnerHandle.session`).
    var learnerSessions = 0
    var nextPingAt: Int
    /// The newest reconfig this leader proposed (or established in its history) and not yet delivered: until it
    /// is, commits need a quorum of these members' voters as well as of the current ones.
    var pendingReconfig: (zxid: Zxid, members: [ServerId: MemberRole])?

    init(startedAt: Int) {
        self.startedAt = startedAt
        nextPingAt = startedAt
    }

    var description: String {
        let l = learners.keys.sorted().map { "\($0): \(learners[$0]!)" }.joined(separator: ", ")
        return "\(stage) epoch \(epoch.map(String.init) ?? "?") since \(startedAt) history \(historyEnd) selfReady \(selfReady) counter \(counter) committed \(committed) exhausted \(exhausted) reconfig \(pendingReconfig.map { "\($0.zxid)" } ?? "-") learners [\(l)]"
    }
}

/// A learner's state for one leadership it follows.
struct LearnerState: CustomStringConvertible {
    enum Stage: Equatable {
        case awaitingLeaderInfo
        /// ACKEPOCH sent; waiting for DIFF/TRUNC/SNAP.
        case awaitingSync
        /// Sync started; history entries arriving.
        case receiving
        /// NEWLEADER received; waiting for the log to be durable through this zxid.
        case awaitingDurable(Zxid)
        /// NEWLEADER acknowledged; waiting for UPTODATE.
        case awaitingUpToDate
        case serving
    }

    var leader: ServerId
    var isObserver: Bool
    var epoch: Int64?
    var stage: Stage = .awaitingLeaderInfo
    var startedAt: Int
    var lastHeard: Int
    /// The last `.syncProgress` of a SNAP transfer from the leader, if any.
    var syncProgressAt: Int?
    /// The highest commit point heard from the leader.
    var leaderCommitted: Zxid = .zero
    /// The newest zxid reported in an ACK (acks are sent only after NEWLEADER was acknowledged).
    var lastAckSent: Zxid = .zero

    var hasAckedNewLeader: Bool { stage == .awaitingUpToDate || stage == .serving }

    var description: String {
        "leader \(leader) \(isObserver ? "observer" : "follower") epoch \(epoch.map(String.init) ?? "?") \(stage) since \(startedAt) heard \(lastHeard) progress \(syncProgressAt.map(String.init) ?? "-") committed \(leaderCommitted) ackSent \(lastAckSent)"
    }
}
