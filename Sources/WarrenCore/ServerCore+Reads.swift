import Logging
import WarrenJute
import WarrenTree

package extension ServerCore {
    /// Executes a read-type request against the committed tree and returns the reply packet. Watches are
    /// registered here, so a watch set by a read always sees every later change.
    func read(_ id: UInt64, _ header: RequestHeader, _ request: Request) -> [CoreAction] {
        guard let conn = conns[id] else { return [] }
        let ctx = SessionContext(sessionId: conn.sessionId, authIds: conn.authIds)
        var actions: [CoreAction] = []
        let (err, response) = readResult(id, ctx, request, &actions)
        conns[id]?.lastZxid = tree.lastProcessedZxid
        let packet = response.packet(
            header: ReplyHeader(xid: header.xid, zxid: tree.lastProcessedZxid, err: err.rawValue))
        actions.append(.send(id, countSent(id, packet)))
        return actions
    }

    private func readResult(_ id: UInt64, _ ctx: SessionContext, _ request: Request, _ actions: inout [CoreAction])
        -> (ErrorCode, Response)
    {
        switch request {
        case .exists(let r):
            guard PathValidation.isValid(r.path) else { return (.badArguments, .empty) }
            if let stat = tree.exists(r.path) {
                if r.watch { addWatch(id, r.path, .data) }
                return (.ok, .exists(StatResponse(stat: stat)))
            }
            if r.watch { addWatch(id, r.path, .exist) }
            return (.noNode, .empty)
        case .getData(let r):
            switch tree.getData(r.path, ctx: ctx) {
            case .success(let (data, stat)):
                if r.watch { addWatch(id, r.path, .data) }
                return (.ok, .getData(GetDataResponse(data: data, stat: stat)))
            case .failure(let e): return (e, .empty)
            }
        case .getChildren(let r):
            switch tree.getChildren(r.path, ctx: ctx) {
            case .success(let (children, _)):
                if r.watch { addWatch(id, r.path, .child) }
                return (.ok, .getChildren(GetChildrenResponse(children: children)))
            case .failure(let e): return (e, .empty)
            }
        case .getChildren2(let r):
            switch tree.getChildren(r.path, ctx: ctx) {
            case .success(let (children, stat)):
                if r.watch { addWatch(id, r.path, .child) }
                return (.ok, .getChildren2(GetChildren2Response(children: children, stat: stat)))
            case .failure(let e): return (e, .empty)
            }
        case .getACL(let r):
            switch tree.getACL(r.path, ctx: ctx) {
            case .success(let (acl, stat)): return (.ok, .getACL(GetACLResponse(acl: acl, stat: stat)))
            case .failure(let e): return (e, .empty)
            }
        case .getAllChildrenNumber(let r):
            switch tree.getAllChildrenNumber(r.path, ctx: ctx) {
            case .success(let n): return (.ok, .getAllChildrenNumber(GetAllChildrenNumberResponse(totalNumber: n)))
            case .failure(let e): return (e, .empty)
            }
        case .getEphemerals(let r):
            let paths = tree.getEphemerals(sessionId: ctx.sessionId, prefix: r.prefixPath)
            return (.ok, .getEphemerals(GetEphemeralsResponse(ephemerals: paths)))
        case .sync(let r):
            return (.ok, .sync(SyncResponse(path: r.path)))
        case .whoAmI:
            // Like ZooKeeper's providers: a digest identity is reported by its user name, without the hash.
            let infos = ctx.authIds.map { id in
                ClientInfo(authScheme: id.scheme, user: id.scheme == "digest" ? String(id.id.prefix { $0 != ":" }) : id.id)
            }
            return (.ok, .whoAmI(WhoAmIResponse(clientInfo: infos)))
        case .addWatch(let r):
            guard PathValidation.isValid(r.path) else { return (.badArguments, .empty) }
            guard let mode = AddWatchMode(rawValue: r.mode) else { return (.badArguments, .empty) }
            do {
                _ = try watches.addWatch(id, path: r.path, mode: mode)
            } catch {
                return (.throttledOp, .empty)
            }
            return (.ok, .addWatch(ErrorResponse(error: .ok)))
        case .removeWatches(let r):
            guard let type = WatchRemovalType(rawValue: r.type) else { return (.badArguments, .empty) }
            return (watches.removeWatches(id, path: r.path, type: type).code, .empty)
        case .checkWatches(let r):
            guard let type = WatchRemovalType(rawValue: r.type) else { return (.badArguments, .empty) }
            return (watches.checkWatches(id, path: r.path, type: type), .empty)
        case .setWatches(let r):
            let set = WatchSet(
                data: r.dataWatches, exist: r.existWatches, child: r.childWatches, persistent: [],
                persistentRecursive: [])
            return (setWatches(id, relativeZxid: r.relativeZxid, set, &actions), .empty)
        case .setWatches2(let r):
            let set = WatchSet(
                data: r.dataWatches, exist: r.existWatches, child: r.childWatches, persistent: r.persistentWatches,
                persistentRecursive: r.persistentRecursiveWatches)
            return (setWatches(id, relativeZxid: r.relativeZxid, set, &actions), .empty)
        case .multiRead(let ops):
            var results: [MultiResult] = []
            for op in ops {
                switch op {
                case .getData(let g):
                    switch tree.getData(g.path, ctx: ctx) {
                    case .success(let (data, stat)): results.append(.getData(GetDataResponse(data: data, stat: stat)))
                    case .failure(let e): results.append(.error(ErrorResponse(err: e.rawValue)))
                    }
                case .getChildren(let g):
                    switch tree.getChildren(g.path, ctx: ctx) {
                    case .success(let (children, _)): results.append(.getChildren(GetChildrenResponse(children: children)))
                    case .failure(let e): results.append(.error(ErrorResponse(err: e.rawValue)))
                    }
                default:
                    return (.badArguments, .empty)
                }
            }
            return (.ok, .multi(results))
        default:
            return (.unimplemented, .empty)
        }
    }

    private func addWatch(_ id: UInt64, _ path: String, _ kind: WatchKind) {
        do {
            _ = try watches.addWatch(id, path: path, kind: kind)
        } catch {
            logger.warning("watch limit reached", metadata: ["connection": "\(id)", "error": "\(error)"])
        }
    }

    /// Re-registers a reconnecting client's watches; those whose node changed after `relativeZxid` fire now,
    /// sent before the setWatches reply.
    private func setWatches(_ id: UInt64, relativeZxid: Int64, _ set: WatchSet, _ actions: inout [CoreAction]) -> ErrorCode {
        do {
            let events = try watches.setWatches(id, relativeZxid: relativeZxid, set) { path in
                self.tree.exists(path).map { NodeZxids(mzxid: $0.mzxid, pzxid: $0.pzxid) }
            }
            for event in events {
                actions.append(.send(id, countSent(id, Self.notificationPacket(event))))
            }
            return .ok
        } catch {
            return .throttledOp
        }
    }
}
