import WarrenCore
import Foundation

/// ZooKeeper's on-disk layout for a reconfigured membership: the server list in `<zoo.cfg>.dynamic.<version>`
/// (version in hex) and zoo.cfg naming it with `dynamicConfigFile=` instead of holding server lines.
enum DynamicConfigFiles {
    static func path(for membership: DynamicConfig, zooCfg: String) -> String {
        "\(zooCfg).dynamic.\(String(membership.version, radix: 16))"
    }

    /// Writes the dynamic file, then zoo.cfg (each to a temporary file, fsynced, renamed over the old one) so a
    /// crash leaves either the old pair or a zoo.cfg naming a complete new file. Other zoo.cfg lines are kept as
    /// they were, in order.
    static func write(_ membership: DynamicConfig, zooCfg: String) throws {
        let dynamicPath = path(for: membership, zooCfg: zooCfg)
        try ServerStorage.writeDurably(dynamicPath, membership.servers.map { "server.\($0.id)=\($0.dynamicValue)\n" }.joined())
        guard let data = FileManager.default.contents(atPath: zooCfg) else { throw ConfigError("cannot read \(zooCfg)") }
        // As ZooKeeper does, the operator's original file is kept once, before the first rewrite.
        if !FileManager.default.fileExists(atPath: zooCfg + ".bak") {
            try ServerStorage.writeDurably(zooCfg + ".bak", String(decoding: data, as: UTF8.self))
        }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeAll { line in
            let key = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            return key.hasPrefix("server.") || key == "dynamicConfigFile"
        }
        while lines.last == "" { lines.removeLast() }
        lines.append("dynamicConfigFile=\(dynamicPath)")
        try ServerStorage.writeDurably(zooCfg, lines.joined(separator: "\n") + "\n")
    }
}
