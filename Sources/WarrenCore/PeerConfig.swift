/// A fault in the configuration file: what is wrong and where, so an operator can fix it without reading code.
public struct ConfigError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One `server.N=host:quorumPort:electionPort[:participant|observer][;clientAddr:clientPort]` line.
public struct PeerConfig: Equatable, Sendable {
    public var id: Int64
    public var host: String
    public var quorumPort: Int
    public var electionPort: Int
    public var isObserver: Bool
    public var clientHost: String?
    public var clientPort: Int?

    public init(id: Int64, host: String, quorumPort: Int, electionPort: Int, isObserver: Bool,
                clientHost: String? = nil, clientPort: Int? = nil) {
        self.id = id
        self.host = host
        self.quorumPort = quorumPort
        self.electionPort = electionPort
        self.isObserver = isObserver
        self.clientHost = clientHost
        self.clientPort = clientPort
    }
}

package extension PeerConfig {
    /// Parses one `server.N=` line (`key` is `server.N`); `line` and `path` name it in errors.
    public static func parse(key: String, value: String, line: Int, path: String?) throws -> PeerConfig {
        let loc = "\(path ?? "zoo.cfg"):\(line)"
        guard let id = Int64(key.dropFirst("server.".count)) else { throw ConfigError("\(loc): bad server id in \(key)") }
        let parts = value.split(separator: ";", maxSplits: 1).map(String.init)
        // An empty value splits into no parts at all; it is refused below like any value without the ports.
        let fields = (parts.first ?? "").split(separator: ":").map(String.init)
        guard fields.count >= 3, let q = Int(fields[1]), let e = Int(fields[2]) else {
            throw ConfigError("\(loc): expected host:quorumPort:electionPort[:observer], got '\(value)'")
        }
        var peer = PeerConfig(
            id: id, host: fields[0], quorumPort: q, electionPort: e, isObserver: fields.count > 3 && fields[3] == "observer",
            clientHost: nil, clientPort: nil)
        if parts.count > 1 {
            let client = parts[1].split(separator: ":").map(String.init)
            if client.count == 2 {
                peer.clientHost = client[0]
                peer.clientPort = Int(client[1])
            } else if client.count == 1 {
                peer.clientPort = Int(client[0])
            }
        }
        return peer
    }
}
