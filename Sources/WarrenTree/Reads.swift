import WarrenJute

extension DataTree {
    /// The stat of a committed node, or nil. No ACL check (ZooKeeper's `exists` has none).
    public func exists(_ path: String) -> Stat? {
        slotOf(path).map(clientStat)
    }

    /// Data and stat; needs READ. `data` is nil for a node whose data is null (created or set with a -1 length
    /// buffer); its stat's `dataLength` is 0, as for empty data.
    public func getData(_ path: String, ctx: SessionContext) -> Result<(data: [UInt8]?, stat: Stat), ErrorCode> {
        guard let slot = slotOf(path) else { return .failure(.noNode) }
        guard ACLRules.isAllowed(aclOf(slot), .read, ids: ctx.authIds) else { return .failure(.noAuth) }
        return .success((data(slot), clientStat(slot)))
    }

    /// Child names (not full paths) in no particular order, as ZooKeeper returns them, plus the stat; needs READ.
    public func getChildren(_ path: String, ctx: SessionContext) -> Result<(children: [String], stat: Stat), ErrorCode> {
        guard let slot = slotOf(path) else { return .failure(.noNode) }
        guard ACLRules.isAllowed(aclOf(slot), .read, ids: ctx.authIds) else { return .failure(.noAuth) }
        return .success((childNames(slot), clientStat(slot)))
    }

    /// The ACL and stat; needs READ or ADMIN. Without ADMIN, digest ids show only the user ("user:x").
    public func getACL(_ path: String, ctx: SessionContext) -> Result<(acl: [ACL], stat: Stat), ErrorCode> {
        guard let slot = slotOf(path) else { return .failure(.noNode) }
        let acl = aclOf(slot)
        guard ACLRules.isAllowed(acl, [.read, .admin], ids: ctx.authIds) else { return .failure(.noAuth) }
        let visible = ACLRules.isAllowed(acl, .admin, ids: ctx.authIds) ? acl : ACLRules.redacted(acl)
        return .success((visible, clientStat(slot)))
    }

    /// The number of descendants (not counting the node itself); needs READ on the node.
    public func getAllChildrenNumber(_ path: String, ctx: SessionContext) -> Result<Int32, ErrorCode> {
        guard let slot = slotOf(path) else { return .failure(.noNode) }
        guard ACLRules.isAllowed(aclOf(slot), .read, ids: ctx.authIds) else { return .failure(.noAuth) }
        var count = 0
        var stack = [slot]
        while let next = stack.popLast() {
            let children = self.children(next)
            count += children.count
            stack.append(contentsOf: children)
        }
        return .success(Int32(truncatingIfNeeded: count))
    }

    /// The session's ephemeral paths, sorted. An empty, blank or "/" prefix means all; otherwise only paths that
    /// start with `prefix` (plain string prefix, as in ZooKeeper). No ACL check.
    public func getEphemerals(sessionId: Int64, prefix: String = "") -> [String] {
        let all = (ephemerals[sessionId] ?? []).map { path($0) }
        let trimmed = prefix.trimmingWhitespace()
        let filtered = trimmed.isEmpty || trimmed == "/" ? all : all.filter { $0.hasPrefix(prefix) }
        return filtered.sorted()
    }

    /// Paths of every session's ephemerals, by session, each list sorted (for `dump`).
    public func ephemeralsBySession() -> [Int64: [String]] {
        ephemerals.mapValues { $0.map { path($0) }.sorted() }
    }

    /// The stored ACL of a node, unchecked (for the server's watch delivery and tests).
    public func acl(of path: String) -> [ACL]? {
        slotOf(path).map(aclOf)
    }

    /// Empty containers that should be deleted, sorted: ones that have had a child (creation count > 0), and,
    /// when `maxNeverUsedIntervalMs` > 0, never-used ones older than that (by mtime). Feed each to
    /// `WriteOp.deleteContainer` (ZooKeeper's ContainerManager). `wallMs` is the wall clock, as mtime is.
    public func containersToDelete(wallMs: Int64, maxNeverUsedIntervalMs: Int64 = 0) -> [String] {
        containers.compactMap { slot -> String? in
            guard childCount(slot) == 0 else { return nil }
            let stat = self.stat(slot)
            if stat.cversion > 0 { return path(slot) }
            if maxNeverUsedIntervalMs != 0 && wallMs - stat.mtime > maxNeverUsedIntervalMs { return path(slot) }
            return nil
        }.sorted()
    }

    /// Childless TTL nodes not modified for longer than their TTL (`wallMs - mtime > ttl`), sorted; delete them with
    /// `WriteOp.deleteContainer`. A TTL is an age measured from mtime, a wall-clock date, so `wallMs` is the wall
    /// clock too (as in ZooKeeper): a forward step of the wall clock ages TTL nodes by the step.
    public func expiredTTLNodes(wallMs: Int64) -> [String] {
        ttls.compactMap { slot -> String? in
            let header = blobHeader(slot)
            guard childCount(slot) == 0, case let .ttl(ttl) = ephemeralKind(owner: header.ephemeralOwner) else { return nil }
            return ttl != 0 && wallMs - header.mtime > ttl ? path(slot) : nil
        }.sorted()
    }

    func childNames(_ slot: Int32) -> [String] {
        children(slot).map { name($0) }
    }
}

extension String {
    /// Java's `String.trim()`: strips characters <= U+0020 from both ends.
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { $0.value > 0x20 }) else { return "" }
        let last = scalars.lastIndex(where: { $0.value > 0x20 })!
        return String(scalars[first...last])
    }
}
