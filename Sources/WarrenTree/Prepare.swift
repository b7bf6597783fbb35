import WarrenJute

extension DataTree {
    /// Validates `op` for `ctx` against the committed tree plus all prepared-but-unapplied txns and returns the
    /// txn to log (ZooKeeper's `PrepRequestProcessor`). On success the txn's effects join the overlay, so later
    /// prepares see them; they leave it when `apply` reaches `zxid`.
    ///
    /// Checks run in ZooKeeper's order, so the same request fails with the same error. A failed multi is *not* a
    /// failure here: it yields a multi txn of `.error` bodies (`ok` for the ops before the failing one, its error,
    /// then `runtimeInconsistency`), which ZooKeeper logs and applies like any other txn, and leaves the overlay as
    /// it was. Session liveness is not checked here (the session tracker's job).
    ///
    /// - Parameters:
    ///   - zxid: the zxid this txn will have; must exceed every zxid prepared before.
    ///   - timeMs: the leader's wall-clock time, recorded as ctime/mtime.
    /// - Returns: the txn, or the error to send the client (nothing is recorded then).
    public func prepare(_ op: WriteOp, ctx: SessionContext, cxid: Int32 = 0, zxid: Int64, timeMs: Int64) -> Result<Txn, ErrorCode> {
        var sessionId = ctx.sessionId
        switch op {
        case let .createSession(id, _), let .closeSession(id): sessionId = id
        default: break
        }
        let header = TxnHeader(sessionId: sessionId, cxid: cxid, zxid: zxid, timeMs: timeMs)
        if case let .multi(ops) = op {
            return prepareMulti(ops, ctx: ctx, header: header).map { Txn(header: header, body: $0) }
        }
        do {
            return .success(Txn(header: header, body: try prepareOne(op, ctx: ctx, header: header)))
        } catch {
            return .failure(error)
        }
    }

    /// Forgets every prepared-but-unapplied change (e.g. when a new leader discards uncommitted proposals).
    public func discardPrepared() { pending.removeAll() }

    /// Number of prepared changes not yet retired by `apply`.
    public var preparedChangeCount: Int { pending.outstanding.count }

    private func prepareMulti(_ ops: [WriteOp], ctx: SessionContext, header: TxnHeader) -> Result<TxnBody, ErrorCode> {
        for op in ops {
            switch op {
            case .create, .delete, .setData, .check: continue
            default: return .failure(.marshallingError)
            }
        }
        pending.beginMulti()
        var bodies: [TxnBody] = []
        bodies.reserveCapacity(ops.count)
        for (i, op) in ops.enumerated() {
            do {
                bodies.append(try prepareOne(op, ctx: ctx, header: header))
            } catch {
                pending.rollbackMulti()
                let results = ops.indices.map { j -> TxnBody in
                    .error(j < i ? .ok : j == i ? error : .runtimeInconsistency)
                }
                return .success(.multi(results))
            }
        }
        pending.commitMulti()
        return .success(.multi(bodies))
    }

    private func prepareOne(_ op: WriteOp, ctx: SessionContext, header: TxnHeader) throws(ErrorCode) -> TxnBody {
        let zxid = header.zxid
        switch op {
        case let .create(path, data, acl, mode, ttlMs):
            return try prepareCreate(path: path, data: data, acl: acl, mode: mode, ttlMs: ttlMs ?? -1, ctx: ctx, header: header)

        case let .delete(path, version):
            let parentPath = try parentForDelete(path)
            let parent = try record(parentPath)
            try requirePermission(parent.acl, .delete, ctx)
            let node = try record(path)
            _ = try nextVersion(node.stat.version, expected: version)
            if node.childCount > 0 { throw .notEmpty }
            recordDeletion(path: path, parentPath: parentPath, parent: parent, zxid: zxid)
            return .delete(path: path)

        case let .deleteContainer(path):
            let parentPath = try parentForDelete(path)
            let node = try record(path)
            if node.childCount > 0 { throw .notEmpty }
            if case .ephemeral = ephemeralKind(owner: node.stat.ephemeralOwner) { throw .badVersion }
            let parent = try record(parentPath)
            recordDeletion(path: path, parentPath: parentPath, parent: parent, zxid: zxid)
            return .deleteContainer(path: path)

        case .reconfig:
            throw .reconfigDisabled

        case let .setData(path, data, version):
            guard PathValidation.isValid(path) else { throw .badArguments }
            var node = try record(path)
            try requirePermission(node.acl, .write, ctx)
            let newVersion = try nextVersion(node.stat.version, expected: version)
            node.stat.version = newVersion
            node.stat.mtime = header.timeMs
            node.stat.mzxid = zxid
            pending.add(zxid: zxid, path: path, node: node)
            return .setData(path: path, data: data, version: newVersion)

        case let .setACL(path, acl, version):
            guard PathValidation.isValid(path) else { throw .badArguments }
            let fixed = try ACLRules.fixup(acl, authIds: ctx.authIds).get()
            var node = try record(path)
            try requirePermission(node.acl, .admin, ctx)
            let newVersion = try nextVersion(node.stat.aversion, expected: version)
            node.stat.aversion = newVersion
            // Later prepares must be authorised against the new ACL, not the committed one.
            node.acl = fixed
            pending.add(zxid: zxid, path: path, node: node)
            return .setACL(path: path, acl: fixed, version: newVersion)

        case let .check(path, version):
            guard PathValidation.isValid(path) else { throw .badArguments }
            let node = try record(path)
            try requirePermission(node.acl, .read, ctx)
            return .check(path: path, version: try nextVersion(node.stat.version, expected: version))

        case let .createSession(_, timeoutMs):
            return .createSession(timeoutMs: timeoutMs)

        case let .closeSession(sessionId):
            return prepareCloseSession(sessionId, zxid: zxid)

        case .multi:
            throw .marshallingError
        }
    }

    private func prepareCreate(path requested: String, data: [UInt8]?, acl: [ACL], mode: CreateMode, ttlMs: Int64,
                               ctx: SessionContext, header: TxnHeader) throws(ErrorCode) -> TxnBody {
        if mode.isTTL && !config.extendedTypesEnabled { throw .unimplemented }
        if mode.isTTL {
            if ttlMs <= 0 || ttlMs > EphemeralKind.ttlMaxMs { throw .badArguments }
        } else if ttlMs >= 0 {
            throw .badArguments
        }
        guard let parentPath = PathValidation.parent(of: requested) else { throw .badArguments }
        let fixed = try ACLRules.fixup(acl, authIds: ctx.authIds).get()
        var parent = try record(parentPath)
        try requirePermission(parent.acl, .create, ctx)
        let path = mode.isSequential ? requested + PathValidation.sequenceSuffix(parent.stat.cversion) : requested
        guard PathValidation.isValid(path) else { throw .badArguments }
        if (try? record(path)) != nil { throw .nodeExists }
        if case .ephemeral = ephemeralKind(owner: parent.stat.ephemeralOwner) { throw .noChildrenForEphemerals }
        let newCVersion = parent.stat.cversion &+ 1

        let owner: Int64
        let body: TxnBody
        if mode.isContainer {
            owner = EphemeralKind.containerOwner
            body = .createContainer(path: path, data: data, acl: fixed, parentCVersion: newCVersion)
        } else if mode.isTTL {
            owner = EphemeralKind.ttlOwner(ttlMs)
            body = .createTTL(path: path, data: data, acl: fixed, parentCVersion: newCVersion, ttlMs: ttlMs)
        } else {
            owner = mode.isEphemeral ? ctx.sessionId : 0
            body = .create(path: path, data: data, acl: fixed, ephemeral: mode.isEphemeral, parentCVersion: newCVersion)
        }
        parent.childCount += 1
        parent.stat.cversion = newCVersion
        parent.stat.pzxid = header.zxid
        pending.add(zxid: header.zxid, path: parentPath, node: parent)
        let stat = PersistedStat(createdAt: header.zxid, timeMs: header.timeMs, ephemeralOwner: owner)
        pending.add(zxid: header.zxid, path: path, node: PendingNode(stat: stat, childCount: 0, acl: fixed))
        return body
    }

    /// The session's ephemerals as they will be once every prepared txn applies (ZooKeeper replays the overlay in
    /// prepare order over the committed set), sorted so every replica deletes them in the same order.
    private func prepareCloseSession(_ sessionId: Int64, zxid: Int64) -> TxnBody {
        var paths = Set((ephemerals[sessionId] ?? []).map { path($0) })
        for change in pending.outstanding {
            if let node = change.node {
                if node.stat.ephemeralOwner == sessionId { paths.insert(change.path) }
            } else {
                paths.remove(change.path)
            }
        }
        let sorted = paths.sorted()
        for path in sorted {
            // Unlike ZooKeeper we also drop the parent's pending child count, so a delete of the parent prepared
            // after this close is not refused with notEmpty.
            if let parentPath = PathValidation.parent(of: path), var parent = try? record(parentPath) {
                parent.childCount -= 1
                parent.stat.pzxid = zxid
                pending.add(zxid: zxid, path: parentPath, node: parent)
            }
            pending.add(zxid: zxid, path: path, node: nil)
        }
        return .closeSession(paths: sorted)
    }

    private func recordDeletion(path: String, parentPath: String, parent: PendingNode, zxid: Int64) {
        var parent = parent
        parent.childCount -= 1
        parent.stat.pzxid = zxid
        pending.add(zxid: zxid, path: parentPath, node: parent)
        pending.add(zxid: zxid, path: path, node: nil)
    }

    /// A node as it will be after every prepared txn, or `noNode`.
    func record(_ path: String) throws(ErrorCode) -> PendingNode {
        if let change = pending.latest(path) {
            guard let node = change.node else { throw .noNode }
            return node
        }
        guard let slot = slotOf(path) else { throw .noNode }
        return PendingNode(stat: stat(slot), childCount: childCount(slot), acl: aclOf(slot))
    }

    /// The parent of a node to delete; the system nodes and paths without "/" are refused with badArguments.
    private func parentForDelete(_ path: String) throws(ErrorCode) -> String {
        guard let parent = PathValidation.parent(of: path), !DataTree.systemPaths.contains(path) else { throw .badArguments }
        return parent
    }

    private func requirePermission(_ acl: [ACL], _ perm: Perms, _ ctx: SessionContext) throws(ErrorCode) {
        if !ACLRules.isAllowed(acl, perm, ids: ctx.authIds) { throw .noAuth }
    }

    /// ZooKeeper's `checkAndIncVersion`: `expected` must be -1 or equal `current`; the next version skips -1
    /// (reached only after wrapping past Int32.max) because -1 means "any version" to clients.
    private func nextVersion(_ current: Int32, expected: Int32) throws(ErrorCode) -> Int32 {
        if expected != -1 && expected != current { throw .badVersion }
        let next = current &+ 1
        return next == -1 ? 0 : next
    }
}
