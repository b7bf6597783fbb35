import Foundation

/// Which znode an inode stands for, and how it is shown.
public struct InodeKey: Hashable, Sendable {
    public var path: String
    public var role: NodeRole
    public init(path: String, role: NodeRole) {
        self.path = path
        self.role = role
    }
}

/// The kernel's inode numbers and what they stand for. Thread-safe; no I/O.
///
/// An inode number is derived from the role and the znode path (64-bit FNV-1a, stepping past numbers in use by
/// another key), so the same node gets the same number across lookups and, barring collisions, across mounts.
/// A node whose role flips (file to directory) gets another number: the kernel never sees an inode change type.
/// Entries live while the kernel holds a lookup reference (lookup, create, mkdir add one; forget drops them).
/// The role each path was last shown as outlives its inodes (the kernel forgets a closed file's inode as soon as
/// a watch invalidates its name): it goes when the node is deleted, or when more than `roleMemoryMax` paths are
/// remembered (then the roles of paths without inodes are dropped).
public final class InodeTable: @unchecked Sendable {
    public static let rootIno: UInt64 = 1
    /// The event-stream file's inode; no key ever gets this number.
    public static let eventsIno: UInt64 = .max
    public let roleMemoryMax: Int

    private struct Entry {
        var key: InodeKey
        var lookups: UInt64
    }

    private let lock = NSLock()
    private var byIno: [UInt64: Entry] = [:]
    private var byKey: [InodeKey: UInt64] = [:]
    /// The role each path was last given (directory or file), the memory behind `NodeKindRule`'s rule 3.
    private var lastRole: [String: NodeRole] = [:]

    public init(roleMemoryMax: Int = 200_000) {
        self.roleMemoryMax = roleMemoryMax
        let root = InodeKey(path: "/", role: .directory)
        byIno[Self.rootIno] = Entry(key: root, lookups: 1)
        byKey[root] = Self.rootIno
        lastRole["/"] = .directory
    }

    /// What `ino` stands for, nil if the table does not know it.
    public func key(of ino: UInt64) -> InodeKey? {
        lock.withLock { byIno[ino]?.key }
    }

    /// The inode of `key` if the kernel holds one.
    public func ino(of key: InodeKey) -> UInt64? {
        lock.withLock { byKey[key] }
    }

    /// Every inode the kernel holds for `path` (any role).
    public func inos(ofPath path: String) -> [(ino: UInt64, role: NodeRole)] {
        lock.withLock {
            [NodeRole.directory, .file, .dataFile].compactMap { role in
                byKey[InodeKey(path: path, role: role)].map { ($0, role) }
            }
        }
    }

    /// The role `path` was last given (directory or file), if any.
    public func lastRole(of path: String) -> NodeRole? {
        lock.withLock { lastRole[path] }
    }

    /// Records that `path` is shown as `role` from now on, without adding a kernel reference.
    public func setRole(_ role: NodeRole, of path: String) {
        precondition(role != .dataFile, "setRole(.dataFile) for \(path): only nodes have roles")
        lock.withLock {
            lastRole[path] = role
            pruneRoles()
        }
    }

    /// Forgets the role of `path` (the node was deleted: a node created there later starts afresh).
    public func clearRole(of path: String) {
        lock.withLock { _ = lastRole.removeValue(forKey: path) }
    }

    /// The inode of `key`, adding one kernel reference (a lookup, create or mkdir reply). A node or file role
    /// also becomes the path's last role.
    public func remember(_ key: InodeKey) -> UInt64 {
        lock.withLock {
            if key.role != .dataFile {
                lastRole[key.path] = key.role
                pruneRoles()
            }
            if let ino = byKey[key] {
                byIno[ino]!.lookups += 1
                return ino
            }
            let ino = freeNumber(for: key)
            byIno[ino] = Entry(key: key, lookups: 1)
            byKey[key] = ino
            return ino
        }
    }

    /// The number `key` has or would get, without adding a reference (for readdir's `d_ino`).
    public func peekNumber(of key: InodeKey) -> UInt64 {
        lock.withLock { byKey[key] ?? freeNumber(for: key) }
    }

    /// Drops `count` kernel references to `ino`; at zero the entry goes (the root never does).
    public func forget(_ ino: UInt64, count: UInt64) {
        lock.withLock {
            guard ino != Self.rootIno, var entry = byIno[ino] else { return }
            entry.lookups = entry.lookups > count ? entry.lookups - count : 0
            if entry.lookups > 0 {
                byIno[ino] = entry
                return
            }
            byIno.removeValue(forKey: ino)
            if byKey[entry.key] == ino { byKey.removeValue(forKey: entry.key) }
        }
    }

    /// Keeps `lastRole` bounded: past the limit, only paths the kernel holds keep their role. Lock held.
    private func pruneRoles() {
        guard lastRole.count > roleMemoryMax else { return }
        let held = Set(byIno.values.map(\.key.path))
        lastRole = lastRole.filter { held.contains($0.key) }
    }

    /// After a rename the kernel's inodes for `from` (and anything under it) stand for `to`.
    public func rename(from: String, to: String) {
        lock.withLock {
            for (ino, entry) in byIno {
                guard let moved = ZPath.rebase(entry.key.path, from: from, to: to) else { continue }
                let newKey = InodeKey(path: moved, role: entry.key.role)
                if byKey[entry.key] == ino { byKey.removeValue(forKey: entry.key) }
                byKey[newKey] = ino
                byIno[ino]!.key = newKey
            }
            for (path, role) in lastRole {
                guard let moved = ZPath.rebase(path, from: from, to: to) else { continue }
                lastRole.removeValue(forKey: path)
                lastRole[moved] = role
            }
        }
    }

    /// How many inodes the kernel holds (root included).
    public var count: Int { lock.withLock { byIno.count } }

    /// Every key the kernel holds, for invalidating everything after a session change.
    public func allEntries() -> [(ino: UInt64, key: InodeKey)] {
        lock.withLock { byIno.map { ($0.key, $0.value.key) } }
    }

    private func freeNumber(for key: InodeKey) -> UInt64 {
        var n = Self.hash(key)
        while let taken = byIno[n], taken.key != key { n = n &+ 1 < 2 || n &+ 1 == Self.eventsIno ? 2 : n &+ 1 }
        return n
    }

    /// FNV-1a over the role byte and the path's UTF-8; never 0 (invalid), 1 (the root) or `eventsIno`.
    static func hash(_ key: InodeKey) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in [key.role.rawValue] + Array(key.path.utf8) {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h < 2 || h == eventsIno ? h &+ 3 : h
    }
}
