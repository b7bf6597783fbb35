import Foundation
import WarrenClient
import WarrenJute

/// A protected sequential node, as Curator's `withProtection()` makes them: `<parent>/_c_<uuid>-<marker><seq>`.
///
/// The `_c_<uuid>-` prefix lets a creator whose create reply was lost with the connection find its node again,
/// instead of leaving an orphan contender that would block everyone until the session ends.
struct ContenderNode: Sendable {
    /// The full path of the node created.
    let path: String
    /// Its name under the parent.
    let name: String

    /// Curator's protection prefix.
    static let protectionPrefix = "_c_"

    /// Creates the node (and missing ancestors of `parent`) and returns it.
    static func create(
        client: ZooKeeperClient, parent: String, marker: String, data: [UInt8],
        mode: CreateMode = .ephemeralSequential
    ) async throws -> ContenderNode {
        let prefix = protectionPrefix + UUID().uuidString.lowercased() + "-"
        let base = childPath(parent, prefix + marker)
        var attempted = false
        return try await Retrying.run {
            // After a create whose reply was lost, look for our prefix before creating again.
            if attempted, let found = try await existing(client: client, parent: parent, prefix: prefix) {
                return ContenderNode(path: childPath(parent, found), name: found)
            }
            attempted = true
            let created = try await client.creatingParents(of: base) {
                try await client.create(base, data: data, mode: mode)
            }
            return ContenderNode(path: created, name: String(created.split(separator: "/").last ?? ""))
        }
    }

    private static func existing(client: ZooKeeperClient, parent: String, prefix: String) async throws -> String? {
        do {
            return try await client.getChildren(parent).first { $0.hasPrefix(prefix) }
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// Deletes the node; one already gone (session ended, someone removed it) is fine.
    func delete(client: ZooKeeperClient) async throws {
        try await client.deleteIfExists(path)
    }
}
