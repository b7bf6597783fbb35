import WarrenJute
import WarrenTree

package extension ServerCore {
    /// Routes one decoded request. Reads of a connection with nothing in flight are answered at once; everything
    /// else goes through the ordered pipeline.
    func handle(_ id: UInt64, _ header: RequestHeader, _ request: Request, now: Now) -> [CoreAction] {
        guard let conn = conns[id] else { return [] }
        let ctx = SessionContext(sessionId: conn.sessionId, authIds: conn.authIds)
        var subOps: [OpCode] = []
        if case .multi(let ops) = request { subOps = ops.map(\.opCode) }
        let origin = TxnOrigin.request(conn: id, xid: header.xid, op: request.opCode, startMonoMs: now.monoMs, subOps: subOps)
        if let readOnlyActions = handleReadOnly(id, header, request, now: now) { return readOnlyActions }
        switch request {
        case .ping:
            return enqueueReply(id, replyBytes(xid: Xid.ping, err: .ok), startMonoMs: now.monoMs)
        case .auth(let packet):
            return onAuth(id, packet, now: now)
        case .sasl:
            return enqueueReply(id, replyBytes(xid: header.xid, err: .unimplemented), startMonoMs: now.monoMs)
        case .reconfig(let r):
            let op = WriteOp.reconfig(joining: r.joiningServers, leaving: r.leavingServers, newMembers: r.newMembers,
                                      fromConfig: r.curConfigId)
            return submitWrite(op, ctx: ctx, origin: origin, now: now)
        case .closeSession:
            conns[id]?.closing = true
            closingSessions.insert(conn.sessionId)
            return submitWrite(
                .closeSession(sessionId: conn.sessionId), ctx: ctx,
                origin: .closeSession(conn: id, xid: header.xid, startMonoMs: now.monoMs), now: now)
        case .create, .create2, .createContainer, .createTTL:
            guard let op = Self.writeOps([MultiOp(request)!])?.first else {
                return enqueueReply(id, replyBytes(xid: header.xid, err: .badArguments), startMonoMs: now.monoMs)
            }
            return submitWrite(op, ctx: ctx, origin: origin, now: now)
        case .delete(let r):
            return submitWrite(.delete(path: r.path, version: r.version), ctx: ctx, origin: origin, now: now)
        case .setData(let r):
            return submitWrite(.setData(path: r.path, data: r.data, version: r.version), ctx: ctx, origin: origin, now: now)
        case .setACL(let r):
            return submitWrite(.setACL(path: r.path, acl: r.acl, version: r.version), ctx: ctx, origin: origin, now: now)
        case .check(let r):
            return submitWrite(.check(path: r.path, version: r.version), ctx: ctx, origin: origin, now: now)
        case .multi(let ops):
            guard let writeOps = Self.writeOps(ops) else {
                return enqueueReply(id, replyBytes(xid: header.xid, err: .badArguments), startMonoMs: now.monoMs)
            }
            return submitWrite(.multi(writeOps), ctx: ctx, origin: origin, now: now)
        case .sync:
            if isEnsembleFollower { return forwardSync(id, header, request, now: now) }
            if pipeline.isEmpty {
                return read(id, header, request)
            }
            return enqueueRead(id, header, request, now: now)
        default:
            if conn.outstanding == 0 {
                return read(id, header, request)
            }
            return enqueueRead(id, header, request, now: now)
        }
    }

    static func writeOps(_ ops: [MultiOp]) -> [WriteOp]? {
        var out: [WriteOp] = []
        for op in ops {
            switch op {
            case .create(let r), .create2(let r):
                // ZooKeeper rejects unknown create flags (and TTL modes without createTTL) as bad arguments.
                guard let mode = CreateMode(rawValue: r.flags), !mode.isTTL else { return nil }
                out.append(.create(path: r.path, data: r.data, acl: r.acl, mode: mode, ttlMs: nil))
            case .createContainer(let r):
                out.append(.create(path: r.path, data: r.data, acl: r.acl, mode: .container, ttlMs: nil))
            case .createTTL(let r):
                guard let mode = CreateMode(rawValue: r.flags) else { return nil }
                out.append(.create(path: r.path, data: r.data, acl: r.acl, mode: mode, ttlMs: r.ttl))
            case .delete(let r): out.append(.delete(path: r.path, version: r.version))
            case .setData(let r): out.append(.setData(path: r.path, data: r.data, version: r.version))
            case .check(let r): out.append(.check(path: r.path, version: r.version))
            case .getData, .getChildren: return nil
            }
        }
        return out
    }

    /// Prepares a write against the tree plus everything already in flight, queues it and asks for persistence.
    func submitWrite(_ op: WriteOp, ctx: SessionContext, origin: TxnOrigin, now: Now) -> [CoreAction] {
        if writesDisabledReason != nil {
            return failOrigin(origin, err: .systemError)
        }
        if ensemble != nil { return submitEnsembleWrite(op, ctx: ctx, origin: origin, now: now) }
        switch tree.prepare(op, ctx: ctx, cxid: origin.cxid, zxid: nextZxid, timeMs: now.wallMs) {
        case .success(let txn):
            nextZxid += 1
            pipeline.append(.txn(txn, origin))
            if let c = origin.connection { conns[c]?.outstanding += 1 }
            stats.proposals += 1
            return [.persist([(txn.zxid, txn.compactBytes())])]
        case .failure(let err):
            guard let txn = errorTxn(err, ctx: ctx, origin: origin, zxid: nextZxid, timeMs: now.wallMs) else {
                return failOrigin(origin, err: err)
            }
            nextZxid += 1
            pipeline.append(.txn(txn, origin))
            if let c = origin.connection { conns[c]?.outstanding += 1 }
            return [.persist([(txn.zxid, txn.compactBytes())])]
        }
    }

    /// The txn that stands for a client's write that failed to prepare, as ZooKeeper logs one: it takes the next
    /// zxid, so the error reply carries that zxid and later Stat zxids match ZooKeeper's for the same requests.
    /// Nil for origins that are not a client's request (handshakes, closes, maintenance), answered by `failOrigin`.
    func errorTxn(_ err: ErrorCode, ctx: SessionContext, origin: TxnOrigin, zxid: Int64, timeMs: Int64) -> Txn? {
        guard case .request = origin else { return nil }
        return Txn(header: TxnHeader(sessionId: ctx.sessionId, cxid: origin.cxid, zxid: zxid, timeMs: timeMs), body: .error(err))
    }

    /// Answers an origin whose transaction will not happen. The answer waits behind everything already in the
    /// pipeline, not only this connection's requests: the failure may come from another session's write that is
    /// prepared but not yet applied (a create answered `nodeExists` because of it), and a client that then reads
    /// must find that write applied, as it would in ZooKeeper, where a failed write is an error txn in order.
    func failOrigin(_ origin: TxnOrigin, err: ErrorCode) -> [CoreAction] {
        switch origin {
        case .request(let conn, let xid, _, let startMonoMs, _):
            return enqueueReply(conn, replyBytes(xid: xid, err: err), startMonoMs: startMonoMs, behindPipeline: true)
        case .connect(let conn, _, _):
            return [.close(conn, "cannot create session: \(err)")]
        case .closeSession(let conn, let xid, let startMonoMs):
            guard let conn else { return [] }
            return enqueueReply(conn, replyBytes(xid: xid, err: err), startMonoMs: startMonoMs, behindPipeline: true)
        case .maintenance:
            return []
        }
    }

    /// Sends `bytes` now if the connection has nothing in flight (and, with `behindPipeline`, nothing at all is in
    /// the pipeline), else queues it behind the earlier entries.
    /// `startMonoMs`: when the request it answers arrived (`Now.monoMs`), for latency stats.
    func enqueueReply(_ id: UInt64, _ bytes: [UInt8], startMonoMs: Int64, behindPipeline: Bool = false) -> [CoreAction] {
        guard let conn = conns[id] else { return [] }
        if conn.outstanding == 0 && !(behindPipeline && !pipeline.isEmpty) {
            return [.send(id, countSent(id, bytes))]
        }
        conns[id]?.outstanding += 1
        pipeline.append(.reply(conn: id, bytes: bytes, startMonoMs: startMonoMs))
        return []
    }

    func enqueueRead(_ id: UInt64, _ header: RequestHeader, _ request: Request, now: Now) -> [CoreAction] {
        conns[id]?.outstanding += 1
        pipeline.append(.read(conn: id, header: header, request: request, startMonoMs: now.monoMs))
        return []
    }

    /// Completes pipeline entries from the front while they are ready: durable transactions are applied (in zxid
    /// order, because the pipeline is in zxid order), their watch events sent, then their replies.
    func drain(now: Now) -> [CoreAction] {
        var actions: [CoreAction] = []
        while let head = pipeline.first {
            switch head {
            case .txn(let txn, let origin):
                // In an ensemble a txn completes only when delivered (committed), never here.
                guard ensemble == nil, txn.zxid <= durableZxid else { return actions }
                pipeline.removeFirst()
                actions += applyDurable(txn, origin, now: now)
            case .reply(let conn, var bytes, let startMonoMs):
                pipeline.removeFirst()
                if conns[conn] != nil {
                    conns[conn]!.outstanding -= 1
                    recordLatency(conn, startMonoMs: startMonoMs, now: now)
                    // Like ZooKeeper, a reply carries the last zxid applied when it is sent (ReplyHeader.zxid).
                    var w = JuteWriter()
                    w.writeLong(tree.lastProcessedZxid)
                    bytes.replaceSubrange(4..<12, with: w.bytes)
                    actions.append(.send(conn, countSent(conn, bytes)))
                }
            case .forwarded:
                return actions
            case .read(let conn, let header, let request, let startMonoMs):
                pipeline.removeFirst()
                if conns[conn] != nil {
                    conns[conn]!.outstanding -= 1
                    recordLatency(conn, startMonoMs: startMonoMs, now: now, op: request.opCode)
                    actions += read(conn, header, request)
                }
            }
        }
        return actions
    }

    func applyDurable(_ txn: Txn, _ origin: TxnOrigin, now: Now) -> [CoreAction] {
        // Persist before reply: a standalone server applies (and so answers) only what the log reported durable;
        // an ensemble member only what Zab delivered as committed, checked there.
        precondition(ensemble != nil || txn.zxid <= durableZxid,
                     "txn 0x\(Self.hex(txn.zxid)) applied before durable (durable up to 0x\(Self.hex(durableZxid)))")
        let result = tree.apply(txn)
        var actions = fireWatches(result.triggers)
        if case .closeSession = txn.body {
            let sid = txn.header.sessionId
            sessions.close(sid)
            closingSessions.remove(sid)
            if let c = sessionConn[sid], case .closeSession(nil, _, _) = origin {
                actions.append(.close(c, "session 0x\(Self.hex(sid)) expired"))
            }
        }
        switch origin {
        case .request(let conn, let xid, let op, let startMonoMs, let subOps):
            if conns[conn] != nil {
                conns[conn]!.outstanding -= 1
                conns[conn]!.lastZxid = txn.zxid
                recordLatency(conn, startMonoMs: startMonoMs, now: now, op: op)
                var (err, response) = Self.response(for: op, subOps: subOps, result: result.result)
                if op == .reconfig, case .setData(let stat) = result.result {
                    response = .reconfig(GetDataResponse(data: configNodeData, stat: stat))
                }
                let bytes = response.packet(header: ReplyHeader(xid: xid, zxid: txn.zxid, err: err.rawValue))
                actions.append(.send(conn, countSent(conn, bytes)))
            }
        case .connect(let conn, let request, let password):
            conns[conn]?.outstanding -= 1
            actions += completeHandshake(conn, request: request, sessionId: txn.header.sessionId, password: password, now: now)
        case .closeSession(let conn, let xid, let startMonoMs):
            if let conn, conns[conn] != nil {
                conns[conn]!.outstanding -= 1
                recordLatency(conn, startMonoMs: startMonoMs, now: now)
                let bytes = Response.empty.packet(header: ReplyHeader(xid: xid, zxid: txn.zxid, err: 0))
                actions.append(.send(conn, countSent(conn, bytes)))
                actions.append(.close(conn, nil))
            }
        case .maintenance:
            break
        }
        let due = snapshotPolicy.applied()
        if due.rollLog { actions.append(.rollLog) }
        if due.snapshot { actions.append(.snapshot(tree.lastProcessedZxid, tree.committedCopy())) }
        return actions
    }

    /// For a clean stop: a copy of the committed tree at its last applied zxid; the storage decides whether it is
    /// worth writing (`ServerStorage.stop(finalSnapshot:)`).
    func shutdownSnapshot() -> (zxid: Int64, tree: DataTree) {
        (tree.lastProcessedZxid, tree.committedCopy())
    }

    /// Watch events go out before the reply of the transaction that caused them, on every connection.
    func fireWatches(_ triggers: [WatchTrigger]) -> [CoreAction] {
        var actions: [CoreAction] = []
        for trigger in triggers {
            for (watcher, event) in watches.trigger(path: trigger.path, type: trigger.type) {
                actions.append(.send(watcher, countSent(watcher, Self.notificationPacket(event))))
            }
        }
        return actions
    }

    /// A watch event as sent to a client: xid -1 (notification), zxid -1 as ZooKeeper 3.8 sends it.
    static func notificationPacket(_ event: WatchedEvent) -> [UInt8] {
        Response.notification(WatcherEvent(type: event.type.rawValue, state: event.state.rawValue, path: event.path))
            .packet(header: ReplyHeader(xid: Xid.notification, zxid: -1, err: 0))
    }

    func replyBytes(xid: Int32, err: ErrorCode) -> [UInt8] {
        Response.empty.packet(header: ReplyHeader(xid: xid, zxid: tree.lastProcessedZxid, err: err.rawValue))
    }

    func countSent(_ id: UInt64, _ bytes: [UInt8]) -> [UInt8] {
        stats.packetsSent += 1
        stats.lastResponseBytes = bytes.count
        if stats.minResponseBytes < 0 || bytes.count < stats.minResponseBytes { stats.minResponseBytes = bytes.count }
        if bytes.count > stats.maxResponseBytes { stats.maxResponseBytes = bytes.count }
        conns[id]?.sent += 1
        return bytes
    }

    /// Latency on the monotonic clock; the response's date (`cons`'s lresp) on the wall clock.
    func recordLatency(_ id: UInt64, startMonoMs: Int64, now: Now, op: OpCode? = nil) {
        let ms = max(0, now.monoMs - startMonoMs)
        if let op { requestObserver?(op, ms) }
        stats.latency.add(ms)
        conns[id]?.latency.add(ms)
        conns[id]?.lastLatencyMs = ms
        conns[id]?.lastResponseWallMs = now.wallMs
    }
}

package extension TxnOrigin {
    /// The client's xid, recorded in the txn header like ZooKeeper's cxid.
    var cxid: Int32 {
        switch self {
        case .request(_, let xid, _, _, _), .closeSession(_, let xid, _): return xid
        case .connect, .maintenance: return 0
        }
    }

    var connection: UInt64? {
        switch self {
        case .request(let c, _, _, _, _), .connect(let c, _, _): return c
        case .closeSession(let c, _, _): return c
        case .maintenance: return nil
        }
    }
}

package extension ServerCore {
    /// The wire reply for an applied transaction: a failed single op is an error header with no body; a multi
    /// always answers ok with one result per op (ZooKeeper's MultiResponse).
    static func response(for op: OpCode, subOps: [OpCode], result: OpResult) -> (ErrorCode, Response) {
        switch result {
        case .error(let e): return (e, .empty)
        case .create(let path, let stat):
            return op == .create ? (.ok, .create(CreateResponse(path: path))) : (.ok, .create2(Create2Response(path: path, stat: stat)))
        case .delete, .check, .createSession, .closeSession: return (.ok, .empty)
        case .setData(let stat): return (.ok, .setData(StatResponse(stat: stat)))
        case .setACL(let stat): return (.ok, .setACL(StatResponse(stat: stat)))
        case .multi(let results):
            var out: [MultiResult] = []
            for (i, r) in results.enumerated() {
                let sub = i < subOps.count ? subOps[i] : .create
                switch r {
                case .create(let path, let stat):
                    out.append(sub == .create ? .create(CreateResponse(path: path)) : .create2(Create2Response(path: path, stat: stat)))
                case .delete: out.append(.delete)
                case .setData(let stat): out.append(.setData(StatResponse(stat: stat)))
                case .check: out.append(.check)
                case .error(let e): out.append(.error(ErrorResponse(err: e.rawValue)))
                default: out.append(.error(ErrorResponse(err: ErrorCode.runtimeInconsistency.rawValue)))
                }
            }
            return (.ok, .multi(out))
        }
    }
}

package extension MultiOp {
    /// The create-family requests as multi ops, so single creates and creates inside a multi share one mapping.
    init?(_ request: Request) {
        switch request {
        case .create(let r): self = .create(r)
        case .create2(let r): self = .create2(r)
        case .createContainer(let r): self = .createContainer(r)
        case .createTTL(let r): self = .createTTL(r)
        default: return nil
        }
    }
}
