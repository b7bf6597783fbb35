import WarrenRandom

/// How a server takes part in the ensemble.
public enum MemberRole: Hashable, Sendable {
    /// Votes in elections, acks proposals, may lead.
    case participant
    /// Follows the leader's committed stream; never votes, never leads, never counts toward a quorum.
    case observer
}

/// Static ensemble settings. Every server must use the same membership; limits are in ticks.
public struct ZabConfig: Sendable, Equatable {
    /// Every server in the ensemble, this one included.
    public var members: [ServerId: MemberRole]
    /// Ticks a new leader and its learners have to finish discovery and synchronization (ZooKeeper's initLimit).
    public var initLimitTicks: Int
    /// How far behind a synced follower may fall (ZooKeeper's syncLimit): the leader drops a follower that has
    /// not acknowledged an outstanding proposal, or said anything at all, for this many ticks. A follower that is
    /// alive but slow (a slow disk, a long apply) is judged by this, not by `leaderTimeoutTicks`.
    public var syncLimitTicks: Int
    /// Liveness, both ways, once a leadership is established: a serving learner that hears nothing from its leader
    /// (ping or otherwise) for this many ticks looks for another, and a leader that has not heard from a quorum of
    /// its voters (itself included) within `leaderTimeoutTicks - pingIntervalTicks` stops leading, so that it
    /// stops taking writes before its followers elect a successor. Warren's own limit (ZooKeeper uses syncLimit
    /// for this); keep it several ping intervals long so late pings do not end a healthy leadership.
    public var leaderTimeoutTicks: Int
    /// Base interval between re-sent election notifications while looking; each resend waits this plus a random
    /// jitter in `0...electionJitterTicks`.
    public var electionResendTicks: Int
    public var electionJitterTicks: Int
    /// Ticks to wait, once a quorum agrees on a vote, for a better notification before deciding (finalizeWait).
    public var finalizeWaitTicks: Int
    /// A leader pings its learners every this many ticks; a learner answers each ping at once.
    public var pingIntervalTicks: Int
    /// Delivered entries kept in memory for DIFF syncs; learners further behind get a snapshot (SNAP).
    public var retainedEntriesMax: Int
    /// Payload bytes of those entries at most (the newest kept): 500 entries of 8 MiB values would otherwise hold
    /// 4 GiB per server. Small-txn workloads never reach it.
    public var retainedBytesMax: Int
    /// The largest zxid counter a leader uses before forcing a new epoch; `Zxid.counterMax` except in tests.
    public var zxidCounterMax: Int64

    public init(members: [ServerId: MemberRole], initLimitTicks: Int = 10, syncLimitTicks: Int = 5,
                electionResendTicks: Int = 2, electionJitterTicks: Int = 2, finalizeWaitTicks: Int = 1,
                pingIntervalTicks: Int = 1, leaderTimeoutTicks: Int? = nil, retainedEntriesMax: Int = 500,
                retainedBytesMax: Int = 128 << 20, zxidCounterMax: Int64 = Zxid.counterMax) {
        precondition((leaderTimeoutTicks ?? syncLimitTicks) > max(1, pingIntervalTicks),
                     "leaderTimeoutTicks \(leaderTimeoutTicks ?? syncLimitTicks) must exceed pingIntervalTicks \(pingIntervalTicks)")
        precondition(zxidCounterMax >= 1 && zxidCounterMax <= Zxid.counterMax, "zxidCounterMax \(zxidCounterMax)")
        self.members = members
        self.initLimitTicks = initLimitTicks
        self.syncLimitTicks = syncLimitTicks
        self.electionResendTicks = electionResendTicks
        self.electionJitterTicks = electionJitterTicks
        self.finalizeWaitTicks = finalizeWaitTicks
        self.pingIntervalTicks = pingIntervalTicks
        self.leaderTimeoutTicks = leaderTimeoutTicks ?? syncLimitTicks
        self.retainedEntriesMax = retainedEntriesMax
        self.retainedBytesMax = retainedBytesMax
        self.zxidCounterMax = zxidCounterMax
    }

    /// Participants (voters), sorted.
    public var voters: [ServerId] { members.filter { $0.value == .participant }.keys.sorted() }

    /// True when `ids` holds a strict majority of the voters (non-voters in `ids` are ignored).
    public func isQuorum<S: Sequence>(_ ids: S) -> Bool where S.Element == ServerId {
        var count = 0
        for id in Set(ids) where members[id] == .participant { count += 1 }
        return count * 2 > voters.count
    }

    public func isVoter(_ id: ServerId) -> Bool { members[id] == .participant }
}

/// The epochs a server keeps in its `acceptedEpoch`/`currentEpoch` files. The shell writes them durably whenever
/// the core emits `.persistEpochs` and hands them back at start-up.
public struct EpochState: Hashable, Sendable, CustomStringConvertible {
    /// The newest epoch this server promised to follow (LEADERINFO accepted, or chosen as leader).
    public var acceptedEpoch: Int64
    /// Which leader `acceptedEpoch` was accepted from: a server accepts one epoch from one leader only, which is
    /// what keeps two leaders from being established in the same epoch.
    public var acceptedLeader: ServerId
    /// The epoch whose leader's history this server has durably adopted (NEWLEADER processed).
    public var currentEpoch: Int64

    public init(acceptedEpoch: Int64 = 0, acceptedLeader: ServerId = -1, currentEpoch: Int64 = 0) {
        self.acceptedEpoch = acceptedEpoch
        self.acceptedLeader = acceptedLeader
        self.currentEpoch = currentEpoch
    }

    public var description: String { "accepted=\(acceptedEpoch)@\(acceptedLeader) current=\(currentEpoch)" }
}

/// What a server recovered from disk at start-up.
public struct DurableState: Sendable, Equatable {
    public var epochs: EpochState
    /// The zxid of the last txn in the state-machine snapshot the shell restored (zero for an empty tree).
    public var snapshotZxid: Zxid
    /// The logged txns after `snapshotZxid`, in zxid order, without gaps (a torn or unsynced tail already cut).
    public var log: [LogEntry]

    public init(epochs: EpochState = EpochState(), snapshotZxid: Zxid = .zero, log: [LogEntry] = []) {
        self.epochs = epochs
        self.snapshotZxid = snapshotZxid
        self.log = log
    }
}

