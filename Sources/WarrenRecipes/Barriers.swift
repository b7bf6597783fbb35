import Foundation
import WarrenClient
import WarrenJute

/// Curator's `DistributedBarrier`: the barrier is up while the node at `path` exists; waiters block until it is
/// removed.
public struct DistributedBarrier: Sendable {
    public let path: String
    let client: ZooKeeperClient

    public init(client: ZooKeeperClient, path: String) {
        self.client = client
        self.path = path
    }

    /// Raises the barrier (creates the node and missing ancestors); raising a raised barrier is fine.
    public func set() async throws { try await client.createPath(path) }

    /// Lowers the barrier, releasing every waiter.
    public func remove() async throws { try await client.deleteIfExists(path) }

    /// Waits until the barrier is down, at most `timeoutMs` (nil: without limit); false on timeout.
    public func wait(timeoutMs: Int64? = nil) async throws -> Bool {
        let deadline = timeoutMs.map(Deadline.after(ms:))
        while true {
            switch try await awaitChange(of: path, client: client, until: deadline) {
            case .absent: return true
            case .changed: continue
            case .timedOut: return false
            }
        }
    }
}

/// Curator's `DistributedDoubleBarrier` (ZooKeeper's classic double barrier): members are ephemeral nodes
/// `<path>/<uuid>`; the member that sees `memberCount` of them creates `<path>/ready`, which lets everyone in.
/// Leaving, the lowest member waits for the highest to go and every other member deletes its node and waits for
/// the lowest, so nobody leaves before all have arrived at `leave`; the last one out deletes `ready`.
///
/// One instance is one member for one round; make a new instance for the next round.
public actor DoubleBarrier {
    static let readyName = "ready"

    public nonisolated let path: String
    public nonisolated let memberCount: Int
    nonisolated let client: ZooKeeperClient
    nonisolated let ourName = UUID().uuidString.lowercased()
    private var ourPathRemoved = false

    public init(client: ZooKeeperClient, path: String, memberCount: Int) {
        precondition(memberCount > 0, "memberCount \(memberCount) must be positive")
        self.client = client
        self.path = path
        self.memberCount = memberCount
    }

    var ourPath: String { childPath(path, ourName) }
    var readyPath: String { childPath(path, Self.readyName) }

    /// Joins and waits until `memberCount` members have joined, at most `timeoutMs` (nil: without limit).
    /// - Returns: false on timeout (our member node stays; call `leave` to remove it).
    public func enter(timeoutMs: Int64? = nil) async throws -> Bool {
        let deadline = timeoutMs.map(Deadline.after(ms:))
        let readyEvents = client.watchEvents(path: readyPath)
        let readyAlready = try await Retrying.run(until: deadline) { try await client.exists(readyPath, watch: true) }
        try await client.creatingParents(of: ourPath) {
            try await Retrying.run(until: deadline) {
                do {
                    try await client.create(ourPath, data: [], mode: .ephemeral)
                } catch let error as ZooKeeperError where error.code == .nodeExists {
                }
            }
        }
        if readyAlready != nil { return true }
        let children = try await Retrying.run(until: deadline) { try await client.getChildren(path) }
        if children.filter({ $0 != Self.readyName }).count >= memberCount {
            try await Retrying.run(until: deadline) {
                do {
                    try await client.create(readyPath)
                } catch let error as ZooKeeperError where error.code == .nodeExists {
                }
            }
            return true
        }
        switch try await waitForWake(readyEvents, until: deadline) {
        case .event: return true
        case .timedOut: return false
        case .clientStopped: throw RecipeError.sessionLost
        }
    }

    /// Waits until every member has left, at most `timeoutMs` (nil: without limit); false on timeout.
    public func leave(timeoutMs: Int64? = nil) async throws -> Bool {
        let deadline = timeoutMs.map(Deadline.after(ms:))
        while true {
            let children = try await Retrying.run(until: deadline) { try await client.getChildren(path) }
            let step = DoubleBarrierLeave.next(members: children.filter { $0 != Self.readyName }.sorted(),
                                               ours: ourName, ourNodeRemoved: ourPathRemoved)
            let watched: String
            switch step {
            case .done:
                try await client.deleteIfExists(readyPath)
                return true
            case .deleteOurs:
                try await deleteOurs()
                continue
            case let .wait(member):
                watched = member
            case let .deleteOursAndWait(member):
                try await deleteOurs()
                watched = member
            case .missing:
                throw RecipeError.nodeMissing(ourPath)
            }
            if try await awaitChange(of: childPath(path, watched), client: client, until: deadline) == .timedOut {
                return false
            }
        }
    }

    private func deleteOurs() async throws {
        try await client.deleteIfExists(ourPath)
        ourPathRemoved = true
    }
}

/// The leaving rule of the double barrier, as a pure function of the members (sorted, `ready` excluded).
public enum DoubleBarrierLeave: Equatable, Sendable {
    /// Everyone is gone.
    case done
    /// Only we are left: delete our node, then look again.
    case deleteOurs
    /// We are lowest: wait for this member (the highest) to go.
    case wait(String)
    /// Delete our node and wait for this member (the lowest) to go.
    case deleteOursAndWait(String)
    /// Our node is gone but others are still here and we never deleted it.
    case missing

    public static func next(members: [String], ours: String, ourNodeRemoved: Bool) -> DoubleBarrierLeave {
        guard let lowest = members.first, let highest = members.last else { return .done }
        guard let index = members.firstIndex(of: ours) else {
            return ourNodeRemoved ? .wait(lowest) : .missing
        }
        if members.count == 1 { return .deleteOurs }
        return index == 0 ? .wait(highest) : .deleteOursAndWait(lowest)
    }
}
