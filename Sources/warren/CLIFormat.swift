import Foundation
import WarrenClient
import WarrenJute

/// Text formats of `warren cli`, matching ZooKeeper's zkCli.sh.
enum CLIFormat {
    /// A `Stat` as zkCli prints it: one `name = value` line per field, in zkCli's order.
    static func stat(_ s: Stat) -> String {
        [
            "cZxid = \(hex(s.czxid))",
            "ctime = \(date(s.ctime))",
            "mZxid = \(hex(s.mzxid))",
            "mtime = \(date(s.mtime))",
            "pZxid = \(hex(s.pzxid))",
            "cversion = \(s.cversion)",
            "dataVersion = \(s.version)",
            "aclVersion = \(s.aversion)",
            "ephemeralOwner = \(hex(s.ephemeralOwner))",
            "dataLength = \(s.dataLength)",
            "numChildren = \(s.numChildren)",
        ].joined(separator: "\n")
    }

    static func hex(_ v: Int64) -> String { "0x" + String(UInt64(bitPattern: v), radix: 16) }

    /// Milliseconds since the epoch in Java's `Date.toString()` form: `Wed Nov 25 04:36:22 UTC 2026`.
    static func date(_ ms: Int64) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone.current
        formatter.dateFormat = "EEE MMM dd HH:mm:ss"
        let when = Date(timeIntervalSince1970: Double(ms) / 1000)
        let zoneFormatter = DateFormatter()
        zoneFormatter.locale = formatter.locale
        zoneFormatter.timeZone = formatter.timeZone
        zoneFormatter.dateFormat = "yyyy"
        var zone = TimeZone.current.abbreviation(for: when) ?? "UTC"
        if zone == "GMT" && TimeZone.current.secondsFromGMT(for: when) == 0 { zone = "UTC" }
        return "\(formatter.string(from: when)) \(zone) \(zoneFormatter.string(from: when))"
    }

    /// A Java `List.toString()`: `[a, b]`.
    static func list(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }

    /// zkCli's permission letters, in its order: `cdrwa`.
    static func perms(_ p: Perms) -> String {
        var s = ""
        if p.contains(.create) { s += "c" }
        if p.contains(.delete) { s += "d" }
        if p.contains(.read) { s += "r" }
        if p.contains(.write) { s += "w" }
        if p.contains(.admin) { s += "a" }
        return s
    }

    /// An ACL list as getAcl prints it: `'world,'anyone` then `: cdrwa`, per entry.
    static func acl(_ acl: [ACL]) -> String {
        acl.map { "'\($0.id.scheme),'\($0.id.id)\n: \(perms($0.perms))" }.joined(separator: "\n")
    }

    /// Parses `scheme:id:perms[,scheme:id:perms...]` (the id may itself contain colons, as digest ids do).
    /// Returns nil if any entry is malformed.
    static func parseACL(_ text: String) -> [ACL]? {
        var out: [ACL] = []
        for entry in text.split(separator: ",") {
            guard let first = entry.firstIndex(of: ":"), let last = entry.lastIndex(of: ":"), first < last else {
                return nil
            }
            let scheme = String(entry[..<first])
            let id = String(entry[entry.index(after: first)..<last])
            guard let perms = parsePerms(entry[entry.index(after: last)...]) else { return nil }
            out.append(ACL(perms: perms, id: Id(scheme: scheme, id: id)))
        }
        return out.isEmpty ? nil : out
    }

    static func parsePerms<S: StringProtocol>(_ text: S) -> Perms? {
        var p: Perms = []
        for c in text {
            switch c {
            case "r": p.insert(.read)
            case "w": p.insert(.write)
            case "c": p.insert(.create)
            case "d": p.insert(.delete)
            case "a": p.insert(.admin)
            default: return nil
            }
        }
        return p
    }

    /// zkCli's wording of a failed command.
    static func error(_ error: Error) -> String {
        guard let e = error as? ZooKeeperError else { return "\(error)" }
        let path = e.path ?? ""
        switch e.code {
        case .noNode: return "Node does not exist: \(path)"
        case .noChildrenForEphemerals: return "Ephemerals cannot have children: \(path)"
        case .nodeExists: return "Node already exists: \(path)"
        case .notEmpty: return "Node not empty: \(path)"
        case .notReadOnly: return "Not a read-only call: \(path)"
        case .invalidACL: return "Acl is not valid : \(path)"
        case .noAuth: return "Insufficient permission : \(path)"
        case .badVersion: return "version No is not valid : \(path)"
        case .badArguments:
            if let message = e.message { return message }
            return "Arguments are not valid : \(path)"
        default: return e.description
        }
    }
}
