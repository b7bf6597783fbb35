import Foundation
import WarrenClient

/// A value derived from ZooKeeper that stays current: `read` (which must leave a watch on `path`) runs again
/// after every watch event on `path`, and every value that differs from the last is published.
///
/// The base of `NodeValue` (config watch), `GroupMember.memberships()` and `ServiceDiscovery.instanceUpdates`.
public final class WatchedValue<Value: Equatable & Sendable>: Sendable {
    public let path: String
    let client: ZooKeeperClient
    let read: @Sendable (ZooKeeperClient) async throws -> Value
    private let values = Broadcast<Value>(replayLast: true)
    private let runner = TaskBox()

    init(client: ZooKeeperClient, path: String, read: @escaping @Sendable (ZooKeeperClient) async throws -> Value) {
        self.client = client
        self.path = path
        self.read = read
    }

    deinit { runner.cancel() }

    /// Reads the first value and keeps it current from then on; returns the first value. Call it once.
    @discardableResult
    public func start() async throws -> Value {
        let events = client.watchEvents(path: path)
        let first = try await Retrying.run { try await read(client) }
        values.yield(first)
        runner.set(Task { [weak self] in await self?.follow(events, last: first) })
        return first
    }

    /// The current value first, then every change. Ends when `stop` is called or the session ends.
    public func updates() -> AsyncStream<Value> { values.stream() }

    /// Stops following; the update streams end.
    public func stop() {
        runner.cancel()
        values.finish()
    }

    private func follow(_ first: AsyncStream<WatchEvent>, last: Value) async {
        var events = first
        var last = last
        while !Task.isCancelled {
            guard let wake = try? await waitForWake(events, until: nil), wake == .event else { break }
            // A fresh subscription before the read that sets the next watch.
            events = client.watchEvents(path: path)
            let value: Value
            do {
                value = try await Retrying.run { try await read(client) }
            } catch {
                break
            }
            if value != last {
                last = value
                values.yield(value)
            }
        }
        values.finish()
    }
}

/// A task handle that can be set and cancelled from any thread.
final class TaskBox: @unchecked Sendable {
    private let lock = NSLock()
    private var task: Task<Void, Never>?

    func set(_ new: Task<Void, Never>) { lock.withLock { task = new } }

    func cancel() { lock.withLock { task }?.cancel() }
}


/// The latest data of one znode (nil while it does not exist), with change notifications: a config watch, as
/// Curator's `NodeCache`. Deleting and re-creating the node is seen; changes faster than a read round trip may be
/// coalesced into the latest value.
public final class NodeValue: Sendable {
    public let watched: WatchedValue<[UInt8]?>

    public init(client: ZooKeeperClient, path: String) {
        watched = WatchedValue(client: client, path: path) { client in try await NodeValue.read(client, path) }
    }

    /// The data now (nil: no node) and keeps following it.
    @discardableResult
    public func start() async throws -> [UInt8]? { try await watched.start() }

    /// The current data first, then every change.
    public func updates() -> AsyncStream<[UInt8]?> { watched.updates() }

    public func stop() { watched.stop() }

    static func read(_ client: ZooKeeperClient, _ path: String) async throws -> [UInt8]? {
        // A data watch if the node exists, an exists watch if not; a node created between the two is read again.
        for _ in 0..<Retrying.attemptsMax {
            do {
                return try await client.getData(path, watch: true).data ?? []
            } catch let error as ZooKeeperError where error.code == .noNode {
                if try await client.exists(path, watch: true) == nil { return nil }
            }
        }
        throw RecipeError.limitReached("node \(path) appearing and vanishing \(Retrying.attemptsMax) times")
    }
}
