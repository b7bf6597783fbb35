import Foundation
import WarrenJute

/// Whether nodes with children have only lock contenders among them, by path and `pzxid` (which changes with every
/// creation or deletion of a child, so an entry is valid exactly while its `pzxid` is current). Thread-safe.
final class LockOnlyCache: @unchecked Sendable {
    let entriesMax: Int
    private let lock = NSLock()
    private var entries: [String: (pzxid: Int64, lockOnly: Bool)] = [:]

    init(entriesMax: Int = 4096) { self.entriesMax = entriesMax }

    func get(_ path: String, pzxid: Int64) -> Bool? {
        lock.withLock {
            guard let e = entries[path], e.pzxid == pzxid else { return nil }
            return e.lockOnly
        }
    }

    func set(_ path: String, pzxid: Int64, lockOnly: Bool) {
        lock.withLock {
            // Dropping everything when full keeps the bound without bookkeeping; an entry costs one getChildren.
            if entries.count >= entriesMax && entries[path] == nil { entries.removeAll(keepingCapacity: true) }
            entries[path] = (pzxid, lockOnly)
        }
    }
}

/// The role rule with locks: a node whose only children are lock contenders (a locked file: data and lock
/// children) is shown as a file, whatever it was shown as before.
extension ZKFilesystem {
    /// Above this many children a node is taken for a directory without listing it.
    static let lockOnlyChildrenMax: Int32 = 256

    /// `NodeKindRule.role`, except that a node whose children are all lock contenders is a file. Costs one
    /// getChildren per node and `pzxid` (nodes without children, or with many, cost nothing).
    func shownRole(_ path: String, stat: Stat, previous: NodeRole?) async -> NodeRole {
        let role = NodeKindRule.role(for: stat, previous: previous)
        guard role == .directory, path != "/", stat.numChildren > 0, stat.numChildren <= Self.lockOnlyChildrenMax
        else { return role }
        if let known = fileLocks.lockOnly.get(path, pzxid: stat.pzxid) { return known ? .file : role }
        guard let (children, now) = try? await connection.run({ try await $0.getChildrenWithStat(path) }) else {
            return role
        }
        // The last contender may have gone between `stat` and the listing: the node is then judged as it is now
        // (a lock file with data and no children is a file), not as the stale count of children says.
        if children.isEmpty && now.numChildren == 0 { return NodeKindRule.role(for: now, previous: previous) }
        let lockOnly = LockQueue.isLockOnly(children)
        fileLocks.lockOnly.set(path, pzxid: now.pzxid, lockOnly: lockOnly)
        return lockOnly ? .file : role
    }

    /// Whether the watch event of `path` is a lock contender coming or going under a node shown as a file, or under
    /// one this mount has not shown yet: it is no change of the tree as the mount shows it (no role flip, no event
    /// line, no replay). A node not shown yet gets its role at its first lookup, by the rule above; replaying the
    /// contender's creation would instead make the kernel look its parent up as a directory, and a lock file
    /// shown as a directory takes locks local to this machine (a mount that had not looked at a file when another
    /// machine locked it then let its own `flock` through).
    func isLockContenderOfFile(_ path: String) -> Bool {
        guard path != "/", LockContender.isContender(ZPath.name(of: path)) else { return false }
        return inodes.lastRole(of: ZPath.parent(of: path)) != .directory
    }
}
