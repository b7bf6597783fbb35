import DequeModule
import Logging
import WarrenJute
import WarrenTree
import WarrenZab
import WarrenRandom

/// One transaction log record to append: the txn's zxid and its encoded payload.
package typealias PersistRecord = (zxid: Int64, payload: [UInt8])

/// What the shell must do for the core, in the order given.
package enum CoreAction {
    /// Send one packet (without its length prefix) to a connection.
    case send(UInt64, [UInt8])
    /// Close a connection, logging the reason when there is one.
    case close(UInt64, String?)
    /// Stop (false) or resume (true) reading from a connection: backpressure for clients that pipeline more
    /// than `connectionOutstandingMax` requests.
    case setReading(UInt64, Bool)
    /// Append these log records and fsync them; report back with `onDurable(upTo:)`.
    case persist([PersistRecord])
    /// Write this serialized tree as the snapshot at `zxid`, off the core thread (after any earlier `rollLog`).
    case snapshot(Int64, DataTree)
    /// Start a new log file soon, off the core thread: a snapshot falls due within `SnapshotPolicy.rollLead` applied
    /// transactions, so the file boundary lands just before its zxid (see `ServerStorage.rollLogSoon`).
    case rollLog
    /// Ensemble: send a message to a peer (in order per peer).
    case quorumSend(ServerId, ZabMessage)
    /// Ensemble: send `ZabMessage.snapshot` of this tree (a committed copy at `lastZxid`) to a peer, in order with
    /// its other messages; serialized and streamed in chunks by the transport.
    case quorumSendSnapshot(ServerId, epoch: Int64, lastZxid: Zxid, DataTree)
    /// Ensemble: once every earlier persist is durable, remove logged records after this zxid, durably, before
    /// carrying out the next action.
    case truncateLog(Int64)
    /// Ensemble: once every earlier persist is durable, make this snapshot (taken at `zxid`) the durable state and
    /// drop the log after it, before carrying out the next action.
    case installSnapshot(Int64, [UInt8])
    /// Ensemble: write the epoch files durably before carrying out the next action.
    case persistEpochs(EpochState)
    /// Ensemble: a delivered reconfig made this the membership: connect to its servers and write it to a new
    /// dynamic config file that zoo.cfg names.
    case membershipChanged(DynamicConfig)
}

/// Per-connection state the core keeps. A connection becomes bound to a session by the handshake.
/// A class, not a struct: the core looks a connection up several times per request, and copying a struct with
/// this many reference-counted fields out of the dictionary each time showed up in profiles (retain/release).
package final class ConnState {
    let id: UInt64
    let remote: String
    let ip: String
    /// Wall clock (`Now.wallMs`): shown by `cons`, never used to time anything.
    let establishedWallMs: Int64
    var sessionId: Int64 = 0
    var timeoutMs: Int32 = 0
    var connected = false
    var handshakeInFlight = false
    /// Packets that arrived while the session was being created (the Java client sends auth and setWatches right
    /// behind its ConnectRequest). Replayed in order once the handshake completes.
    var earlyPackets: [[UInt8]] = []
    var closing = false
    var authIds: [Id]
    var isSuper = false
    /// Entries of this connection waiting in the pipeline; while non-zero, its reads queue behind them. Every change
    /// is mirrored in `inFlight`, the server-wide count `globalOutstandingLimit` is checked against.
    var outstanding = 0 {
        didSet { inFlight.add(outstanding - oldValue) }
    }
    let inFlight: InFlightCount
    /// Packets read from the socket but not yet handled because the connection is paused (`ServerCore+Throttle`),
    /// in arrival order, with when each was held (`Now.monoMs`). At most `heldBytesMax` bytes.
    var held = Deque<(bytes: [UInt8], heldAtMonoMs: Int64)>()
    var heldBytes = 0
    var received = 0
    var sent = 0
    var lastCxid: Int32 = 0
    var lastZxid: Int64 = 0
    var lastOp = "NA"
    /// Wall clock, for `cons`.
    var lastResponseWallMs: Int64 = 0
    var lastLatencyMs: Int64 = 0
    var latency = LatencyStats()

    init(id: UInt64, remote: String, ip: String, establishedWallMs: Int64, authIds: [Id], inFlight: InFlightCount) {
        self.inFlight = inFlight
        self.id = id
        self.remote = remote
        self.ip = ip
        self.establishedWallMs = establishedWallMs
        self.authIds = authIds
    }
}

package struct LatencyStats {
    var count: Int64 = 0
    var totalMs: Int64 = 0
    var minMs: Int64 = 0
    var maxMs: Int64 = 0
    mutating func add(_ ms: Int64) {
        if count == 0 || ms < minMs { minMs = ms }
        if ms > maxMs { maxMs = ms }
        count += 1
        totalMs += ms
    }
    var avg: Double { count == 0 ? 0 : Double(totalMs) / Double(count) }
    var text: String { "\(minMs)/\(TextFormat.fixed4(avg))/\(maxMs)" }
}

/// Where a transaction came from, so its result can be delivered once it is durable and applied.
package enum TxnOrigin {
    case request(conn: UInt64, xid: Int32, op: OpCode, startMonoMs: Int64, subOps: [OpCode] = [])
    case connect(conn: UInt64, request: ConnectRequest, password: [UInt8])
    case closeSession(conn: UInt64?, xid: Int32, startMonoMs: Int64)
    case maintenance
}

/// One step of the ordered pipeline. Entries complete strictly in order, which gives each client the FIFO order
/// ZooKeeper promises and makes watch events precede any later reply that reflects their change.
package enum PipelineEntry {
    /// A prepared transaction, to be applied once the log reports it durable.
    case txn(Txn, TxnOrigin)
    /// A reply already computed (usually an error) held back behind earlier entries of its connection.
    case reply(conn: UInt64, bytes: [UInt8], startMonoMs: Int64)
    /// A read (or sync) that must see the effect of the entries before it.
    case read(conn: UInt64, header: RequestHeader, request: Request, startMonoMs: Int64)
    /// Ensemble follower: a write forwarded to the leader, completed when the committed txn with this session id
    /// and cxid is delivered.
    case forwarded(sessionId: Int64, cxid: Int32, TxnOrigin)
}

/// The server's deterministic heart: connections, sessions, the request pipeline, watches and the data tree.
///
/// Driven only by `on…` calls from the shell (all on one thread) with the time passed in as a `Now` (monotonic
/// for sessions and every other interval, wall clock for ctime/mtime and displayed dates); it answers with
/// `CoreAction`s. Contract for the shell: carry out actions in order; report durability with `onDurable(upTo:)`
/// only after the records are fsynced. The core in turn never sends a reply that reflects a transaction before
/// that transaction is durable and applied, and applies transactions strictly in zxid order.
package final class ServerCore {
    let config: CoreConfig
    let logger: Logger
    var tree: DataTree
    var watches: WatchManager
    var sessions: SessionTracker
    var conns: [UInt64: ConnState] = [:]
    /// The connection currently bound to each session.
    var sessionConn: [Int64: UInt64] = [:]
    var pipeline = Deque<PipelineEntry>()
    /// The zxid the next prepared transaction gets.
    var nextZxid: Int64
    var durableZxid: Int64
    /// Set when the log failed: durability is unknown, so writes are refused until restart, or until a full disk
    /// has room again (`onLogResumed`).
    var writesDisabledReason: String?
    /// Monotonic (`Now.monoMs`), for `zk_uptime`.
    let startedMonoMs: Int64
    var snapshotPolicy: SnapshotPolicy
    var lastContainerCheckMonoMs: Int64 = 0
    var stats = ServerStats()
    /// Called with each pipelined request's opcode and latency (monotonic ms) as it completes: the shell's metrics.
    package var requestObserver: ((OpCode, Int64) -> Void)?
    /// Sessions whose closeSession transaction is in the pipeline, so expiry does not issue a second one.
    var closingSessions: Set<Int64> = []
    /// Ensemble mode (nil when standalone): the Zab node decides the order of transactions.
    package var ensemble: EnsembleState?

    package var lastProcessedZxid: Int64 { tree.lastProcessedZxid }
    /// Connections whose socket is not being read (backpressure); kept apart so the common case costs nothing.
    var pausedConnections: Set<UInt64> = []
    /// The same connections in the order they were paused, so they are resumed first come, first served.
    var pausedQueue = Deque<UInt64>()
    /// Requests of open connections in the pipeline (the sum of their `outstanding`).
    let inFlight = InFlightCount()
    static let earlyPacketsMax = 64
    /// Requests one connection may have waiting in the pipeline before the server stops reading its socket.
    static let connectionOutstandingMax = 1000

    /// - Parameter durable: for an ensemble member, what Zab recovered from disk (the tree then holds the snapshot
    ///   only; logged txns are applied once Zab knows them committed). Nil for a standalone server.
    /// - Parameters:
    ///   - tree: the recovered tree (for an ensemble member, the snapshot only).
    ///   - sessionSecret: the recovered secret session passwords are derived from.
    ///   - recordsSinceSnapshot: log records after the newest snapshot, counted toward the next snapshot.
    package init(config: CoreConfig, tree: DataTree, sessionSecret: UInt64, recordsSinceSnapshot: Int = 0, now: Now,
         logger: Logger, durable: DurableState? = nil, seed: UInt64 = 0) throws {
        self.config = config
        self.logger = logger
        self.tree = tree
        self.watches = WatchManager()
        self.sessions = try SessionTracker(
            serverId: config.myid, tickTimeMs: Int32(config.tickTimeMs),
            minSessionTimeoutMs: Int32(config.effectiveMinSessionTimeoutMs),
            maxSessionTimeoutMs: Int32(config.effectiveMaxSessionTimeoutMs),
            secret: sessionSecret, startTimeMs: now.wallMs)
        for (id, timeoutMs) in tree.sessions.sorted(by: { $0.key < $1.key }) {
            sessions.addSession(id: id, timeoutMs: timeoutMs, monoMs: now.monoMs)
        }
        nextZxid = tree.lastProcessedZxid + 1
        durableZxid = tree.lastProcessedZxid
        startedMonoMs = now.monoMs
        inFlight.limit = config.globalOutstandingLimit
        snapshotPolicy = SnapshotPolicy(snapCount: config.snapCount, seed: seed, txnsSinceSnapshot: recordsSinceSnapshot)
        if let durable {
            let membership = config.dynamicConfig
            let zab = ZabNode(id: config.myid, config: Self.zabConfig(config), durable: durable, seed: seed,
                              membershipChange: { Self.configChange(in: $0)?.members },
                              configEntry: Self.configEntry(for: membership))
            ensemble = EnsembleState(zab: zab, membership: membership)
            installConfigNode(membership)
        }
    }

    /// Where each open connection's `outstanding` (kept by hand where entries are added and completed, read on the
    /// hot path for backpressure) disagrees with the pipeline, its source of truth: one line per connection, empty
    /// when they agree. O(pipeline), so the shell does not run it per event; the simulator and `CoreDriver` do,
    /// after every event, and any line fails the run.
    package func outstandingDisagreements() -> [String] {
        var counts: [UInt64: Int] = [:]
        for entry in pipeline {
            switch entry {
            case let .txn(_, origin), let .forwarded(_, _, origin):
                if let c = origin.connection { counts[c, default: 0] += 1 }
            case let .reply(conn, _, _), let .read(conn, _, _, _):
                counts[conn, default: 0] += 1
            }
        }
        return conns.values.filter { !$0.closing && $0.outstanding != counts[$0.id, default: 0] }
            .sorted { $0.id < $1.id }
            .map { "connection \($0.id): outstanding \($0.outstanding), pipeline holds \(counts[$0.id, default: 0])" }
    }

    // MARK: events from the shell

    package func onOpened(_ id: UInt64, remote: String, ip: String, now: Now) {
        conns[id] = ConnState(id: id, remote: remote, ip: ip, establishedWallMs: now.wallMs, authIds: [Id(scheme: "ip", id: ip)],
                              inFlight: inFlight)
        inFlight.connections += 1
    }

    package func onClosed(_ id: UInt64, now: Now) -> [CoreAction] {
        guard let conn = conns.removeValue(forKey: id) else { return [] }
        inFlight.connections -= 1
        // Its entries still in the pipeline are skipped when they drain; they no longer hold anyone back.
        conn.outstanding = 0
        conn.held = []
        conn.heldBytes = 0
        pausedConnections.remove(id)
        watches.removeAll(id)
        if conn.sessionId != 0, sessionConn[conn.sessionId] == id {
            sessionConn[conn.sessionId] = nil
        }
        var actions: [CoreAction] = []
        if !pausedConnections.isEmpty { resumePaused(&actions, now: now) }
        return actions
    }

    /// One packet from a connection. Handled now when `admits` lets it in, otherwise held (and the socket paused)
    /// until requests in flight drain: see `ServerCore+Throttle.swift`.
    package func onPacket(_ id: UInt64, _ bytes: [UInt8], now: Now) -> [CoreAction] {
        let caughtUp = catchUpStalledLeader(now: now)  // a stalled leader steps down before it answers anyone
        if !caughtUp.isEmpty { return caughtUp + onPacket(id, bytes, now: now) }
        guard let conn = conns[id], !conn.closing else { return [] }
        if conn.connected, !conn.held.isEmpty || !admits(conn) { return hold(conn, bytes, now: now) }
        var actions = process(conn, bytes, now: now)
        if conn.connected, !conn.closing, !pausedConnections.contains(id), !admits(conn) { pause(conn, &actions) }
        return actions
    }

    /// Handles one packet. Before the handshake it must be a ConnectRequest.
    func process(_ conn: ConnState, _ bytes: [UInt8], now: Now) -> [CoreAction] {
        let id = conn.id
        stats.packetsReceived += 1
        stats.bytesReceived += bytes.count + 4
        conn.received += 1
        if !conn.connected {
            if conn.handshakeInFlight {
                guard conn.earlyPackets.count < Self.earlyPacketsMax else {
                    return [.close(id, "too many requests before the handshake completed")]
                }
                conns[id]?.earlyPackets.append(bytes)
                return []
            }
            return onConnect(id, bytes, now: now)
        }
        var r = JuteReader(bytes)
        guard let header = try? r.read(RequestHeader.self) else {
            return [.close(id, "malformed request header (\(bytes.count) bytes)")]
        }
        let request: Request
        do {
            request = try Request.decode(opCode: header.type, body: &r)
        } catch RequestDecodeError.unknownOpCode(let op) {
            // Like ZooKeeper: answer Unimplemented, then drop the connection (the client is speaking another protocol).
            conns[id]?.closing = true
            return enqueueReply(id, replyBytes(xid: header.xid, err: .unimplemented), startMonoMs: now.monoMs)
                + [.close(id, "unknown opcode \(op)")]
        } catch {
            // A malformed record inside a well-formed frame: ZooKeeper answers MarshallingError and keeps serving.
            logger.info("malformed request", metadata: ["client": "\(conn.remote)", "error": "\(error)"])
            return enqueueReply(id, replyBytes(xid: header.xid, err: .marshallingError), startMonoMs: now.monoMs)
        }
        if conn.sessionId != 0 {
            sessions.touch(conn.sessionId, monoMs: now.monoMs)
            ensemble?.touchedSessions.insert(conn.sessionId)
        }
        conns[id]?.lastCxid = header.xid
        conns[id]?.lastOp = Self.shortName(request.opCode)
        return handle(id, header, request, now: now) + drain(now: now)
    }

    /// The log reports records up to `zxid` durable: complete the pipeline up to there, in order.
    package func onDurable(upTo zxid: Int64, now: Now) -> [CoreAction] {
        if ensemble != nil { return runZab(.persisted(upTo: Zxid(raw: zxid)), now: now) }
        durableZxid = max(durableZxid, zxid)
        var actions = drain(now: now)
        if !pausedConnections.isEmpty { resumePaused(&actions, now: now) }
        return actions
    }

    /// The log failed. Nothing prepared after the last durable zxid will be applied: fail those requests, forget
    /// their effects and refuse writes from now on (reads keep working).
    package func onPersistFailed(_ error: Error, now: Now) -> [CoreAction] {
        let reason = "transaction log failure: \(error)"
        logger.critical("refusing writes until the log is usable again (a full disk: once it has room; other failures: restart)", metadata: ["reason": "\(reason)"])
        writesDisabledReason = reason
        var actions = drain(now: now)
        var kept = Deque<PipelineEntry>()
        while let entry = pipeline.popFirst() {
            guard case .txn(_, let origin) = entry else {
                kept.append(entry)
                continue
            }
            // The failed request's reply takes its txn's place, so the connection's replies stay in order and its
            // outstanding count (which the txn held) is released when the reply drains.
            switch origin {
            case .request(let conn, let xid, _, let startMonoMs, _), .closeSession(let conn?, let xid, let startMonoMs):
                kept.append(.reply(conn: conn, bytes: replyBytes(xid: xid, err: .systemError), startMonoMs: startMonoMs))
            case .connect(let conn, _, _):
                conns[conn]?.outstanding -= 1
                actions += failOrigin(origin, err: .systemError)
            case .closeSession(nil, _, _), .maintenance:
                break
            }
        }
        pipeline = kept
        tree.discardPrepared()
        nextZxid = tree.lastProcessedZxid + 1
        actions += drain(now: now)
        if !pausedConnections.isEmpty { resumePaused(&actions, now: now) }
        return actions
    }

    /// The log is usable again (a full disk has room): accept writes. Whatever failed stays failed (its clients
    /// were answered `SystemError`); the next txn takes the zxid after the last applied one, which the log's
    /// durable end equals (`TxnLog.resumeAfterFullDisk`).
    package func onLogResumed() {
        guard writesDisabledReason != nil else { return }
        precondition(pipeline.allSatisfy { if case .txn = $0 { return false } else { return true } },
                     "log resumed with prepared txns in the pipeline (next zxid \(nextZxid))")
        writesDisabledReason = nil
        nextZxid = tree.lastProcessedZxid + 1
        logger.warning("accepting writes again", metadata: ["zxid": "0x\(Self.hex(tree.lastProcessedZxid))"])
    }

    /// Periodic work: session expiry, container and TTL cleanup.
    package func onTick(now: Now) -> [CoreAction] {
        var actions = expireHeldConnects(now: now)
        // In an ensemble only the leader expires sessions and cleans up nodes (through proposals).
        if let ens = ensemble, !ens.isLeader { return actions }
        for sid in sessions.expired(monoMs: now.monoMs) where !closingSessions.contains(sid) {
            logger.info("session expired", metadata: ["session": "0x\(Self.hex(sid))"])
            stats.sessionsExpired += 1
            // No connection in the origin: nobody asked, so nobody gets a reply; applyDurable closes the connection.
            actions += submitWrite(.closeSession(sessionId: sid), ctx: .superUser(sessionId: sid),
                origin: .closeSession(conn: nil, xid: 0, startMonoMs: now.monoMs), now: now)
            if let c = sessionConn[sid] {
                conns[c]?.closing = true
                if writesDisabledReason != nil { actions.append(.close(c, "session expired; the log is unavailable")) }
            }
        }
        if writesDisabledReason == nil, now.monoMs - lastContainerCheckMonoMs >= Int64(config.containerCheckIntervalMs) {
            lastContainerCheckMonoMs = now.monoMs
            let superCtx = SessionContext.superUser()
            for path in tree.containersToDelete(wallMs: now.wallMs) {
                actions += submitWrite(.deleteContainer(path: path), ctx: superCtx, origin: .maintenance, now: now)
            }
            for path in tree.expiredTTLNodes(wallMs: now.wallMs) {
                actions += submitWrite(.deleteContainer(path: path), ctx: superCtx, origin: .maintenance, now: now)
            }
        }
        return actions
    }

    static func shortName(_ op: OpCode) -> String {
        switch op {
        case .create, .create2, .createContainer, .createTTL: return "CREA"
        case .delete: return "DELE"
        case .exists: return "EXIS"
        case .getData: return "GETD"
        case .setData: return "SETD"
        case .getACL: return "GETA"
        case .setACL: return "SETA"
        case .getChildren, .getChildren2: return "GETC"
        case .sync: return "SYNC"
        case .ping: return "PING"
        case .multi, .multiRead: return "MULT"
        case .closeSession: return "CLOS"
        case .setWatches, .setWatches2: return "SETW"
        default: return "\(op)".prefix(4).uppercased()
        }
    }
}

/// Counters for srvr/stat/mntr.
package struct ServerStats {
    var packetsReceived = 0
    var packetsSent = 0
    var bytesReceived = 0
    var latency = LatencyStats()
    var sessionsExpired = 0
    /// Requests answered `ZTHROTTLEDOP` (`throttled_op_wait_time`).
    var throttledOps = 0
    var lastResponseBytes = -1
    var minResponseBytes = -1
    var maxResponseBytes = -1
    var proposals = 0
    /// Handshakes that arrived while this ensemble member was not serving and were held (`holdConnect`).
    var connectsHeld = 0
    mutating func reset() {
        packetsReceived = 0
        packetsSent = 0
        latency = LatencyStats()
    }
}
