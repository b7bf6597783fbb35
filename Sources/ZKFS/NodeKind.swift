import WarrenJute

/// What a znode looks like in the mount.
public enum NodeRole: UInt8, Hashable, Sendable {
    /// A znode shown as a directory (its own data, if any, is the file `<dir>/<dataName>`).
    case directory
    /// A znode shown as a regular file whose content is the node's data.
    case file
    /// The reserved file inside a directory that holds the directory node's own data.
    case dataFile
}

public enum NodeKindRule {
    /// The role a node gets in the mount, from its `Stat` and the role this mount last gave it (nil if it knows
    /// none).
    ///
    /// The rule, in order:
    /// 1. a node with children is a directory (only a directory can show them);
    /// 2. an ephemeral node is a file (it can never have children);
    /// 3. otherwise a node keeps the role the mount last gave it, so a file truncated to empty stays a file and a
    ///    directory whose last child went away stays a directory while the kernel remembers it;
    /// 4. otherwise a node with data is a file and an empty, childless node is a directory (structural nodes,
    ///    such as lock and election parents or paths made by `mkdir -p` or kazoo's `ensure_path`, are empty).
    public static func role(for stat: Stat, previous: NodeRole?) -> NodeRole {
        if stat.numChildren > 0 { return .directory }
        if stat.ephemeralOwner != 0 && !isSpecialOwner(stat.ephemeralOwner) { return .file }
        if let previous, previous != .dataFile { return previous }
        return stat.dataLength > 0 ? .file : .directory
    }

    /// With extended types, ZooKeeper stores container and TTL nodes with reserved ephemeralOwner values (top
    /// byte 0x80 for containers, 0xFF for TTL nodes); 3.8 reports 0 to clients, but should one show through, the
    /// node is persistent, not ephemeral.
    static func isSpecialOwner(_ owner: Int64) -> Bool {
        let top = UInt64(bitPattern: owner) >> 56
        return top == 0x80 || top == 0xFF
    }
}

/// The attributes of one inode, in POSIX terms, derived only from a `Stat`, the role and the mount options.
public struct NodeAttributes: Equatable, Sendable {
    public var ino: UInt64
    /// File type and permission bits (`S_IFDIR | 0o755`...).
    public var mode: UInt32
    public var nlink: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    /// Seconds and nanoseconds since the epoch.
    public var mtime: (sec: Int64, nsec: Int64)
    public var ctime: (sec: Int64, nsec: Int64)

    public static func == (a: NodeAttributes, b: NodeAttributes) -> Bool {
        a.ino == b.ino && a.mode == b.mode && a.nlink == b.nlink && a.uid == b.uid && a.gid == b.gid
            && a.size == b.size && a.mtime == b.mtime && a.ctime == b.ctime
    }

    public static let typeDirectory: UInt32 = 0o040000
    public static let typeRegular: UInt32 = 0o100000

    /// Attributes of a node with `stat` shown as `role`.
    ///
    /// size is the data length for files (`dataLength`), the number of children for directories; mtime is the
    /// node's mtime; ctime is the later of its mtime and ctime (ZooKeeper's ctime is a creation time, which POSIX
    /// has no field for; it is the xattr `user.zk.ctime`). Permissions are `0o666`/`0o777` minus `umask`, minus
    /// every write bit on a read-only mount.
    public static func make(ino: UInt64, role: NodeRole, stat: Stat, options: MountOptions) -> NodeAttributes {
        let isDirectory = role == .directory
        var permissions: UInt32 = (isDirectory ? 0o777 : 0o666) & ~options.umask
        if options.readOnly { permissions &= ~0o222 }
        let mtimeMs = stat.mtime
        let ctimeMs = max(stat.ctime, stat.mtime)
        return NodeAttributes(
            ino: ino,
            mode: (isDirectory ? typeDirectory : typeRegular) | permissions,
            nlink: isDirectory ? 2 : 1,
            uid: options.uid, gid: options.gid,
            size: isDirectory ? Int64(stat.numChildren) : Int64(stat.dataLength),
            mtime: split(ms: mtimeMs), ctime: split(ms: ctimeMs))
    }

    static func split(ms: Int64) -> (sec: Int64, nsec: Int64) {
        let sec = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        return (sec, (ms - sec * 1000) * 1_000_000)
    }
}
