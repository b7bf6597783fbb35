import WarrenJute
import WarrenZab

/// The ensemble's membership as ZooKeeper's dynamic configuration holds it: one `server.N=` line per member and
/// the version, the zxid of the reconfig that made it (0 for a membership that came from zoo.cfg). Its text is
/// what `/zookeeper/config` holds and what `dynamicConfigFile` files contain, in ZooKeeper's format:
///
///     server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181
///     version=100000004
///
/// (version in hex). A reconfig entry is a setData of `/zookeeper/config` with the new text, so the membership
/// travels in the replicated log and in snapshots like any znode.
public struct DynamicConfig: Equatable, Sendable {
    /// Sorted by id, ids unique.
    public private(set) var servers: [PeerConfig]
    public var version: Int64

    public init(servers: [PeerConfig], version: Int64) {
        self.servers = servers.sorted { $0.id < $1.id }
        self.version = version
        precondition(Set(servers.map(\.id)).count == servers.count, "duplicate server ids in \(servers)")
    }

    public var members: [ServerId: MemberRole] {
        Dictionary(uniqueKeysWithValues: servers.map { ($0.id, $0.isObserver ? MemberRole.observer : .participant) })
    }

    public var text: String {
        servers.map { "server.\($0.id)=\($0.dynamicValue)\n" }.joined() + "version=\(String(version, radix: 16))"
    }

    /// Parses `text` (server lines and an optional `version=` line in hex; blank lines and `#` comments skipped).
    public static func parse(_ text: String, source: String = "dynamic config") throws -> DynamicConfig {
        var servers: [PeerConfig] = []
        var version: Int64 = 0
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = TextFormat.trimmed(raw)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let eq = line.firstIndex(of: "=") else { throw ConfigError("\(source):\(n + 1): expected key=value, got '\(line)'") }
            let key = String(TextFormat.trimmed(line[..<eq]))
            let value = String(TextFormat.trimmed(line[line.index(after: eq)...]))
            if key == "version" {
                guard let v = Int64(value, radix: 16) else { throw ConfigError("\(source):\(n + 1): version must be hex, got '\(value)'") }
                version = v
            } else if key.hasPrefix("server.") {
                servers.append(try PeerConfig.parse(key: key, value: value, line: n + 1, path: source))
            } else {
                throw ConfigError("\(source):\(n + 1): a dynamic configuration holds only server.N and version lines, got '\(key)'")
            }
        }
        guard Set(servers.map(\.id)).count == servers.count else { throw ConfigError("\(source): a server id is listed twice") }
        return DynamicConfig(servers: servers, version: version)
    }

    /// The membership a `reconfig` request asks for: the incremental form (`joining` server lines, added or
    /// replacing a member's line — a role change; `leaving` ids) or the bulk form (`newMembers`, the whole list).
    /// The version is left as is (the caller sets the reconfig's zxid).
    /// - Throws: `ErrorCode.badArguments` for a malformed or contradictory request, or one that changes nothing.
    public func applying(joining: String?, leaving: String?, newMembers: String?) throws(ErrorCode) -> DynamicConfig {
        func lines(_ list: String) throws(ErrorCode) -> [PeerConfig] {
            var out: [PeerConfig] = []
            for item in list.split(separator: ",").map({ TextFormat.trimmed($0) }) where !item.isEmpty {
                guard let eq = item.firstIndex(of: "="), item.hasPrefix("server."),
                      let peer = try? PeerConfig.parse(key: String(item[..<eq]), value: String(item[item.index(after: eq)...]),
                                                            line: 1, path: "reconfig") else { throw .badArguments }
                out.append(peer)
            }
            return out
        }
        let bulk = newMembers.map { !$0.isEmpty } ?? false
        let incremental = (joining.map { !$0.isEmpty } ?? false) || (leaving.map { !$0.isEmpty } ?? false)
        guard bulk != incremental else { throw .badArguments }
        var next: [ServerId: PeerConfig]
        if bulk {
            next = [:]
            for p in try lines(newMembers!) {
                guard next[p.id] == nil else { throw .badArguments }
                next[p.id] = p
            }
        } else {
            next = Dictionary(uniqueKeysWithValues: servers.map { ($0.id, $0) })
            let leavingIds = try (leaving ?? "").split(separator: ",").map { item throws(ErrorCode) -> ServerId in
                guard let id = ServerId(TextFormat.trimmed(item)) else { throw .badArguments }
                return id
            }
            let joiningPeers = try lines(joining ?? "")
            guard Set(leavingIds).isDisjoint(with: joiningPeers.map(\.id)) else { throw .badArguments }
            for id in leavingIds {
                guard next.removeValue(forKey: id) != nil else { throw .badArguments }
            }
            for p in joiningPeers { next[p.id] = p }
        }
        let result = DynamicConfig(servers: Array(next.values), version: version)
        // Compared as written: "2181" and "0.0.0.0:2181" are the same client address.
        guard result.text != text, result.members.values.contains(.participant) else { throw .badArguments }
        return result
    }
}

package extension PeerConfig {
    /// The value of this server's `server.N=` line in ZooKeeper's dynamic format (role and client address always
    /// written).
    public var dynamicValue: String {
        var v = "\(host):\(quorumPort):\(electionPort):\(isObserver ? "observer" : "participant")"
        if let clientPort { v += ";\(clientHost ?? "0.0.0.0"):\(clientPort)" }
        return v
    }
}
