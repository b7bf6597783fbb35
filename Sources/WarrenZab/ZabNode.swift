import WarrenRandom

/// One server's Zab protocol state machine: fast leader election, discovery, synchronization and broadcast.
///
/// Pure: it does no I/O, reads no clock and draws randomness only from the seeded generator given at init. The
/// shell feeds `ZabEvent`s through `on(_:)` from a single executor and carries out the returned `ZabAction`s in
/// order (see `ZabAction` for the disk and network ordering contract). Restarting a server means building a new
/// node from what is on disk.
public final class ZabNode {
    public let id: ServerId
    /// The ensemble's membership in force (the last one activated by a delivered reconfig entry) and the limits.
    public internal(set) var config: ZabConfig
    /// Which log entries change the membership, and to what (see `init`).
    let membershipChange: (LogEntry) -> [ServerId: MemberRole]?
    /// The reconfig entry `config.members` came from (nil: the membership this server started with); told to peers
    /// in notifications so that one with an older membership adopts this one.
    public internal(set) var configEntry: LogEntry?
    /// Every server named by a membership this server has had: looking, it notifies all of them, so one that missed
    /// changes still reaches servers that know the newest membership.
    var knownServers: Set<ServerId>
    /// Set when the membership activated during an event changed this server's own role, or removed the leader:
    /// it looks for a leader again once the event's other work is done (`on(_:)`), so a handler in mid-flight
    /// never finds its role state gone.
    var restartLookingAfterEvent = false
    var rng: SeededRandom

    /// The epoch files, as last written through `.persistEpochs`.
    public internal(set) var epochs: EpochState
    var log: ReplicaLog
    /// Ticks since start.
    public internal(set) var now = 0

    /// The election round (ZooKeeper's logicalclock); kept across elections.
    var logicalClock: Int64 = 0
    /// The vote this server decided on, and the round it was decided in (what it tells looking peers).
    var decidedVote: Vote?
    var decidedRound: Int64 = 0

    /// What this server is doing, with that role's state: one enum, so it can never be two things at once.
    enum Role {
        /// Before `.start`, and for the instant between deciding an election and taking the role decided on.
        case idle
        case looking(Election)
        case leading(LeaderState)
        /// Following or observing.
        case learning(LearnerState)
    }
    var role: Role = .idle
    var started = false

    // The role's state as optionals, for reading and for mutating in place (`leading!.counter += 1`). Each modify
    // accessor moves the state out of `role` for the duration, so the mutation finds its storage unshared (a copy
    // left in the enum would make every in-place change copy the learner table). Assigning a state takes that
    // role; assigning nil to the current role's state leaves `.idle`; assigning nil to another role's is a no-op.

    var election: Election? {
        get { if case .looking(let e) = role { e } else { nil } }
        _modify {
            var value: Election?
            let held = { if case .looking = role { true } else { false } }()
            if held, case .looking(let e) = role { value = e; role = .idle }
            yield &value
            if let value { role = .looking(value) } else if held { role = .idle }
        }
    }

    var leading: LeaderState? {
        get { if case .leading(let l) = role { l } else { nil } }
        _modify {
            var value: LeaderState?
            let held = { if case .leading = role { true } else { false } }()
            if held, case .leading(let l) = role { value = l; role = .idle }
            yield &value
            if let value { role = .leading(value) } else if held { role = .idle }
        }
    }

    var learning: LearnerState? {
        get { if case .learning(let l) = role { l } else { nil } }
        _modify {
            var value: LearnerState?
            let held = { if case .learning = role { true } else { false } }()
            if held, case .learning(let l) = role { value = l; role = .idle }
            yield &value
            if let value { role = .learning(value) } else if held { role = .idle }
        }
    }

    /// Per epoch, the leader this server acknowledged NEWLEADER for (in memory; checks one leader per epoch).
    var newLeaderAcked: [Int64: ServerId] = [:]
    /// Actions produced by the event being handled.
    var out: [ZabAction] = []

    /// - Parameters:
    ///   - config: the membership last activated (from the shell's configuration); this server may be outside it —
    ///     removed by a reconfig, or not yet added — and then follows a leader without a vote.
    ///   - durable: the epochs, snapshot zxid and logged entries recovered from disk. The shell's state machine
    ///     must already hold the snapshot; logged entries are delivered again only once known committed.
    ///   - seed: seeds the election jitter.
    ///   - membershipChange: for an entry that changes the ensemble's membership (a reconfig), the new membership;
    ///     nil for every other entry. Pure and cheap: it is asked of every proposal the leader makes and of every
    ///     delivered entry. The leader commits such an entry (and everything after it) only once a quorum of both
    ///     the old and the new voters holds it; every server switches to the new membership when it delivers it.
    ///   - configEntry: the reconfig entry `config`'s membership came from, if any (see `configEntry`).
    public init(id: ServerId, config: ZabConfig, durable: DurableState = DurableState(), seed: UInt64,
                membershipChange: @escaping (LogEntry) -> [ServerId: MemberRole]? = { _ in nil },
                configEntry: LogEntry? = nil) {
        precondition(durable.epochs.currentEpoch <= durable.epochs.acceptedEpoch,
                     "currentEpoch above acceptedEpoch: \(durable.epochs)")
        self.id = id
        self.config = config
        self.membershipChange = membershipChange
        self.configEntry = configEntry
        self.knownServers = Set(config.members.keys)
        self.epochs = durable.epochs
        self.log = ReplicaLog(snapshotZxid: durable.snapshotZxid, entries: durable.log)
        self.rng = SeededRandom(seed: seed ^ UInt64(bitPattern: id) &* 0x9E37_79B9_7F4A_7C15)
    }

    var isObserver: Bool { config.members[id] == .observer }

    /// The shell gave the membership in force a version without a log entry (Warren versions zoo.cfg's
    /// membership when it first serves): `entry` stands for it in notifications from now on. Same members only.
    public func stampMembership(_ entry: LogEntry) {
        precondition(membershipChange(entry) == config.members, "stamp \(entry) does not name the membership \(config.members)")
        if entry.zxid > (configEntry?.zxid ?? .zero) { configEntry = entry }
    }

    /// The memberships whose quorums must agree to elect or establish a leader: the one in force and, when this
    /// server has logged a reconfig it has not delivered, that one too (ZooKeeper's "last seen" config). A change
    /// may be committed — on a quorum of the old and the new voters — before a server delivers it; a quorum of the
    /// old voters alone could then elect a leader without the entries the new voters committed after it.
    var quorumConfigs: [ZabConfig] {
        let logged = log.entries(after: log.delivered, through: log.last).reversed().lazy.compactMap(membershipChange).first
        guard let logged, logged != config.members else { return [config] }
        return [config, ZabConfig(members: logged)]
    }

    /// True when `ids` hold a quorum of every membership in `quorumConfigs`.
    func isQuorumOfAll<S: Sequence>(_ ids: S) -> Bool where S.Element == ServerId {
        let set = Set(ids)
        return quorumConfigs.allSatisfy { $0.isQuorum(set) }
    }

    /// On an established leader: whether a reconfig it proposed is not yet committed (a second must wait).
    public var reconfigInProgress: Bool { leading?.pendingReconfig != nil }

    /// On an established leader: itself and the followers (members or not; observers excluded) that are synced,
    /// whose acks count. Nil elsewhere. A reconfig is only proposed when these hold a quorum of the new voters: an
    /// observer being made a voter acks nothing until the change commits and it reconnects as a follower, so a
    /// change that needed its ack would never commit (and would hold back every write after it).
    public var syncedServers: Set<ServerId>? {
        guard let l = leading, l.stage == .broadcast else { return nil }
        return Set(l.learners.filter { !$0.value.isObserver && $0.value.stage == .synced }.keys).union([id])
    }

    // MARK: - Read-only state for the shell

    /// What this server would report in a notification.
    public var state: PeerState {
        if leading != nil { return .leading }
        if let l = learning { return l.isObserver ? .observing : .following }
        return .looking
    }

    /// The leader this server follows or is (nil while looking).
    public var leaderId: ServerId? {
        if leading != nil { return id }
        return learning?.leader
    }

    /// True for an established leader and for a learner that received UPTODATE: clients may be served.
    public var isServing: Bool {
        if let l = leading { return l.stage == .broadcast }
        return learning?.stage == .serving
    }

    /// The epoch this server leads or follows once discovery agreed on it.
    public var epoch: Int64? { leading?.epoch ?? learning?.epoch }

    /// On a leader: its followers (observers excluded) in this leadership, and how many of them are synced (their
    /// acks count toward commits). Nil when not leading. For monitoring.
    public var followerCounts: (connected: Int, synced: Int)? {
        guard let l = leading else { return nil }
        let followers = l.learners.values.filter { !$0.isObserver }
        return (followers.count, followers.filter { $0.stage == .synced }.count)
    }

    public var lastLoggedZxid: Zxid { log.last }
    public var lastDeliveredZxid: Zxid { log.delivered }
    public var durableZxid: Zxid { log.synced }

    /// Syncs this leader is holding until a commit covers them (mntr's `zk_pending_syncs`).
    public var pendingSyncCount: Int { leading?.pendingSyncs.count ?? 0 }

    /// The zxid the next `.clientProposal` will get on this leader, or nil when it cannot take one now. A shell
    /// that writes the zxid into the payload (Warren's `Txn` header) reads this, prepares, then submits at once.
    public var nextProposalZxid: Zxid? {
        guard let l = leading, l.stage == .broadcast, !l.exhausted, let e = l.epoch else { return nil }
        return Zxid(epoch: e, counter: l.counter + 1)
    }

    // MARK: - Events

    /// Handles one event and returns the actions to carry out, in order.
    public func on(_ event: ZabEvent) -> [ZabAction] {
        out = []
        if !started {
            precondition(event == .start, "first event must be .start, got \(event)")
        }
        switch event {
        case .start:
            precondition(!started, "started twice: \(stateDescription)")
            started = true
            startLooking()
        case .tick:
            now += 1
            onTick()
        case let .message(from, message):
            // Servers outside the membership are heard too: a server about to be added by a reconfig follows the
            // leader as a non-voting learner first, and a removed one may stay on as one.
            guard from != id else { break }
            onMessage(from: from, message)
        case let .persisted(z):
            let known = log.persisted(upTo: z)
            precondition(known, "persisted(upTo: \(z)) matches no outstanding batch: \(stateDescription)")
            onPersisted()
        case let .clientProposal(payload):
            onClientProposal(payload)
        case let .clientSync(token):
            onClientSync(token)
        case let .peerDisconnected(peer):
            onPeerDisconnected(peer)
        case let .syncProgress(peer):
            if leading != nil { leaderSyncProgress(peer) } else if learning != nil { learnerSyncProgress(peer) }
        }
        if restartLookingAfterEvent {
            restartLookingAfterEvent = false
            startLooking()
        }
        return out
    }

    private func onTick() {
        if election != nil { electionTick() } else if leading != nil { leaderTick() } else if learning != nil { learnerTick() }
    }

    private func onMessage(from: ServerId, _ message: ZabMessage) {
        knownServers.insert(from)
        if case let .notification(n) = message {
            if let c = n.config, c.zxid > (configEntry?.zxid ?? .zero), let members = membershipChange(c) {
                // Committed (servers activate only delivered reconfigs): safe to adopt before its log arrives.
                activate(members, by: c)
            }
            onNotification(from: from, n)
        } else if case .followerInfo = message, leading == nil {
            // A peer chose this server as its leader, but it is not leading: say what it is instead, so the peer
            // looks again now rather than after initLimit.
            send(from, .notification(ownNotification))
        } else if leading != nil {
            leaderReceive(from: from, message)
        } else if learning != nil {
            learnerReceive(from: from, message)
        }
    }

    private func onPersisted() {
        if leading != nil { leaderPersisted() } else if learning != nil { learnerPersisted() }
    }

    private func onClientProposal(_ payload: [UInt8]) {
        if leading != nil {
            leaderPropose(payload)
        } else if let l = learning, l.stage == .serving {
            send(l.leader, .forward(payload: payload))
        } else {
            out.append(.rejected(payload: payload, reason: .noLeader))
        }
    }

    private func onClientSync(_ token: [UInt8]) {
        if let l = leading, l.stage == .broadcast {
            leaderSync(from: nil, token)
        } else if let l = learning, l.stage == .serving {
            send(l.leader, .syncRequest(token: token))
        } else {
            out.append(.rejected(payload: token, reason: .noLeader))
        }
    }

    private func onPeerDisconnected(_ peer: ServerId) {
        if leading != nil {
            leaderLostLearner(peer)
        } else if let l = learning, l.leader == peer {
            startLooking()
        }
    }

    // MARK: - Shared helpers

    func send(_ to: ServerId, _ message: ZabMessage) { out.append(.send(to: to, message)) }

    /// Appends to the in-memory log and asks the shell to persist, merging with a `.persist` emitted just before.
    func appendAndPersist(_ entry: LogEntry) {
        log.append(entry)
        if case var .persist(batch)? = out.last {
            batch.append(entry)
            out[out.count - 1] = .persist(batch)
            log.notePersistBatch(endingAt: entry.zxid, merge: true)
        } else {
            out.append(.persist([entry]))
            log.notePersistBatch(endingAt: entry.zxid, merge: false)
        }
    }

    /// Writes new epoch values, checking they only move forward.
    func writeEpochs(_ new: EpochState) {
        precondition(new.acceptedEpoch >= epochs.acceptedEpoch && new.currentEpoch >= epochs.currentEpoch
                     && new.currentEpoch <= new.acceptedEpoch,
                     "epochs may only advance, current <= accepted: \(epochs) -> \(new); \(stateDescription)")
        guard new != epochs else { return }
        epochs = new
        out.append(.persistEpochs(new))
    }

    /// Delivers logged entries through `c` (never past the log's end), activating the membership of any reconfig
    /// entry among them.
    func deliver(upTo c: Zxid) {
        let entries = log.takeDeliverable(upTo: c)
        guard !entries.isEmpty else { return }
        out.append(.deliver(Array(entries)))
        for entry in entries {
            guard let members = membershipChange(entry) else { continue }
            if let p = leading?.pendingReconfig, p.zxid <= entry.zxid { leading!.pendingReconfig = nil }
            // A newer membership may already have come with a notification.
            if entry.zxid > (configEntry?.zxid ?? .zero) { activate(members, by: entry) }
        }
        log.trim(retaining: config.retainedEntriesMax, bytesMax: config.retainedBytesMax)
    }

    /// Switches to the membership a delivered reconfig entry carries. A server whose own role changed (added,
    /// removed, participant ↔ observer) looks for its leader again with the new role; a leader that is no longer a
    /// voter steps down after the event (its followers elect a leader among the new voters); a staying leader
    /// forgets learners whose role changed (they reconnect with their new role).
    func activate(_ members: [ServerId: MemberRole], by entry: LogEntry) {
        let old = config.members
        config.members = members
        configEntry = entry
        knownServers.formUnion(members.keys)
        out.append(.membershipChanged(entry: entry, members: members))
        if leading != nil {
            if members[id] != .participant {
                restartLookingAfterEvent = true
                return
            }
            for (s, h) in leading!.learners where members[s].map({ ($0 == .observer) != h.isObserver }) ?? false {
                leading!.learners[s] = nil
            }
        } else if old[id] != members[id] || election != nil {
            // Looking: votes gathered under the old membership (a proposal for a server no longer a voter) are void.
            restartLookingAfterEvent = true
        }
    }

    /// Leaves leading/following and starts a new election round.
    func startLooking() {
        leading = nil
        learning = nil
        decidedVote = nil
        logicalClock += 1
        let vote = initialVote
        election = Election(proposal: vote, resendAt: now)
        if votesInElection { election!.received[id] = Notification(vote: vote, electionEpoch: logicalClock, state: .looking) }
        out.append(.becameLooking)
        broadcastNotification()
        checkElectionQuorum()
    }

    public var stateDescription: String {
        let members = config.members.keys.sorted().map { "\($0)\(config.members[$0] == .observer ? "o" : "p")" }.joined(separator: ",")
        var parts = ["server \(id) \(state) tick \(now) epochs(\(epochs)) \(log) round \(logicalClock) members \(members)@\(configEntry.map { "\($0.zxid)" } ?? "-")"]
        if let e = election { parts.append("election(\(e))") }
        if let l = leading { parts.append("leading(\(l))") }
        if let l = learning { parts.append("learning(\(l))") }
        return parts.joined(separator: " ")
    }
}
