import WarrenJute

/// The five path lists of a SetWatches / SetWatches2 request (a reconnecting client re-registering its watches).
public struct WatchSet: Hashable, Sendable {
    public var data: [String]
    public var exist: [String]
    public var child: [String]
    public var persistent: [String]
    public var persistentRecursive: [String]

    public init(
        data: [String] = [], exist: [String] = [], child: [String] = [], persistent: [String] = [],
        persistentRecursive: [String] = []
    ) {
        self.data = data
        self.exist = exist
        self.child = child
        self.persistent = persistent
        self.persistentRecursive = persistentRecursive
    }
}

/// What `setWatches` needs to know about an existing node.
public struct NodeZxids: Hashable, Sendable {
    /// Zxid of the last change to the node's data (`Stat.mzxid`).
    public var mzxid: Int64
    /// Zxid of the last change to the node's children (`Stat.pzxid`).
    public var pzxid: Int64

    public init(mzxid: Int64, pzxid: Int64) {
        self.mzxid = mzxid
        self.pzxid = pzxid
    }
}

extension WatchManager {
    /// SetWatches request, with ZooKeeper's DataTree rules. For each one-shot watch, if what it watches already
    /// changed after `relativeZxid` (the last zxid the client saw), the event is returned instead of registering:
    /// - data: node missing → `nodeDeleted`; `mzxid > relativeZxid` → `nodeDataChanged`; else registered;
    /// - exist: node present → `nodeCreated`; else registered;
    /// - child: node missing → `nodeDeleted`; `pzxid > relativeZxid` → `nodeChildrenChanged`; else registered.
    /// Persistent and persistent-recursive watches are always registered.
    ///
    /// All or nothing: if the registrations would take `watcher` past `watchesPerWatcherMax`, nothing is registered
    /// and `WatchLimitExceeded` is thrown.
    ///
    /// - Parameter lookup: the node at a path, or nil if it doesn't exist.
    /// - Returns: events for `watcher`, in the order data, exist, child lists (each list in its given order); send
    ///   them before anything triggered later.
    public mutating func setWatches(
        _ watcher: WatcherID, relativeZxid: Int64, _ watches: WatchSet, lookup: (String) -> NodeZxids?
    ) throws -> [WatchedEvent] {
        var events: [WatchedEvent] = []
        var additions: [(path: String, kind: WatchKind)] = []
        for path in watches.data {
            if let node = lookup(path) {
                if node.mzxid > relativeZxid {
                    events.append(WatchedEvent(type: .nodeDataChanged, path: path))
                } else {
                    additions.append((path, .data))
                }
            } else {
                events.append(WatchedEvent(type: .nodeDeleted, path: path))
            }
        }
        for path in watches.exist {
            if lookup(path) != nil {
                events.append(WatchedEvent(type: .nodeCreated, path: path))
            } else {
                additions.append((path, .exist))
            }
        }
        for path in watches.child {
            if let node = lookup(path) {
                if node.pzxid > relativeZxid {
                    events.append(WatchedEvent(type: .nodeChildrenChanged, path: path))
                } else {
                    additions.append((path, .child))
                }
            } else {
                events.append(WatchedEvent(type: .nodeDeleted, path: path))
            }
        }
        additions += watches.persistent.map { ($0, .persistent) }
        additions += watches.persistentRecursive.map { ($0, .persistentRecursive) }

        // Work out the slots first so a refusal leaves everything as it was.
        var planned: [String: WatchModes] = [:]
        for (path, kind) in additions {
            planned[path, default: modes(watcher, path)].formUnion(WatchModes(kind))
        }
        let added = planned.reduce(0) { $0 + $1.value.count - modes(watcher, $1.key).count }
        if watchCount(of: watcher) + added > watchesPerWatcherMax {
            throw WatchLimitExceeded(watcher: watcher, watchesPerWatcherMax: watchesPerWatcherMax)
        }
        for (path, modes) in planned.sorted(by: { $0.key < $1.key }) {
            setModes(modes, watcher, path)
        }
        return events
    }
}
