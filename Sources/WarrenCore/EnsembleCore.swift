import DequeModule
import Logging
import WarrenJute
import WarrenTree
import WarrenZab

/// The replicated side of a `ServerCore`: the Zab node and what the core tracks about its role.
package final class EnsembleState {
    let zab: ZabNode
    var mode = "looking"
    /// Sessions with client activity on this follower since the last report to the leader.
    var touchedSessions: Set<Int64> = []
    /// Zab ticks so far, to do once-per-tickTime work on the finer Zab clock.
    var zabTicks = 0
    /// When the last Zab tick ran (`catchUpStalledLeader`).
    var lastZabTickMonoMs: Int64?
    var lastProposalBytes = 0
    /// Elections this server has taken part in since it started (the one at start-up included): each time it began
    /// looking for a leader (mntr's `warren_elections`, how tests count spurious elections).
    var elections = 0
    /// Learner messages that arrived while this server was still deciding the election (a peer that decided first
    /// sends FOLLOWERINFO at once); replayed in arrival order if this server ends up leading; otherwise only the
    /// FOLLOWERINFOs are (answered with a notification), the rest dropped.
    var earlyMessages: [(ServerId, ZabMessage)] = []
    static let earlyMessagesMax = 64
    /// Zab's own actions for one event, beyond one per member (see `ServerCore.pendingActionsMax`).
    static let pendingActionsPerEventMax = 64
    /// Zab actions emitted and not yet carried out, in emission order, and whether `runZab` is carrying them out.
    var pendingActions = Deque<ZabAction>()
    var runningActions = false
    /// Handshakes waiting for this server to serve (`holdConnect`), in arrival order.
    var heldConnects: [HeldConnect] = []
    /// SNAP sync chunks and their state bytes sent to and received from peers (mntr).
    var snapshotChunksSent = 0
    var snapshotBytesSent = 0
    var snapshotChunksReceived = 0
    var snapshotBytesReceived = 0
    /// A leader's snapshot the shell restored while its chunks arrived (`SnapshotIntake`), handed in just before
    /// the `.snapshot` message it belongs to and used by that message's install instead of restoring its bytes.
    package var preparedSnapshot: (zxid: Int64, tree: DataTree)?
    /// Read-only mode (`ServerCore+ReadOnly.swift`): whether it is on, since when Zab has been looking (monotonic
    /// ms; nil while it follows or leads), and the local sessions created while read-only.
    var readOnly = false
    var lookingSinceMonoMs: Int64?
    var readOnlySessions: Set<Int64> = []
    /// Follower: forwarded syncs already completed by a commit that overtook their answer (`completeOvertakenSyncs`),
    /// as (session, cxid) in the order their answers are still to come.
    var overtakenSyncs: [(sessionId: Int64, cxid: Int32)] = []
    /// The membership in force, with addresses (zoo.cfg's or its dynamic file's until a reconfig is delivered).
    var membership: DynamicConfig

    init(zab: ZabNode, membership: DynamicConfig) {
        self.zab = zab
        self.membership = membership
    }

    var isLeader: Bool { zab.state == .leading && zab.isServing }
}

/// Ensemble mode: Zab decides the order of transactions; "committed → apply" replaces "durable → apply".
///
/// Writes: the leader prepares a Txn at `nextProposalZxid` and proposes it; a follower forwards the `WriteOp` to the
/// leader (`ForwardedWrite`) and keeps a `.forwarded` marker in its pipeline, completed when the txn with the same
/// session id and cxid is delivered. Every delivered txn is applied in zxid order on every server; the server that
/// received the request answers it. Losing the leader (or leadership) closes every client connection, as ZooKeeper
/// does: clients reconnect, and requests in flight end as connection loss. Their new handshakes wait for the
/// election (`holdConnect`) instead of being refused.
package extension ServerCore {
    /// Zab runs on a finer clock than tickTime so that an election (resends, the finalize wait) takes tens of
    /// milliseconds, not seconds; initLimit and syncLimit keep their zoo.cfg meaning (multiples of tickTime).
    static let zabTickMsMax = 50

    /// Milliseconds per Zab tick, and Zab ticks per tickTime.
    static func zabTick(_ config: CoreConfig) -> (ms: Int, perTickTime: Int) {
        let ms = max(1, min(config.tickTimeMs, zabTickMsMax))
        return (ms, max(1, config.tickTimeMs / ms))
    }

    /// initLimit and syncLimit in Zab ticks as zoo.cfg means them; the liveness timeout from
    /// `warren.leaderTimeoutMs`, capped at syncLimit. Pings go out `leaderTimeoutPings` times per liveness timeout
    /// (every 100 ms by default), so a few late or lost ones never end a leadership, and never less often than
    /// every half tickTime (ZooKeeper's rate).
    static func zabConfig(_ config: CoreConfig) -> ZabConfig {
        var members: [ServerId: MemberRole] = [:]
        for p in config.peers { members[p.id] = p.isObserver ? .observer : .participant }
        let (tickMs, scale) = zabTick(config)
        let syncLimitTicks = max(2, config.syncLimit) * scale
        let leaderTimeoutTicks = max(2, min(syncLimitTicks, (config.leaderTimeoutMs + tickMs - 1) / tickMs))
        let pingIntervalTicks = max(1, min(scale / 2, leaderTimeoutTicks / leaderTimeoutPings))
        return ZabConfig(members: members, initLimitTicks: max(2, config.initLimit) * scale,
                         syncLimitTicks: syncLimitTicks, pingIntervalTicks: pingIntervalTicks,
                         leaderTimeoutTicks: leaderTimeoutTicks)
    }

    static let leaderTimeoutPings = 10

    /// Starts the Zab node: the server begins looking for a leader.
    func ensembleStart(now: Now) -> [CoreAction] {
        ensemble?.lookingSinceMonoMs = now.monoMs
        return runZab(.start, now: now)
    }

    func onQuorumMessage(from peer: ServerId, _ message: ZabMessage, now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        let caughtUp = catchUpStalledLeader(now: now)
        if !caughtUp.isEmpty { return caughtUp + onQuorumMessage(from: peer, message, now: now) }
        if ens.zab.state == .looking {
            if case .notification = message {} else {
                // The core drops these while looking; without the replay a learner waits initLimit and re-elects.
                if ens.earlyMessages.count < EnsembleState.earlyMessagesMax { ens.earlyMessages.append((peer, message)) }
                return []
            }
        }
        return runZab(.message(from: peer, message), now: now)
    }

    func onPeerDisconnected(_ peer: ServerId, now: Now) -> [CoreAction] {
        runZab(.peerDisconnected(peer), now: now)
    }

    /// The transport moved `chunks` snapshot chunks (`bytes` of state) to (`sent`) or from `peer`.
    func onSyncProgress(_ peer: ServerId, chunks: Int, bytes: Int, sent: Bool, now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        if sent {
            ens.snapshotChunksSent += chunks
            ens.snapshotBytesSent += bytes
        } else {
            ens.snapshotChunksReceived += chunks
            ens.snapshotBytesReceived += bytes
        }
        return runZab(.syncProgress(peer), now: now)
    }

    /// One Zab tick (see `zabTick`). Once per tickTime a serving follower also reports its active sessions to the
    /// leader.
    func onZabTick(now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        var actions = catchUpStalledLeader(now: now)
        actions += runZab(.tick, now: now)
        actions += checkReadOnly(now: now)
        ens.lastZabTickMonoMs = now.monoMs
        ens.zabTicks &+= 1
        guard ens.zabTicks % Self.zabTick(config).perTickTime == 0 else { return actions }
        if ens.zab.state == .looking || !ens.zab.isServing {
            logger.debug("not serving", metadata: ["zab": "\(ens.zab.stateDescription)"])
        }
        if ens.zab.state != .leading, ens.zab.isServing, !ens.touchedSessions.isEmpty {
            let ids = ens.touchedSessions.sorted()
            ens.touchedSessions = []
            actions += runZab(.clientProposal(payload: ForwardedWrite.touch(ids).encode()), now: now)
        }
        return actions
    }

    /// A leader whose core thread did not tick for a whole liveness timeout (the process was stopped, or stalled)
    /// heard nobody in that time, while its followers, whose clocks ran, have been electing a successor. Zab counts
    /// tick events, not time, so it would otherwise go on serving reads (stale once the successor commits) and
    /// taking writes (never committed) for another timeout after it resumes. It is given the ticks it missed — up
    /// to initLimit's worth when that is longer, as a leader still syncing its followers counts by initLimit — so
    /// that its lease runs out now, and this is done before anything else reaches it (`onQuorumMessage` and
    /// `onPacket` call it too): the messages waiting in its sockets are old, and a NEWLEADER ack among them made a
    /// leader that had stalled while syncing serve stale reads and syncs for a whole timeout (EnsembleSim seed
    /// 380). Not done on a follower: one that stalled has its leader's pings waiting in its socket, and counting
    /// the gap as silence would start an election.
    func catchUpStalledLeader(now: Now) -> [CoreAction] {
        guard let ens = ensemble, let last = ens.lastZabTickMonoMs, ens.zab.state == .leading else { return [] }
        let timeout = ens.zab.config.leaderTimeoutTicks
        let missed = Int((now.monoMs - last) / Int64(Self.zabTick(config).ms)) - 1
        guard missed >= timeout else { return [] }
        logger.warning("no Zab tick for a whole leader timeout; counting the ticks missed",
                       metadata: ["ms": "\(now.monoMs - last)"])
        // The missed ticks are accounted for now; the next tick counts from here.
        ens.lastZabTickMonoMs = now.monoMs
        var actions: [CoreAction] = []
        let catchUp = min(missed, max(timeout, ens.zab.config.initLimitTicks + 1))
        for _ in 0..<catchUp where ens.zab.state == .leading { actions += runZab(.tick, now: now) }
        return actions
    }

    /// Feeds one event to the Zab node and carries out its actions in order.
    ///
    /// Carrying out an action can feed Zab again (a delivered createSession replays a client's queued packets, a
    /// forwarded write becomes a proposal). Such nested calls only queue their actions behind the ones already
    /// emitted and return nothing; the outermost call carries everything out, so the disk and the network see
    /// actions exactly in emission order (persist batches must reach the writer in the order Zab emitted them).
    func runZab(_ event: ZabEvent, now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        queueZabActions(ens.zab.on(event))
        guard !ens.runningActions else { return [] }
        ens.runningActions = true
        defer { ens.runningActions = false }
        var actions: [CoreAction] = []
        while true {
            while let action = ens.pendingActions.popFirst() { actions += carryOut(action, now: now) }
            if ens.zab.isServing, !ens.heldConnects.isEmpty {
                // Their createSession writes feed Zab again: carried out by the next pass of this loop.
                actions += releaseHeldConnects(now: now)
                continue
            }
            guard ens.zab.state != .looking, !ens.earlyMessages.isEmpty else { break }
            let early = ens.earlyMessages
            ens.earlyMessages = []
            for (peer, message) in early {
                // A server that ended up not leading answers a FOLLOWERINFO with its notification, so the peer that
                // chose it looks again now; dropping it left that peer waiting initLimit. Other early messages
                // belong to a leadership this server does not hold.
                if ens.zab.state != .leading { guard case .followerInfo = message else { continue } }
                queueZabActions(ens.zab.on(.message(from: peer, message)))
            }
        }
        return actions + leaveReadOnlyIfRejoined()
    }

    /// Bound on `pendingActions` (asserted at every append): the queue is emptied before the outermost `runZab`
    /// returns, so it holds what one event leads to — Zab's answer to it, plus what carrying that out feeds back:
    /// per connection at most its handshake and the packets queued behind it (`earlyPacketsMax`), per held
    /// handshake one createSession; each becomes one proposal, whose actions reach every member.
    var pendingActionsMax: Int {
        (EnsembleState.pendingActionsPerEventMax + Self.heldConnectsMax
            + conns.count * (Self.earlyPacketsMax + 1)) * (config.peers.count + 4)
    }

    func queueZabActions(_ new: [ZabAction]) {
        guard let ens = ensemble else { return }
        ens.pendingActions.append(contentsOf: new)
        precondition(ens.pendingActions.count <= pendingActionsMax,
                     "\(ens.pendingActions.count) Zab actions pending, bound \(pendingActionsMax)")
    }

    private func carryOut(_ action: ZabAction, now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        var actions: [CoreAction] = []
        switch action {
        case let .send(to, message):
            actions.append(.quorumSend(to, message))
        case let .sendSnapshot(to, epoch, lastZxid):
            precondition(tree.lastProcessedZxid == lastZxid.raw,
                         "snapshot for \(to) at \(lastZxid) but the tree is at \(tree.lastProcessedZxid)")
            // Serialized by the shell off this thread: a large tree takes seconds, and heartbeats must keep flowing.
            actions.append(.quorumSendSnapshot(to, epoch: epoch, lastZxid: lastZxid, tree.committedCopy()))
        case let .persist(entries):
            actions.append(.persist(entries.map { ($0.zxid.raw, $0.payload) }))
        case let .truncateLog(after):
            actions.append(.truncateLog(after.raw))
        case let .installSnapshot(lastZxid, state):
            actions += installLeaderSnapshot(lastZxid: lastZxid, state: state, now: now)
        case let .persistEpochs(epochs):
            actions.append(.persistEpochs(epochs))
        case let .deliver(entries):
            for entry in entries { actions += deliverCommitted(entry, now: now) }
            actions += drain(now: now)
            if !pausedConnections.isEmpty { resumePaused(&actions, now: now) }
        case let .forwarded(_, payload):
            if let next = proposeForwarded(payload, now: now) { queueZabActions(ens.zab.on(next)) }
        case let .synced(token):
            actions += completeSync(token, now: now)
        case let .rejected(_, reason):
            logger.warning("write rejected by the replication layer", metadata: ["reason": "\(reason)"])
            actions += dropClients("not serving: \(reason)")
        case .becameLooking:
            ens.elections += 1
            ens.lookingSinceMonoMs = now.monoMs
            if ens.mode != "looking" { logger.info("looking for a leader", metadata: ["was": "\(ens.mode)"]) }
            ens.mode = "looking"
            actions += dropClients("server lost its leader; reconnect to another server")
        case let .becameLeader(epoch):
            ens.lookingSinceMonoMs = nil
            ens.mode = "leader"
            logger.info("leading", metadata: ["epoch": "\(epoch)", "zxid": "0x\(Self.hex(tree.lastProcessedZxid))"])
            // The previous leader's expiry clocks are gone: every session gets a full timeout from now.
            for s in sessions.all { _ = sessions.touch(s.id, monoMs: now.monoMs) }
            actions += versionConfig(epoch: epoch)
        case let .becameFollower(leader, epoch):
            ens.lookingSinceMonoMs = nil
            ens.mode = "follower"
            logger.info("following", metadata: ["leader": "\(leader)", "epoch": "\(epoch)"])
            actions += versionConfig(epoch: epoch)
        case let .membershipChanged(entry, members):
            actions += membershipActivated(by: entry, members: members)
        case let .becameObserver(leader, epoch):
            ens.lookingSinceMonoMs = nil
            ens.mode = "observer"
            logger.info("observing", metadata: ["leader": "\(leader)", "epoch": "\(epoch)"])
            actions += versionConfig(epoch: epoch)
        }
        return actions
    }

    /// Where a write goes in ensemble mode: prepared and proposed on the leader, forwarded by a follower.
    func submitEnsembleWrite(_ op: WriteOp, ctx: SessionContext, origin: TxnOrigin, now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        if ens.isLeader, let zxid = ens.zab.nextProposalZxid {
            switch prepareEnsembleWrite(op, ctx: ctx, cxid: origin.cxid, zxid: zxid, timeMs: now.wallMs) {
            case .success(let txn):
                pipeline.append(.txn(txn, origin))
                if let c = origin.connection { conns[c]?.outstanding += 1 }
                return propose(txn, now: now)
            case .failure(let err):
                guard let txn = errorTxn(err, ctx: ctx, origin: origin, zxid: zxid.raw, timeMs: now.wallMs) else {
                    return failOrigin(origin, err: err)
                }
                pipeline.append(.txn(txn, origin))
                if let c = origin.connection { conns[c]?.outstanding += 1 }
                return propose(txn, now: now)
            }
        }
        guard ens.zab.isServing, ens.zab.state != .leading else {
            return closeOrigin(origin, reason: "not serving: no leader")
        }
        var sessionId = ctx.sessionId
        switch op {
        case let .createSession(id, _), let .closeSession(id): sessionId = id
        default: break
        }
        pipeline.append(.forwarded(sessionId: sessionId, cxid: origin.cxid, origin))
        if let c = origin.connection { conns[c]?.outstanding += 1 }
        let payload = ForwardedWrite.write(sessionId: ctx.sessionId, authIds: ctx.authIds, cxid: origin.cxid, op: op)
        return runZab(.clientProposal(payload: payload.encode()), now: now)
    }

    /// `sync` on a follower, as ZooKeeper's: the leader answers once everything it had proposed when the request
    /// reached it is committed, and that answer arrives after the commits, so the read queued behind the pipeline
    /// entry sees all of them. No txn and no zxid: the replies after it carry the same zxids as on ZooKeeper.
    func forwardSync(_ id: UInt64, _ header: RequestHeader, _ request: Request, now: Now) -> [CoreAction] {
        guard let sid = conns[id]?.sessionId else { return [] }
        logger.debug("sync forwarded", metadata: ["session": "0x\(Self.hex(sid))", "cxid": "\(header.xid)"])
        pipeline.append(.forwarded(sessionId: sid, cxid: header.xid, .maintenance))
        var actions = enqueueRead(id, header, request, now: now)
        actions += runZab(.clientSync(token: SyncToken(sessionId: sid, cxid: header.xid).encode()), now: now)
        return actions
    }

    /// The leader answered a forwarded sync. Every entry ahead of it in the pipeline (this server's forwarded
    /// writes sent before it) was committed before the answer and is delivered, so it is the pipeline's head.
    private func completeSync(_ token: [UInt8], now: Now) -> [CoreAction] {
        guard let t = try? SyncToken.decode(token) else { preconditionFailure("undecodable sync token \(token)") }
        if let ens = ensemble, let i = ens.overtakenSyncs.firstIndex(where: { $0.sessionId == t.sessionId && $0.cxid == t.cxid }) {
            ens.overtakenSyncs.remove(at: i)
            return []
        }
        guard let at = pipeline.firstIndex(where: {
            if case .forwarded(t.sessionId, t.cxid, .maintenance) = $0 { true } else { false }
        }) else {
            preconditionFailure("sync \(t) answered but not in the pipeline: head \(String(describing: pipeline.first))")
        }
        var actions: [CoreAction] = []
        var syncAt = at
        if at > 0 { (actions, syncAt) = abandonUnproposed(ahead: at, of: t) }
        pipeline.remove(at: syncAt)
        return actions + drain(now: now)
    }

    /// The leader answered a sync with forwarded entries still ahead of it. The leader handles a learner's messages
    /// in order and answers a sync only once everything it had proposed by then is committed, and Zab delivers
    /// those commits here before the answer: so a forwarded entry ahead that is still undelivered was never
    /// proposed by this leader (it dropped the forward, e.g. with its zxid counter exhausted, or the message was
    /// lost) and never will be. Its client's connection is closed — the outcome is unknown to it, as after any lost
    /// connection, and the write was not applied. Reads and replies ahead stay, in order. Returns the actions and
    /// where the sync now is.
    private func abandonUnproposed(ahead count: Int, of sync: SyncToken) -> ([CoreAction], Int) {
        var actions: [CoreAction] = []
        var lost: [Int] = []
        for (i, entry) in pipeline.prefix(count).enumerated() {
            switch entry {
            case let .forwarded(_, _, origin):
                if let c = origin.connection { conns[c]?.outstanding -= 1 }
                actions += closeOrigin(origin, reason: "forwarded request lost by the leader")
                lost.append(i)
            case .read, .reply:
                continue
            case let .txn(txn, _):
                preconditionFailure("follower pipeline holds a local proposal \(txn.zxid) ahead of sync \(sync)")
            }
        }
        logger.warning("the leader answered a sync past forwarded requests it never proposed; their connections are closed",
                       metadata: ["entries": "\(lost.count)", "session": "0x\(Self.hex(sync.sessionId))", "cxid": "\(sync.cxid)"])
        for i in lost.reversed() { pipeline.remove(at: i) }
        return (actions, count - lost.count)
    }

    /// The leader answers a sync right after the commit that covers what it had proposed when the sync arrived, and
    /// that commit may also cover writes this follower forwarded after the sync: their txns are delivered while the
    /// sync still heads the pipeline. When `txn` is such a write, every sync ahead of it is complete already (all
    /// their leader's proposals are delivered, being older than `txn`): they leave the pipeline now, with the reads
    /// queued behind them, so the write meets its own entry; their answers, still to come, are then ignored.
    /// Without this the write was applied as another server's, its entry blocked the pipeline for good and the next
    /// sync's answer found it at the head (seen by Tests/faults).
    private func completeOvertakenSyncs(by txn: Txn, now: Now) -> [CoreAction] {
        guard let ens = ensemble, case .forwarded(_, _, .maintenance)? = pipeline.first else { return [] }
        var syncs: [Int] = []
        for (i, entry) in pipeline.enumerated() {
            switch entry {
            case .forwarded(_, _, .maintenance):
                syncs.append(i)
            case let .forwarded(sid, cxid, _):
                guard sid == txn.header.sessionId && cxid == txn.header.cxid else { return [] }
                for i in syncs.reversed() {
                    guard case let .forwarded(sid, cxid, _) = pipeline.remove(at: i) else { continue }
                    ens.overtakenSyncs.append((sid, cxid))
                }
                return drain(now: now)
            case .read, .reply:
                continue
            case .txn:
                return []
            }
        }
        return []
    }

    var isEnsembleFollower: Bool {
        guard let ens = ensemble else { return false }
        return ens.zab.state != .leading
    }

    private func propose(_ txn: Txn, now: Now) -> [CoreAction] {
        let bytes = txn.compactBytes()
        ensemble?.lastProposalBytes = bytes.count
        stats.proposals += 1
        return runZab(.clientProposal(payload: bytes), now: now)
    }

    /// Leader: turns a follower's forwarded write into the next proposal (an `.error` txn when it fails, so the
    /// follower still learns the answer in order). Returns the event to feed Zab, or nil.
    private func proposeForwarded(_ payload: [UInt8], now: Now) -> ZabEvent? {
        guard let ens = ensemble, let forwarded = try? ForwardedWrite.decode(payload) else {
            logger.warning("malformed forwarded write dropped")
            return nil
        }
        switch forwarded {
        case let .touch(ids):
            for id in ids { _ = sessions.touch(id, monoMs: now.monoMs) }
            return nil
        case let .write(sid, authIds, cxid, op):
            guard let zxid = ens.zab.nextProposalZxid else { return nil }
            let txn: Txn
            switch prepareEnsembleWrite(op, ctx: SessionContext(sessionId: sid, authIds: authIds), cxid: cxid, zxid: zxid, timeMs: now.wallMs) {
            case .success(let t): txn = t
            case .failure(let err):
                var headerSession = sid
                if case let .createSession(id, _) = op { headerSession = id }
                if case let .closeSession(id) = op { headerSession = id }
                txn = Txn(header: TxnHeader(sessionId: headerSession, cxid: cxid, zxid: zxid.raw, timeMs: now.wallMs), body: .error(err))
            }
            let bytes = txn.compactBytes()
            ens.lastProposalBytes = bytes.count
            stats.proposals += 1
            return .clientProposal(payload: bytes)
        }
    }

    /// Applies one committed txn. The request it answers, if it came from this server, is the first txn or
    /// forwarded entry of the pipeline: both this server's proposals (leader) and its forwarded writes (follower)
    /// are delivered in pipeline order. Replies and reads queued in front of it are sent first.
    private func deliverCommitted(_ entry: LogEntry, now: Now) -> [CoreAction] {
        // An earlier delivery of the same batch may have uncovered queued replies/reads; they go before this txn.
        var actions = drain(now: now)
        guard let txn = try? Txn(compact: entry.payload, zxid: entry.zxid.raw) else {
            preconditionFailure("committed entry \(entry.zxid) does not hold its txn")
        }
        if case let .createSession(timeoutMs) = txn.body, !sessions.isTracked(txn.header.sessionId) {
            _ = sessions.addSession(id: txn.header.sessionId, timeoutMs: timeoutMs, monoMs: now.monoMs)
        }
        var origin: TxnOrigin = .maintenance
        if case .closeSession = txn.body { origin = .closeSession(conn: nil, xid: 0, startMonoMs: now.monoMs) }
        actions += completeOvertakenSyncs(by: txn, now: now)
        switch pipeline.first {
        case .txn(let t, let o)?:
            precondition(t.zxid >= txn.zxid, "local proposal \(t.zxid) skipped by delivery of \(txn.zxid)")
            if t.zxid == txn.zxid {
                pipeline.removeFirst()
                origin = o
            }
        case .forwarded(let sid, let cxid, let o)? where sid == txn.header.sessionId && cxid == txn.header.cxid:
            pipeline.removeFirst()
            origin = o
        default:
            break  // a txn another server's client asked for (or the leader's own expiry/cleanup)
        }
        if case .error(let err) = txn.body, err != .ok, case .request(let conn, let xid, _, let startMonoMs, _) = origin {
            // A forwarded write the leader could not prepare: answer like a local failure would have.
            conns[conn]?.outstanding -= 1
            recordLatency(conn, startMonoMs: startMonoMs, now: now)
            _ = tree.apply(txn)
            if conns[conn] != nil { actions.append(.send(conn, countSent(conn, replyBytes(xid: xid, err: err)))) }
            return actions
        }
        return actions + applyDurable(txn, origin, now: now)
    }

    /// Replaces the tree with the leader's snapshot (SNAP sync) and brings the session tracker in line with it.
    private func installLeaderSnapshot(lastZxid: Zxid, state: [UInt8], now: Now) -> [CoreAction] {
        let restored: DataTree
        let prepared = ensemble?.preparedSnapshot
        ensemble?.preparedSnapshot = nil
        do {
            if let prepared, prepared.zxid == lastZxid.raw {
                restored = prepared.tree
            } else {
                restored = try DataTree.restore(from: state, config: config.treeConfig)
            }
        } catch {
            // The leader's state cannot be read: continuing would diverge; stopping keeps the replica safe.
            fatalError("cannot restore the snapshot sent by the leader at \(lastZxid): \(error)")
        }
        tree = restored
        // The config node's version is set outside transactions (`versionConfig`, `membershipActivated`), so a
        // snapshot the leader copied before it versioned its membership (the sync of a learner that connected as
        // the epoch began, sent late) holds the unversioned text; a learner that had adopted the versioned
        // membership already would keep it for good, its digest differing from every other server's (found by
        // EnsembleSim, seeds 2244, 3303 and 13 more of 10,000). Every member corrects it the same way.
        if let ens = ensemble { installConfigNode(ens.membership) }
        for s in sessions.all where restored.sessions[s.id] == nil { sessions.close(s.id) }
        for (id, timeoutMs) in restored.sessions where !sessions.isTracked(id) {
            _ = sessions.addSession(id: id, timeoutMs: timeoutMs, monoMs: now.monoMs)
        }
        return [.installSnapshot(lastZxid.raw, state)]
    }

    /// Closes every client connection and forgets everything in flight (the leader changed or was lost).
    func dropClients(_ reason: String) -> [CoreAction] {
        var actions: [CoreAction] = []
        for id in conns.keys.sorted() {
            conns[id]?.closing = true
            conns[id]?.outstanding = 0
            actions.append(.close(id, reason))
        }
        pipeline.removeAll()
        tree.discardPrepared()
        closingSessions.removeAll()
        ensemble?.heldConnects.removeAll()
        ensemble?.overtakenSyncs.removeAll()
        return actions
    }

    /// Closes the connection of an origin whose write cannot be placed right now.
    private func closeOrigin(_ origin: TxnOrigin, reason: String) -> [CoreAction] {
        guard let c = origin.connection else { return [] }
        conns[c]?.closing = true
        return [.close(c, reason)]
    }
}
