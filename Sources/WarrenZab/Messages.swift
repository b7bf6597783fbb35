/// What a server reports about itself in election notifications.
public enum PeerState: Int32, Hashable, Sendable {
    case looking = 0, following = 1, leading = 2, observing = 3
}

/// A proposed leader, ordered the way fast leader election orders votes: higher epoch first, then higher last
/// zxid, then higher server id.
public struct Vote: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var leader: ServerId
    /// The candidate's last logged zxid.
    public var zxid: Zxid
    /// The candidate's currentEpoch.
    public var peerEpoch: Int64

    public init(leader: ServerId, zxid: Zxid, peerEpoch: Int64) {
        self.leader = leader
        self.zxid = zxid
        self.peerEpoch = peerEpoch
    }

    public static func < (a: Vote, b: Vote) -> Bool {
        (a.peerEpoch, a.zxid.raw, a.leader) < (b.peerEpoch, b.zxid.raw, b.leader)
    }

    public var description: String { "vote(\(leader) \(zxid) e\(peerEpoch))" }
}

/// A fast-leader-election notification: the sender's vote, its election round and its state.
public struct Notification: Hashable, Sendable, CustomStringConvertible {
    public var vote: Vote
    /// The sender's election round (ZooKeeper's logicalclock).
    public var electionEpoch: Int64
    public var state: PeerState
    /// The reconfig entry whose membership the sender is in (nil: the one it started with). A server that missed
    /// membership changes while it was down or cut off learns the newest one this way, as ZooKeeper's election
    /// messages carry the sender's config: its own view could name only servers that left.
    public var config: LogEntry?

    public init(vote: Vote, electionEpoch: Int64, state: PeerState, config: LogEntry? = nil) {
        self.vote = vote
        self.electionEpoch = electionEpoch
        self.state = state
        self.config = config
    }

    public var description: String { "note(\(vote) round \(electionEpoch) \(state)\(config.map { " config \($0.zxid)" } ?? ""))" }
}

/// Everything servers say to each other. `epoch` fields name the leader's epoch the message belongs to; a message
/// for another epoch is ignored, so stale traffic from an old leadership cannot act on a new one.
///
/// Per destination, messages must arrive in the order sent (a TCP connection per pair in the shell); when a
/// connection breaks the shell reports `.peerDisconnected`. Only notifications tolerate loss, duplication and
/// reordering.
public enum ZabMessage: Hashable, Sendable {
    /// Election.
    case notification(Notification)
    /// Discovery, learner → leader: the learner's acceptedEpoch and whom it accepted it from (ZooKeeper's
    /// FOLLOWERINFO / OBSERVERINFO).
    case followerInfo(acceptedEpoch: Int64, acceptedLeader: ServerId, isObserver: Bool)
    /// Discovery, leader → learner: the proposed new epoch (LEADERINFO).
    case leaderInfo(epoch: Int64)
    /// Discovery, learner → leader: the epoch accepted, plus the learner's currentEpoch and last logged zxid
    /// (ACKEPOCH), which the leader uses to pick DIFF, TRUNC or SNAP.
    case ackEpoch(epoch: Int64, currentEpoch: Int64, lastZxid: Zxid)
    /// Sync, leader → learner: keep the log through `from`; history entries after it follow as proposals.
    case diff(epoch: Int64, from: Zxid)
    /// Sync: drop every logged entry after `to`; history entries after it follow as proposals.
    case trunc(epoch: Int64, to: Zxid)
    /// Sync: replace the state machine and log with this snapshot taken at `lastZxid`; entries after follow.
    /// Built by the shell on the leader in answer to `.sendSnapshot`; the Warren shell carries it as a stream of
    /// bounded chunk frames (`SnapshotStream` in WarrenServer), so the state may be larger than any frame.
    case snapshot(epoch: Int64, lastZxid: Zxid, state: [UInt8])
    /// A txn to log; `prev` is the zxid of the entry just before it in the leader's history, so a learner detects
    /// a gap or a stale stream instead of logging a hole.
    case proposal(epoch: Int64, entry: LogEntry, prev: Zxid)
    /// Sync done: the learner must make its log durable through `lastZxid`, then record `epoch` as its
    /// currentEpoch, then answer `.ackNewLeader`.
    case newLeader(epoch: Int64, lastZxid: Zxid)
    case ackNewLeader(epoch: Int64, lastZxid: Zxid)
    /// The leader is established; everything through `committed` may be delivered and clients served.
    case upToDate(epoch: Int64, committed: Zxid)
    /// Follower → leader: every entry through `upTo` is durable in the follower's log (cumulative).
    case ack(epoch: Int64, upTo: Zxid)
    /// Leader → follower: every entry through `upTo` is committed (cumulative).
    case commit(epoch: Int64, upTo: Zxid)
    /// Leader → observer: a committed entry (proposal and commit in one).
    case inform(epoch: Int64, entry: LogEntry, prev: Zxid)
    case ping(epoch: Int64, committed: Zxid)
    case pong(epoch: Int64)
    /// Learner → leader: a client write to turn into a proposal (the leader's shell prepares it).
    case forward(payload: [UInt8])
    /// Learner → leader: a client's `sync` (ZooKeeper's SYNC). The leader answers `.syncReply` with the same token
    /// once everything it had proposed on receipt is committed, after the commits that say so. Nothing is logged.
    case syncRequest(token: [UInt8])
    /// Leader → learner: the answer to `.syncRequest`; every entry through `upTo` (the leader's last proposal when
    /// it received the request) is committed, and the commits for them came before this message on the same
    /// connection.
    case syncReply(epoch: Int64, upTo: Zxid, token: [UInt8])
}
