/// ZooKeeper's znode path rules (`PathUtils.validatePath`), applied to UTF-16 code units like Java's `char`s so that
/// exactly the same paths are accepted.
public enum PathValidation {
    /// Why `path` is not a valid znode path, or nil when it is. Rules: non-empty, starts with "/", no trailing "/"
    /// (except the root), no empty components, no "." or ".." components, no NUL, no control characters
    /// (U+0001–U+001F, U+007F–U+009F), no surrogates or private-use characters (U+D800–U+F8FF), nothing in
    /// U+FFF0–U+FFFF.
    public static func invalidReason(_ path: String) -> String? {
        let chars = Array(path.utf16)
        if chars.isEmpty { return "path length must be > 0" }
        if chars[0] != slash { return "path must start with / character" }
        if chars.count == 1 { return nil }
        if chars[chars.count - 1] == slash { return "path must not end with / character" }
        var last = slash
        for i in 1..<chars.count {
            let c = chars[i]
            defer { last = c }
            if c == 0 { return "null character not allowed @\(i)" }
            if c == slash && last == slash { return "empty node name specified @\(i)" }
            let endsComponent = i + 1 == chars.count || chars[i + 1] == slash
            if c == dot && last == dot {
                if chars[i - 2] == slash && endsComponent { return "relative paths not allowed @\(i)" }
                continue
            }
            if c == dot {
                if chars[i - 1] == slash && endsComponent { return "relative paths not allowed @\(i)" }
                continue
            }
            if (c > 0 && c <= 0x1F) || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xF8FF) || c >= 0xFFF0 {
                return "invalid character @\(i)"
            }
        }
        return nil
    }

    public static func isValid(_ path: String) -> Bool { invalidReason(path) == nil }

    /// A create path with the sequential flag is checked as if the counter were already appended, so "/a/" is a
    /// valid sequential prefix (it creates "/a/0000000000").
    public static func isValid(_ path: String, sequential: Bool) -> Bool {
        isValid(sequential ? path + "1" : path)
    }

    /// The parent of a path as ZooKeeper's request processor computes it (everything before the last "/", with the
    /// root's children getting "/"), or nil when the path has no "/" or contains NUL.
    public static func parent(of path: String) -> String? {
        if path.utf8.contains(0) { return nil }
        guard let slashIndex = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        if slashIndex == path.utf8.startIndex { return "/" }
        return String(path[..<slashIndex])
    }

    /// The last component of a path (after the final "/").
    public static func lastComponent(of path: String) -> Substring {
        guard let slashIndex = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return Substring(path) }
        return path[path.utf8.index(after: slashIndex)...]
    }

    /// Joins a parent path and a child name.
    public static func join(_ parent: String, _ child: some StringProtocol) -> String {
        parent == "/" ? "/" + child : parent + "/" + child
    }

    /// Java's `String.format("%010d", v)`: zero-padded to width 10, sign included in the width.
    public static func sequenceSuffix(_ v: Int32) -> String {
        let magnitude = String(v.magnitude)
        let width = v < 0 ? 9 : 10
        let padded = String(repeating: "0", count: max(0, width - magnitude.count)) + magnitude
        return v < 0 ? "-" + padded : padded
    }

    private static let slash = UInt16(UInt8(ascii: "/"))
    private static let dot = UInt16(UInt8(ascii: "."))
}
