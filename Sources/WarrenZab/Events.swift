/// Inputs to a `ZabNode`. The shell feeds them one at a time, from one executor.
public enum ZabEvent: Hashable, Sendable {
    /// Must be the first event: the node starts looking for a leader.
    case start
    /// One unit of time passed. All limits in `ZabConfig` count these.
    case tick
    case message(from: ServerId, ZabMessage)
    /// Every `.persist` batch up to and including the one whose last entry is `upTo` is durable. Report batches
    /// in the order they were emitted, once each, and only to the node that emitted them (drop reports still
    /// pending from before a restart).
    case persisted(upTo: Zxid)
    /// A client write. On the leader it becomes the next proposal (its zxid is `nextProposalZxid`, read just
    /// before); on a serving learner it is forwarded to the leader; otherwise it is rejected.
    case clientProposal(payload: [UInt8])
    /// A client's `sync` on a serving learner: answered by `.synced(token)` once every entry the leader had
    /// proposed when it got the request is delivered here. Unlike a proposal it takes no zxid and is not logged,
    /// as in ZooKeeper. On a leader (whose own tree already reflects its commits in order) it is answered once
    /// everything proposed so far is committed; on a server that is not serving it is rejected.
    case clientSync(token: [UInt8])
    /// The connection to a peer broke: in-flight messages to and from it may be lost.
    case peerDisconnected(ServerId)
    /// The shell moved more of a SNAP sync to or from `peer` (a chunk written to it, or received from the leader).
    /// A large snapshot takes longer than the timeouts allow for a silent peer, and nothing else flows on that
    /// connection meanwhile: this keeps a transfer that progresses from being timed out. It only resets timers
    /// of a sync under way (leader: a learner not yet synced; learner: while awaiting its sync).
    case syncProgress(ServerId)
}

/// Why a client write was not accepted.
public enum RejectReason: Hashable, Sendable {
    /// No established leader is known right now (election or sync under way).
    case noLeader
    /// The leader used the last zxid counter of its epoch and is stepping down to start a new epoch.
    case zxidExhausted
}

/// Outputs of a `ZabNode`, to be carried out in array order.
///
/// Disk actions form one ordered stream: `.persist` appends and fsyncs asynchronously (report `.persisted` when
/// done); `.truncateLog`, `.installSnapshot` and `.persistEpochs` must be durable — after every earlier disk
/// action — before the shell carries out the next action. `.send` and `.sendSnapshot` go out in order per peer.
public enum ZabAction: Hashable, Sendable {
    case send(to: ServerId, ZabMessage)
    /// Serialize the state machine — which at this point has applied exactly the entries through `lastZxid` —
    /// and send it as `ZabMessage.snapshot(epoch:lastZxid:state:)` to the peer, in order with the other sends.
    case sendSnapshot(to: ServerId, epoch: Int64, lastZxid: Zxid)
    /// Append these entries to the log and fsync; then report `.persisted(upTo: entries.last!.zxid)`.
    case persist([LogEntry])
    /// Remove every logged entry after `after` (never one already delivered).
    case truncateLog(after: Zxid)
    /// Replace the state machine with `state` (taken at `lastZxid`) and the log with an empty one, durably.
    case installSnapshot(lastZxid: Zxid, state: [UInt8])
    /// Write the epoch files durably.
    case persistEpochs(EpochState)
    /// Apply these committed entries to the state machine, in order. Across all actions, deliveries are in
    /// strictly increasing zxid order and every server delivers the same sequence.
    case deliver([LogEntry])
    /// Leader only: a learner forwarded a client write. Prepare it and submit it as `.clientProposal`.
    case forwarded(from: ServerId, payload: [UInt8])
    case rejected(payload: [UInt8], reason: RejectReason)
    /// The `.clientSync` with this token is complete: it comes after the deliveries it waited for.
    case synced(token: [UInt8])
    case becameLooking
    /// The leader is established in `epoch` and accepts proposals.
    case becameLeader(epoch: Int64)
    /// Synchronized with `leader` in `epoch`: clients may be served.
    case becameFollower(leader: ServerId, epoch: Int64)
    case becameObserver(leader: ServerId, epoch: Int64)
    /// A delivered reconfig entry (delivered just before this action) made `members` the membership. The shell
    /// updates where it connects and persists the new configuration.
    case membershipChanged(entry: LogEntry, members: [ServerId: MemberRole])
}
