/// Parsing of ZooKeeper connect strings and the chroot that may end them.

/// One server address of a connect string.
public struct HostAndPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A parsed connect string: `"h1:2181,h2:2181/app"` is two hosts and the chroot `/app`.
public struct ConnectString: Hashable, Sendable, CustomStringConvertible {
    public static let defaultPort = 2181

    public var hosts: [HostAndPort]
    /// The chroot every path is relative to, or nil for none. Never "/" and never ends with "/".
    public var chroot: String?

    public init(hosts: [HostAndPort], chroot: String? = nil) {
        self.hosts = hosts
        self.chroot = chroot
    }

    /// Parses `host[:port][,host[:port]]...[/chroot]`. IPv6 hosts are written in brackets (`[::1]:2181`). A port
    /// left out is 2181. A chroot of "/" means none.
    /// - Throws: `ZooKeeperError` with `badArguments` for an empty host list, a bad port or an invalid chroot.
    public init(parsing text: String) throws {
        var hostPart = Substring(text)
        var chroot: String?
        if let slash = text.firstIndex(of: "/") {
            hostPart = text[..<slash]
            let root = String(text[slash...])
            if root != "/" {
                try validatePath(root)
                chroot = root
            }
        }
        var hosts: [HostAndPort] = []
        for entry in hostPart.split(separator: ",", omittingEmptySubsequences: true) {
            let item = entry.trimmingSpaces()
            if item.isEmpty { continue }
            hosts.append(try Self.parseHost(item, in: text))
        }
        if hosts.isEmpty {
            throw ZooKeeperError(.badArguments, message: "connect string '\(text)' names no host")
        }
        self.init(hosts: hosts, chroot: chroot)
    }

    private static func parseHost(_ item: Substring, in text: String) throws -> HostAndPort {
        var host: Substring
        var portText: Substring?
        if item.hasPrefix("[") {
            guard let close = item.firstIndex(of: "]") else {
                throw ZooKeeperError(.badArguments, message: "unterminated IPv6 address in '\(text)'")
            }
            host = item[item.index(after: item.startIndex)..<close]
            let rest = item[item.index(after: close)...]
            if rest.hasPrefix(":") { portText = rest.dropFirst() } else if !rest.isEmpty {
                throw ZooKeeperError(.badArguments, message: "bad address '\(item)' in '\(text)'")
            }
        } else if let colon = item.lastIndex(of: ":") {
            host = item[..<colon]
            portText = item[item.index(after: colon)...]
        } else {
            host = item
        }
        var port = defaultPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw ZooKeeperError(.badArguments, message: "bad port in '\(item)' of '\(text)'")
            }
            port = p
        }
        if host.isEmpty { throw ZooKeeperError(.badArguments, message: "empty host in '\(text)'") }
        return HostAndPort(host: String(host), port: port)
    }

    public var description: String {
        hosts.map(\.description).joined(separator: ",") + (chroot ?? "")
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return s
    }
}

/// Maps between the paths a caller sees and the paths the server sees.
struct Chroot: Sendable {
    let root: String?

    /// The server's path for a caller's path.
    func serverPath(_ clientPath: String) -> String {
        guard let root else { return clientPath }
        return clientPath == "/" ? root : root + clientPath
    }

    /// The caller's path for a server's path. A path outside the chroot (which a correct server never sends) is
    /// returned unchanged.
    func clientPath(_ serverPath: String) -> String {
        guard let root else { return serverPath }
        if serverPath == root { return "/" }
        if serverPath.hasPrefix(root + "/") { return String(serverPath.dropFirst(root.count)) }
        return serverPath
    }
}

/// Checks a znode path the way ZooKeeper's client does before sending it: absolute, no empty, "." or ".."
/// components, no trailing "/" (except the root itself, or the last character of a sequential node's prefix when
/// `isSequential`), no control or NUL characters.
/// - Throws: `ZooKeeperError` with `badArguments` and the path.
public func validatePath(_ path: String, isSequential: Bool = false) throws {
    func bad(_ why: String) -> ZooKeeperError {
        ZooKeeperError(.badArguments, path: path, message: "Invalid path string \"\(path)\" caused by \(why)")
    }
    guard !path.isEmpty else { throw bad("path length must be > 0") }
    guard path.first == "/" else { throw bad("path must start with / character") }
    if path == "/" { return }
    let body = isSequential && path.hasSuffix("/") ? String(path.dropLast()) : path
    if body.hasSuffix("/") { throw bad("path must not end with / character") }
    for component in body.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
        if component.isEmpty { throw bad("empty node name specified") }
        if component == "." || component == ".." { throw bad("relative paths not allowed") }
    }
    for scalar in path.unicodeScalars {
        let v = scalar.value
        if v == 0 { throw bad("null character not allowed") }
        if (0x01...0x1f).contains(v) || (0x7f...0x9f).contains(v) || (0xd800...0xf8ff).contains(v)
            || (0xfff0...0xffff).contains(v)
        {
            throw bad("invalid character @\(v)")
        }
    }
}
