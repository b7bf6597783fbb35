import WarrenJute

extension DataTree {
    /// Applies a txn to the committed tree (ZooKeeper's `DataTree.processTxn`) and retires the prepared changes of
    /// every zxid up to this one. Failures inside (e.g. a create whose node already exists) are reported in the
    /// result, never thrown.
    ///
    /// Contract: txns come in strictly increasing zxid order, each above `lastProcessedZxid` — the order Zab
    /// delivers them and the log holds them. Every caller (the pipeline, Zab's delivery, recovery's replay after a
    /// snapshot, the migration's replay) guarantees it where it produces the txns; a txn at or below the tree's
    /// zxid means the same change would be applied twice, so it stops the process here rather than fork a replica.
    ///
    /// - Returns: the client-visible result and the watch triggers, to be fired in array order.
    @discardableResult
    public func apply(_ txn: Txn) -> ApplyResult {
        precondition(txn.header.zxid > lastProcessedZxid,
                     "txn 0x\(String(txn.header.zxid, radix: 16)) (\(txn.body.type)) applied to a tree at 0x\(String(lastProcessedZxid, radix: 16))")
        var triggers: [WatchTrigger] = []
        let result = applyBody(txn.body, header: txn.header, triggers: &triggers)
        lastProcessedZxid = txn.header.zxid
        pending.retire(upTo: txn.header.zxid)
        return ApplyResult(header: txn.header, result: result, triggers: triggers)
    }

    func applyBody(_ body: TxnBody, header: TxnHeader, triggers: inout [WatchTrigger]) -> OpResult {
        switch body {
        case let .create(path, data, acl, ephemeral, parentCVersion):
            let owner = ephemeral ? header.sessionId : 0
            let result = createNode(path: path, data: data, acl: acl, owner: owner, parentCVersion: parentCVersion,
                                    header: header, triggers: &triggers)
            if case .error(.nodeExists) = result {
                // Replaying a create over a snapshot that already has the node: still advance the parent's
                // cversion/pzxid so they match the other replicas (ZooKeeper does the same for plain creates).
                if let parent = PathValidation.parent(of: path).flatMap(slotOf) {
                    raiseCVersion(parent, to: parentCVersion, zxid: header.zxid)
                }
            }
            return result
        case let .createContainer(path, data, acl, parentCVersion):
            return createNode(path: path, data: data, acl: acl, owner: EphemeralKind.containerOwner,
                              parentCVersion: parentCVersion, header: header, triggers: &triggers)
        case let .createTTL(path, data, acl, parentCVersion, ttlMs):
            guard ttlMs > 0 && ttlMs <= EphemeralKind.ttlMaxMs else { return .error(.badArguments) }
            return createNode(path: path, data: data, acl: acl, owner: EphemeralKind.ttlOwner(ttlMs),
                              parentCVersion: parentCVersion, header: header, triggers: &triggers)
        case let .delete(path), let .deleteContainer(path):
            if let error = deleteNode(path: path, zxid: header.zxid, triggers: &triggers) { return .error(error) }
            return .delete
        case let .setData(path, data, version):
            guard let slot = slotOf(path) else { return .error(.noNode) }
            let oldLength = dataLength(slot)
            replaceData(slot, with: data, mtime: header.timeMs, mzxid: header.zxid, version: version)
            let newLength = dataLength(slot)
            pathAndDataSize += Int64(newLength - oldLength)
            let stat = clientStat(slot)
            quotaAfterSetData(path: path, bytesDiff: newLength - oldLength)
            triggers.append(WatchTrigger(path: path, type: .nodeDataChanged, acl: aclOf(slot)))
            return .setData(stat: stat)
        case let .setACL(path, acl, version):
            guard let slot = slotOf(path) else { return .error(.noNode) }
            let newRef = acls.intern(acl)
            let oldRef = slots[Int(slot)].aclRef
            modify(slot) { node in
                node.aclRef = newRef
                node.stat.aversion = version
            }
            acls.release(oldRef)
            return .setACL(stat: clientStat(slot))
        case .check:
            return .check
        case let .error(code):
            return .error(code)
        case let .createSession(timeoutMs):
            if let old = sessions[header.sessionId] { sessionDigest &-= DataTree.sessionHash(header.sessionId, old) }
            sessions[header.sessionId] = timeoutMs
            sessionDigest &+= DataTree.sessionHash(header.sessionId, timeoutMs)
            return .createSession
        case let .closeSession(paths):
            killSession(header.sessionId, listed: paths, zxid: header.zxid, triggers: &triggers)
            return .closeSession
        case let .multi(bodies):
            return .multi(applyMulti(bodies, header: header, triggers: &triggers))
        }
    }

    /// ZooKeeper's multi apply: if any sub-txn is an error the whole multi is a failure, reported per op as `ok`
    /// for ops before the first error, that error, and `runtimeInconsistency` after it; otherwise every op applies.
    private func applyMulti(_ bodies: [TxnBody], header: TxnHeader, triggers: inout [WatchTrigger]) -> [OpResult] {
        let failed = bodies.contains { if case .error = $0 { return true } else { return false } }
        var postFailed = false
        var results: [OpResult] = []
        results.reserveCapacity(bodies.count)
        for body in bodies {
            switch body {
            case let .error(code):
                postFailed = true
                results.append(.error(code))
            case .createSession, .closeSession, .multi:
                // Not a legal multi member (the decoder rejects these); surface it instead of applying it.
                results.append(.error(.marshallingError))
            default:
                if failed {
                    results.append(.error(postFailed ? .runtimeInconsistency : .ok))
                } else {
                    results.append(applyBody(body, header: header, triggers: &triggers))
                }
            }
        }
        return results
    }

    private func createNode(path: String, data: [UInt8]?, acl: [ACL], owner: Int64, parentCVersion: Int32,
                            header: TxnHeader, triggers: inout [WatchTrigger]) -> OpResult {
        guard let parentPath = PathValidation.parent(of: path), let parent = slotOf(parentPath) else { return .error(.noNode) }
        if slotOf(path) != nil { return .error(.nodeExists) }
        raiseCVersion(parent, to: parentCVersion, zxid: header.zxid)
        let stat = PersistedStat(createdAt: header.zxid, timeMs: header.timeMs, ephemeralOwner: owner)
        let slot = insertChild(path: path, parent: parent, data: data, aclRef: acls.intern(acl), stat: stat)
        // The client sees the node as created, before quota bookkeeping may rewrite it (a stat node under a quota).
        let created = clientStat(slot)
        quotaAfterCreate(path: path, dataLength: data?.count ?? 0)
        triggers.append(WatchTrigger(path: path, type: .nodeCreated, acl: aclOf(slot)))
        triggers.append(WatchTrigger(path: parentPath, type: .nodeChildrenChanged, acl: aclOf(parent)))
        return .create(path: path, stat: created)
    }

    /// Sets the parent's creation count to `newCVersion` (-1: one more than now) and its pzxid to `zxid`, but only
    /// if that raises the count: replayed creates must never move them backwards.
    private func raiseCVersion(_ parent: Int32, to newCVersion: Int32, zxid: Int64) {
        let current = stat(parent).cversion
        let target = newCVersion == -1 ? current &+ 1 : newCVersion
        guard target > current else { return }
        modifyChildStat(parent, cversion: target, pzxid: zxid)
    }

    /// Returns nil on success. Like ZooKeeper, the parent's pzxid advances even when the child is already gone.
    private func deleteNode(path: String, zxid: Int64, triggers: inout [WatchTrigger]) -> ErrorCode? {
        guard let parentPath = PathValidation.parent(of: path), let parent = slotOf(parentPath) else { return .noNode }
        let parentStat = stat(parent)
        if zxid > parentStat.pzxid {
            modifyChildStat(parent, cversion: parentStat.cversion, pzxid: zxid)
        }
        guard let slot = slotOf(path), slot != DataTree.rootSlot else { return .noNode }
        guard childCount(slot) == 0 else { return .notEmpty }
        let acl = aclOf(slot)
        let dataLength = self.dataLength(slot)
        removeNode(slot)
        quotaAfterDelete(path: path, dataLength: dataLength)
        triggers.append(WatchTrigger(path: path, type: .nodeDeleted, acl: acl))
        triggers.append(WatchTrigger(path: parentPath, type: .nodeChildrenChanged, acl: aclOf(parent)))
        return nil
    }

    /// Deletes the paths the closeSession txn lists (already-gone ones are skipped), then any other ephemerals the
    /// session still owns, in path order, and forgets the session.
    private func killSession(_ sessionId: Int64, listed: [String], zxid: Int64, triggers: inout [WatchTrigger]) {
        for path in listed {
            _ = deleteNode(path: path, zxid: zxid, triggers: &triggers)
        }
        if let leftovers = ephemerals[sessionId] {
            for path in leftovers.map({ self.path($0) }).sorted() {
                _ = deleteNode(path: path, zxid: zxid, triggers: &triggers)
            }
        }
        if let timeout = sessions.removeValue(forKey: sessionId) {
            sessionDigest &-= DataTree.sessionHash(sessionId, timeout)
        }
    }
}
