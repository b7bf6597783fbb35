import WarrenClient
import WarrenJute

/// Group membership in the layout of Curator's `GroupMember`: each member is an ephemeral node
/// `<path>/<memberId>` holding its payload. Membership ends with `leave` or with the member's session.
public final class GroupMember: Sendable {
    public let path: String
    public let memberId: String
    let client: ZooKeeperClient
    let payload: [UInt8]
    /// Children read at most per snapshot, so that one membership read stays bounded.
    public static let membersMax = 100_000

    public init(client: ZooKeeperClient, path: String, memberId: String, payload: [UInt8] = []) {
        self.client = client
        self.path = path
        self.memberId = memberId
        self.payload = payload
    }

    var ourPath: String { childPath(path, memberId) }

    /// Joins the group. A node of that id left by an earlier session of ours is replaced.
    public func join() async throws {
        let (ourPath, payload, client) = (self.ourPath, self.payload, self.client)
        try await client.creatingParents(of: ourPath) {
            do {
                try await client.create(ourPath, data: payload, mode: .ephemeral)
            } catch let error as ZooKeeperError where error.code == .nodeExists {
                try await client.deleteIfExists(ourPath)
                try await client.create(ourPath, data: payload, mode: .ephemeral)
            }
        }
    }

    /// Leaves the group (deletes our node).
    public func leave() async throws { try await client.deleteIfExists(ourPath) }

    /// The members now: id → payload.
    public func members() async throws -> [String: [UInt8]] { try await Self.read(client, path, watch: false) }

    /// Membership snapshots, kept current; `start()` it, read `updates()`, `stop()` it.
    public func memberships() -> WatchedValue<[String: [UInt8]]> {
        let path = self.path
        return WatchedValue(client: client, path: path) { client in try await Self.read(client, path, watch: true) }
    }

    static func read(_ client: ZooKeeperClient, _ path: String, watch: Bool) async throws -> [String: [UInt8]] {
        let names: [String]
        do {
            names = try await client.getChildren(path, watch: watch)
        } catch let error as ZooKeeperError where error.code == .noNode {
            // Created so that the child watch has a node to sit on; deleted again at once by someone else, the
            // second listing fails for the caller to retry.
            try await client.createPath(path)
            names = try await client.getChildren(path, watch: watch)
        }
        var members: [String: [UInt8]] = [:]
        for name in names.prefix(membersMax) {
            // A member that left between the listing and this read is simply not counted.
            if let data = try? await client.getData(childPath(path, name)).data { members[name] = data }
        }
        return members
    }
}
