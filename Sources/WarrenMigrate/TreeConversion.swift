import WarrenJute
import WarrenTree

extension DataTree {
    /// Every node, root first, parents before children and siblings by name (UTF-8 bytes), read through the public
    /// read API as a super user. Session-bound ephemerals are left out when `droppingEphemerals` (their sessions do
    /// not survive a migration, exactly as on a restart after the session timeout); containers and TTL nodes stay.
    /// - Returns: the nodes, and how many ephemerals were left out.
    public func migratedNodes(droppingEphemerals: Bool) -> (nodes: [MigratedNode], dropped: Int) {
        let ctx = SessionContext.superUser()
        var nodes: [MigratedNode] = []
        nodes.reserveCapacity(nodeCount + 1)
        var dropped = 0
        var stack = ["/"]
        while let path = stack.popLast() {
            guard case let .success((data, clientStat)) = getData(path, ctx: ctx), let acl = acl(of: path),
                  let stat = persistedStat(path) else { continue }
            if droppingEphemerals && EphemeralKind.isSessionBound(owner: stat.ephemeralOwner) {
                dropped += 1
                continue
            }
            nodes.append(MigratedNode(path: path, data: data, acl: acl, stat: stat))
            guard clientStat.numChildren > 0, case let .success((names, _)) = getChildren(path, ctx: ctx) else { continue }
            let prefix = path == "/" ? "/" : path + "/"
            // Reversed, so the smallest name pops first.
            for name in names.sorted(by: { !$0.utf8.lexicographicallyPrecedes($1.utf8) }) { stack.append(prefix + name) }
        }
        return (nodes, dropped)
    }

    /// A tree holding exactly `nodes` (parents before children, root first) and `sessions`, as of `zxid`. Goes
    /// through Warren's snapshot restore (tree snapshot layout version 1, whose node records are ZooKeeper's: path,
    /// data, ACL index, `StatPersisted`), so the result passes every check a snapshot read from disk does.
    public static func migrated(nodes: [MigratedNode], sessions: [(id: Int64, timeoutMs: Int32)], zxid: Int64,
                                config: TreeConfig) throws -> DataTree {
        var table = ACLTable()
        let indices = nodes.map { Int32(table.number($0.acl)) }
        var w = JuteWriter(capacity: nodes.reduce(64) { $0 + $1.path.utf8.count + ($1.data?.count ?? 0) + 80 })
        w.writeInt(0x5754_5245)  // "WTRE", see `DataTree.snapshot()`
        w.writeInt(1)
        w.writeLong(zxid)
        let sorted = sessions.sorted { $0.id < $1.id }
        w.writeInt(Int32(sorted.count))
        for s in sorted {
            w.writeLong(s.id)
            w.writeInt(s.timeoutMs)
        }
        w.writeInt(Int32(table.lists.count))
        for list in table.lists { w.writeVector(list) { $0.write($1) } }
        w.writeInt(Int32(nodes.count))
        for (node, index) in zip(nodes, indices) {
            w.writeString(node.path)
            w.writeBuffer(node.data)
            w.writeInt(index)
            w.write(node.stat)
        }
        do {
            return try DataTree.restore(from: w.bytes, config: config)
        } catch {
            throw MigrationError("the tree does not load into Warren: \(error)")
        }
    }
}
