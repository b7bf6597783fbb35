/// Znode path arithmetic on the client's paths (chroot already removed). Paths are absolute, "/" is the root.
public enum ZPath {
    /// `parent` + "/" + `name`, without doubling the root's slash.
    public static func join(_ parent: String, _ name: String) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }

    /// The parent of `path`; the root is its own parent.
    public static func parent(of path: String) -> String {
        guard path != "/", let slash = path.lastIndex(of: "/") else { return "/" }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last component of `path` ("" for the root).
    public static func name(of path: String) -> String {
        guard path != "/", let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[path.index(after: slash)...])
    }

    /// Whether `path` is `ancestor` or lies below it.
    public static func isWithin(_ path: String, _ ancestor: String) -> Bool {
        if ancestor == "/" || path == ancestor { return true }
        return path.hasPrefix(ancestor + "/")
    }

    /// `path` with its `from` prefix replaced by `to` (both as whole components); nil if `path` is not within `from`.
    public static func rebase(_ path: String, from: String, to: String) -> String? {
        guard isWithin(path, from) else { return nil }
        if path == from { return to }
        let rest = from == "/" ? String(path.dropFirst()) : String(path.dropFirst(from.count + 1))
        return join(to, rest)
    }
}
