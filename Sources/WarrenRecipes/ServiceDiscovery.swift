import Foundation
import WarrenClient
import WarrenJute

/// One registered instance of a service, as Curator's `ServiceInstance` serializes it to JSON (its
/// `JsonInstanceSerializer`): `name`, `id`, `address`, `port`, `sslPort`, `payload`, `registrationTimeUTC`
/// (milliseconds since the epoch), `serviceType`, `uriSpec`. The payload is a JSON string here; a payload of
/// another JSON type from a Java registrant decodes as nil. `uriSpec` is written as null and ignored on read.
public struct ServiceInstance: Codable, Equatable, Sendable {
    /// Curator's `ServiceType`: how the node is created.
    public enum ServiceType: String, Codable, Sendable {
        /// Ephemeral: gone with the session.
        case dynamic = "DYNAMIC"
        case dynamicSequential = "DYNAMIC_SEQUENTIAL"
        /// Persistent.
        case `static` = "STATIC"
        case permanent = "PERMANENT"

        var createMode: CreateMode {
            switch self {
            case .dynamic: return .ephemeral
            case .dynamicSequential: return .ephemeralSequential
            case .static, .permanent: return .persistent
            }
        }
    }

    public var name: String
    public var id: String
    public var address: String?
    public var port: Int?
    public var sslPort: Int?
    public var payload: String?
    public var registrationTimeUTC: Int64
    public var serviceType: ServiceType

    public init(
        name: String, id: String = UUID().uuidString.lowercased(), address: String? = nil, port: Int? = nil,
        sslPort: Int? = nil, payload: String? = nil, serviceType: ServiceType = .dynamic,
        registrationTimeUTC: Int64 = Int64(Date().timeIntervalSince1970 * 1000)
    ) {
        self.name = name
        self.id = id
        self.address = address
        self.port = port
        self.sslPort = sslPort
        self.payload = payload
        self.registrationTimeUTC = registrationTimeUTC
        self.serviceType = serviceType
    }

    enum CodingKeys: String, CodingKey {
        case name, id, address, port, sslPort, payload, registrationTimeUTC, serviceType, uriSpec
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        id = try c.decode(String.self, forKey: .id)
        address = try c.decodeIfPresent(String.self, forKey: .address)
        port = try c.decodeIfPresent(Int.self, forKey: .port)
        sslPort = try c.decodeIfPresent(Int.self, forKey: .sslPort)
        payload = try? c.decodeIfPresent(String.self, forKey: .payload)
        registrationTimeUTC = try c.decodeIfPresent(Int64.self, forKey: .registrationTimeUTC) ?? 0
        serviceType = try c.decodeIfPresent(ServiceType.self, forKey: .serviceType) ?? .dynamic
    }

    /// Every key, nulls included, in Curator's order.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(id, forKey: .id)
        try encodeOrNull(address, .address, &c)
        try encodeOrNull(port, .port, &c)
        try encodeOrNull(sslPort, .sslPort, &c)
        try encodeOrNull(payload, .payload, &c)
        try c.encode(registrationTimeUTC, forKey: .registrationTimeUTC)
        try c.encode(serviceType, forKey: .serviceType)
        try c.encodeNil(forKey: .uriSpec)
    }

    private func encodeOrNull<T: Encodable>(
        _ value: T?, _ key: CodingKeys, _ c: inout KeyedEncodingContainer<CodingKeys>
    ) throws {
        if let value { try c.encode(value, forKey: key) } else { try c.encodeNil(forKey: key) }
    }
}

/// Service registration and discovery in the layout of Curator's `ServiceDiscovery`: an instance is the node
/// `<basePath>/<service name>/<instance id>` holding `ServiceInstance` JSON, ephemeral for `.dynamic` instances.
///
/// Contract: a dynamic registration lasts as long as the session; after expiry (the client is gone) register
/// again with a new client. Instances whose data cannot be decoded are left out of queries.
public final class ServiceDiscovery: Sendable {
    public let basePath: String
    let client: ZooKeeperClient

    public init(client: ZooKeeperClient, basePath: String) {
        self.client = client
        self.basePath = basePath
    }

    func instancePath(_ name: String, _ id: String) -> String { childPath(childPath(basePath, name), id) }

    /// Registers (or re-registers) `instance`; a node of the same id is replaced, as Curator does.
    public func register(_ instance: ServiceInstance) async throws {
        let path = instancePath(instance.name, instance.id)
        let data = Array(try JSONEncoder().encode(instance))
        let (client, mode) = (self.client, instance.serviceType.createMode)
        try await client.creatingParents(of: path) {
            do {
                try await client.create(path, data: data, mode: mode)
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                try await client.deleteIfExists(path)
                try await client.create(path, data: data, mode: mode)
            }
        }
    }

    public func unregister(_ instance: ServiceInstance) async throws {
        try await client.deleteIfExists(instancePath(instance.name, instance.id))
    }

    /// The names of every registered service.
    public func serviceNames() async throws -> [String] {
        do {
            return try await client.getChildren(basePath).sorted()
        } catch let error as ZooKeeperError where error.code == .noNode {
            return []
        }
    }

    /// The instances of `name`, by id.
    public func instances(of name: String) async throws -> [ServiceInstance] {
        try await Self.read(client, childPath(basePath, name), watch: false)
    }

    /// The instances of `name`, kept current; `start()` it, read `updates()`, `stop()` it.
    public func instanceUpdates(of name: String) -> WatchedValue<[ServiceInstance]> {
        let path = childPath(basePath, name)
        return WatchedValue(client: client, path: path) { client in try await Self.read(client, path, watch: true) }
    }

    static func read(_ client: ZooKeeperClient, _ path: String, watch: Bool) async throws -> [ServiceInstance] {
        let members = try await GroupMember.read(client, path, watch: watch)
        return members.keys.sorted().compactMap { id in
            try? JSONDecoder().decode(ServiceInstance.self, from: Data(members[id] ?? []))
        }
    }
}
