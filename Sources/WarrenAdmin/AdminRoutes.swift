/// What one HTTP request asks for. Pure, so the routing rules are unit-tested without sockets.
public enum AdminRoute: Equatable, Sendable {
    case metrics
    /// The command index (ZooKeeper answers `/commands` with a page of links to every primary name).
    case commandIndex
    case command(String)
    case notFound
    /// A method other than GET or HEAD (ZooKeeper's servlet answers 405 to them).
    case methodNotAllowed

    /// Routes `method` and `uri` on a listener serving the command API (`commandURL`) and/or `/metrics`.
    public static func route(method: String, uri: String, commandURL: String?, metrics: Bool) -> AdminRoute {
        var path = Substring(uri)
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<q] }
        let isMetrics = metrics && path == "/metrics"
        var command: AdminRoute?
        if let base = commandURL {
            if path == base || path == base + "/" {
                command = .commandIndex
            } else if path.hasPrefix(base + "/") {
                let name = path.dropFirst(base.count + 1)
                command = name.contains("/") ? .notFound : .command(String(name))
            }
        }
        guard isMetrics || command != nil else { return .notFound }
        guard method == "GET" || method == "HEAD" else { return .methodNotAllowed }
        return isMetrics ? .metrics : command!
    }
}
