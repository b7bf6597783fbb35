import WarrenClient
import WarrenJute

/// A FIFO queue in the layout of Curator's `DistributedQueue`: items are persistent sequential nodes
/// `<path>/queue-<seq>` whose data is Curator's item envelope (`QueueItemCodec`), so Java producers and consumers
/// can share a queue with Swift ones.
///
/// Contract: `take` removes the lowest item with a delete; whoever's delete succeeds owns it, so each item goes to
/// exactly one consumer. An item is gone from ZooKeeper before `take` returns it (at most once, as Curator's queue
/// without a lock path): a consumer that dies after `take` loses it. A node carrying several items (Curator's
/// `putMulti`) is returned in order by successive `take`s from this instance.
public actor DistributedQueue {
    static let prefix = "queue-"

    public nonisolated let path: String
    nonisolated let client: ZooKeeperClient
    private var pending: [[UInt8]] = []

    public init(client: ZooKeeperClient, path: String) {
        self.client = client
        self.path = path
    }

    /// Appends `item`; returns the node created.
    @discardableResult
    public func put(_ item: [UInt8]) async throws -> String {
        let base = childPath(path, Self.prefix)
        let data = QueueItemCodec.encode([item])
        // Not retried on connection loss: a sequential create that did happen would be put twice.
        return try await client.creatingParents(of: base) {
            try await client.create(base, data: data, mode: .persistentSequential)
        }
    }

    /// Removes and returns the oldest item, waiting at most `timeoutMs` (nil: without limit) for one; nil on
    /// timeout.
    public func take(timeoutMs: Int64? = nil) async throws -> [UInt8]? {
        if !pending.isEmpty { return pending.removeFirst() }
        let deadline = timeoutMs.map(Deadline.after(ms:))
        try await client.createPath(path)
        while true {
            let events = client.watchEvents(path: path)
            let children = try await Retrying.run(until: deadline) { try await client.getChildren(path, watch: true) }
            let items = children.filter { $0.hasPrefix(Self.prefix) }.sorted()
            for name in items {
                if let taken = try await takeNode(childPath(path, name)) {
                    pending = Array(taken.dropFirst())
                    if let first = taken.first { return first }
                }
            }
            switch try await waitForWake(events, until: deadline) {
            case .event: continue
            case .timedOut: return nil
            case .clientStopped: throw RecipeError.sessionLost
            }
        }
    }

    /// The items of `nodePath` if our delete of it won; nil if another consumer took it first.
    private func takeNode(_ nodePath: String) async throws -> [[UInt8]]? {
        do {
            let (data, stat) = try await client.getData(nodePath)
            try await client.delete(nodePath, version: stat.version)
            guard let items = QueueItemCodec.decode(data ?? []) else {
                throw RecipeError.malformedData(path: nodePath, reason: "not a Curator queue item envelope")
            }
            return items
        } catch let error as ZooKeeperError where error.code == .noNode || error.code == .badVersion {
            return nil
        }
    }

    /// How many items wait in ZooKeeper (not counting ones this instance already took).
    public func count() async throws -> Int {
        let children = try await Retrying.run { try await client.getChildren(path) }
        return children.filter { $0.hasPrefix(Self.prefix) }.count
    }
}
