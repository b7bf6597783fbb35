import WarrenJute

/// The extended attributes every inode has: the znode path, each `Stat` field (read-only) and the ACL
/// (writable: setting it calls setACL). Values are text, as `getfattr` shows them.
public enum ZKXattr {
    public static let prefix = "user.zk."
    public static let path = "user.zk.path"
    public static let acl = "user.zk.acl"

    /// The `Stat` fields, in wire order, with how each is read.
    public static let statFields: [(name: String, value: @Sendable (Stat) -> String)] = [
        ("user.zk.czxid", { String($0.czxid) }),
        ("user.zk.mzxid", { String($0.mzxid) }),
        ("user.zk.ctime", { String($0.ctime) }),
        ("user.zk.mtime", { String($0.mtime) }),
        ("user.zk.version", { String($0.version) }),
        ("user.zk.cversion", { String($0.cversion) }),
        ("user.zk.aversion", { String($0.aversion) }),
        ("user.zk.ephemeralOwner", { "0x" + String(UInt64(bitPattern: $0.ephemeralOwner), radix: 16) }),
        ("user.zk.dataLength", { String($0.dataLength) }),
        ("user.zk.numChildren", { String($0.numChildren) }),
        ("user.zk.pzxid", { String($0.pzxid) }),
    ]

    /// Every name `listxattr` reports, in a fixed order.
    public static var allNames: [String] { [path] + statFields.map(\.name) + [acl] }

    /// `listxattr`'s answer: the names, each followed by a NUL byte.
    public static func listing() -> [UInt8] {
        allNames.flatMap { Array($0.utf8) + [0] }
    }

    /// The value of a `Stat` attribute or the path; nil for the ACL (which needs a getACL) and unknown names.
    public static func value(of name: String, path: String, stat: Stat) -> String? {
        if name == Self.path { return path }
        return statFields.first { $0.name == name }?.value(stat)
    }

    /// Whether `name` is one of ours that cannot be set.
    public static func isReadOnly(_ name: String) -> Bool {
        name == path || statFields.contains { $0.name == name }
    }
}

/// ACLs as text: entries `scheme:id:perms` separated by commas, perms as ZooKeeper's letters in `cdrwa` order
/// (`world:anyone:cdrwa,digest:bob:x0Y...=:r`). The id may itself contain colons; the scheme ends at the first
/// colon and the perms start after the last.
public enum ACLText {
    static let letters: [(Character, Perms)] = [("c", .create), ("d", .delete), ("r", .read), ("w", .write),
                                                ("a", .admin)]

    public static func format(_ acl: [ACL]) -> String {
        acl.map { "\($0.id.scheme):\($0.id.id):\(format($0.perms))" }.joined(separator: ",")
    }

    public static func format(_ perms: Perms) -> String {
        String(letters.filter { perms.contains($0.1) }.map(\.0))
    }

    /// Parses `text` (trailing newline and spaces around entries allowed).
    /// - Throws: `ACLTextError` naming the bad entry.
    public static func parse(_ text: String) throws -> [ACL] {
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw ACLTextError(entry: text) }
        return try trimmed.split(separator: ",").map { raw in
            let entry = String(raw).trimmingWhitespace()
            guard let first = entry.firstIndex(of: ":"), let last = entry.lastIndex(of: ":"), first < last else {
                throw ACLTextError(entry: entry)
            }
            let scheme = String(entry[..<first])
            let id = String(entry[entry.index(after: first)..<last])
            var perms: Perms = []
            for ch in entry[entry.index(after: last)...] {
                guard let bit = letters.first(where: { $0.0 == ch })?.1 else { throw ACLTextError(entry: entry) }
                perms.insert(bit)
            }
            guard !scheme.isEmpty else { throw ACLTextError(entry: entry) }
            return ACL(perms: perms, id: Id(scheme: scheme, id: id))
        }
    }
}

public struct ACLTextError: Error, Equatable, Sendable {
    public var entry: String
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[start...end])
    }
}
