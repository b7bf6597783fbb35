import WarrenJute

/// Identifies whoever holds watches: the server uses its connection id. Opaque to the watch manager.
public typealias WatcherID = UInt64

/// What a client asked to watch on one path.
///
/// ZooKeeper's server keeps one-shot watches in two tables: a data table (filled by getData, and by exists whether
/// or not the node exists) and a child table (filled by getChildren). So `.data` and `.exist` name the same slot:
/// adding `.exist` where `.data` is held is a no-op, and removing either removes both. The client tells them apart;
/// the server only needs `.exist` for `setWatches`, where a re-registered exist watch on a node that now exists
/// fires `nodeCreated` at once.
public enum WatchKind: Sendable, Hashable, CaseIterable {
    /// One-shot, from getData or from exists on an existing node.
    case data
    /// One-shot, from exists on a missing node. Shares the `.data` slot.
    case exist
    /// One-shot, from getChildren.
    case child
    /// From addWatch(persistent): every event for the path itself, including children-changed; never consumed.
    case persistent
    /// From addWatch(persistentRecursive): created/deleted/dataChanged for the path and every descendant, never
    /// children-changed; never consumed.
    case persistentRecursive

    public init(_ mode: AddWatchMode) {
        switch mode {
        case .persistent: self = .persistent
        case .persistentRecursive: self = .persistentRecursive
        }
    }
}

/// A notification for one watcher: ZooKeeper's `WatchedEvent` (the wire's `WatcherEvent` carries the same three
/// fields).
public struct WatchedEvent: Hashable, Sendable, CustomStringConvertible {
    public var type: EventType
    public var state: KeeperState
    public var path: String

    public init(type: EventType, state: KeeperState = .syncConnected, path: String) {
        self.type = type
        self.state = state
        self.path = path
    }

    public var description: String { "WatchedEvent(\(type), \(state), \(path))" }
}

/// The watcher already holds `watchesPerWatcherMax` watches, so a new one was refused and nothing changed.
public struct WatchLimitExceeded: Error, Hashable, Sendable {
    public var watcher: WatcherID
    public var watchesPerWatcherMax: Int
}

/// The `type` of a removeWatches/checkWatches request. ZooKeeper 3.9 clients may also send persistent (4) and
/// persistentRecursive (5), which `WatcherType` lacks; decode the wire value with `init?(rawValue:)`.
public enum WatchRemovalType: Int32, Sendable, CaseIterable {
    case children = 1
    case data = 2
    case any = 3
    case persistent = 4
    case persistentRecursive = 5

    public init(_ type: WatcherType) {
        switch type {
        case .children: self = .children
        case .data: self = .data
        case .any: self = .any
        }
    }
}

/// The outcome of `removeWatches`.
///
/// `events` are what ZooKeeper's *client* raises locally for the removed watches (dataWatchRemoved,
/// childWatchRemoved, persistentWatchRemoved, in that order). ZooKeeper's server sends no notification for a
/// removal, only the reply with `code`; a wire-compatible server should do the same and use `events` at most for
/// tracing.
public struct WatchRemoval: Hashable, Sendable {
    /// `.ok`, or `.noWatcher` when nothing matched (and nothing changed).
    public var code: ErrorCode
    public var events: [WatchedEvent]
}

/// The watch slots a watcher holds on one path. `persistent` lives in both of ZooKeeper's tables, `recursive` only
/// in the data table.
struct WatchModes: OptionSet, Hashable, Sendable {
    let rawValue: UInt8
    static let data = WatchModes(rawValue: 1)
    static let child = WatchModes(rawValue: 2)
    static let persistent = WatchModes(rawValue: 4)
    static let recursive = WatchModes(rawValue: 8)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ kind: WatchKind) {
        switch kind {
        case .data, .exist: self = .data
        case .child: self = .child
        case .persistent: self = .persistent
        case .persistentRecursive: self = .recursive
        }
    }

    /// In ZooKeeper's data-watch table, the one the four-letter words report.
    var inDataTable: Bool { !isDisjoint(with: [.data, .persistent, .recursive]) }
    /// In ZooKeeper's child-watch table.
    var inChildTable: Bool { !isDisjoint(with: [.child, .persistent]) }
    /// Each slot counts as one watch against `watchesPerWatcherMax`.
    var count: Int { rawValue.nonzeroBitCount }
}

/// ZooKeeper's server-side watch bookkeeping (`WatchManager` for its data and child tables, with the triggering
/// rules of `DataTree`), for all connections. Pure: no I/O, no clock.
///
/// Paths are absolute, already validated znode paths ("/" or "/a/b"); the manager never checks them.
public struct WatchManager: Sendable {
    /// The most watches (slots, see `watchCount(of:)`) one watcher may hold. ZooKeeper has no such limit; the
    /// default of 1_000_000 only stops a runaway client from exhausting memory.
    public static let watchesPerWatcherMaxDefault = 1_000_000

    public let watchesPerWatcherMax: Int

    /// path → watcher → slots held there. Never holds an empty inner map or empty modes.
    var modesByPath: [String: [WatcherID: WatchModes]] = [:]
    /// watcher → paths where it holds any slot. Never holds an empty set.
    var pathsByWatcher: [WatcherID: Set<String>] = [:]
    /// watcher → number of slots held, over all paths.
    var slotCountByWatcher: [WatcherID: Int] = [:]
    /// Number of persistent-recursive slots over all watchers; when zero a trigger needn't walk up the ancestors.
    var recursiveCount = 0

    public init(watchesPerWatcherMax: Int = WatchManager.watchesPerWatcherMaxDefault) {
        precondition(watchesPerWatcherMax >= 0, "watchesPerWatcherMax \(watchesPerWatcherMax) must not be negative")
        self.watchesPerWatcherMax = watchesPerWatcherMax
    }

    // MARK: Registering

    /// Registers a watch of `kind` on `path` for `watcher`.
    /// - Returns: true if added, false if the watcher already held that slot (nothing changed).
    /// - Throws: `WatchLimitExceeded` when the slot is new and the watcher is at `watchesPerWatcherMax`.
    @discardableResult
    public mutating func addWatch(_ watcher: WatcherID, path: String, kind: WatchKind) throws -> Bool {
        let slot = WatchModes(kind)
        let old = modes(watcher, path)
        if old.contains(slot) { return false }
        if watchCount(of: watcher) + 1 > watchesPerWatcherMax {
            throw WatchLimitExceeded(watcher: watcher, watchesPerWatcherMax: watchesPerWatcherMax)
        }
        setModes(old.union(slot), watcher, path)
        return true
    }

    /// addWatch request: registers a persistent or persistent-recursive watch. Same results as
    /// `addWatch(_:path:kind:)`.
    @discardableResult
    public mutating func addWatch(_ watcher: WatcherID, path: String, mode: AddWatchMode) throws -> Bool {
        try addWatch(watcher, path: path, kind: WatchKind(mode))
    }

    /// Drops every watch `watcher` holds (on disconnect).
    /// - Returns: how many watches (slots) were dropped.
    @discardableResult
    public mutating func removeAll(_ watcher: WatcherID) -> Int {
        guard let paths = pathsByWatcher[watcher] else { return 0 }
        var dropped = 0
        for path in paths.sorted() {
            dropped += modes(watcher, path).count
            setModes([], watcher, path)
        }
        precondition(pathsByWatcher[watcher] == nil && slotCountByWatcher[watcher] == nil,
                     "watcher \(watcher) still indexed after removeAll: \(String(describing: pathsByWatcher[watcher]))")
        return dropped
    }

    // MARK: Triggering

    /// Fires the watches a change at `path` triggers and consumes the one-shot ones, as ZooKeeper's DataTree does:
    /// - `.nodeCreated`, `.nodeDataChanged`: data/exist and persistent watches on `path`;
    /// - `.nodeDeleted`: data/exist, child and persistent watches on `path`;
    /// - `.nodeChildrenChanged` (pass the *parent's* path): child and persistent watches on `path`;
    /// - persistent-recursive watches on `path` or any ancestor, for every type but `.nodeChildrenChanged`.
    ///
    /// A create is thus two calls, `(path, .nodeCreated)` then `(parent, .nodeChildrenChanged)`; a delete is
    /// `(path, .nodeDeleted)` then `(parent, .nodeChildrenChanged)`; a setData is `(path, .nodeDataChanged)`.
    ///
    /// - Returns: one event per watcher (even when several of its watches matched), in ascending watcher order.
    ///   Deliver them in this order, after the reply of the request that caused the change.
    public mutating func trigger(path: String, type: EventType) -> [(watcher: WatcherID, event: WatchedEvent)] {
        var fired = Set<WatcherID>()
        switch type {
        case .nodeCreated, .nodeDataChanged:
            fireDataTable(path, into: &fired)
        case .nodeDeleted:
            fireDataTable(path, into: &fired)
            fireChildTable(path, into: &fired)
        case .nodeChildrenChanged:
            fireChildTable(path, into: &fired)
        case .none, .dataWatchRemoved, .childWatchRemoved, .persistentWatchRemoved:
            preconditionFailure("trigger(path: \(path), type: \(type)): not a znode change")
        }
        let event = WatchedEvent(type: type, path: path)
        return fired.sorted().map { (watcher: $0, event: event) }
    }

    /// ZooKeeper's data table: anything on the exact path fires and loses its one-shot data slot; ancestors fire
    /// only their recursive watchers.
    private mutating func fireDataTable(_ path: String, into fired: inout Set<WatcherID>) {
        if let here = modesByPath[path] {
            for (watcher, modes) in here where modes.inDataTable {
                fired.insert(watcher)
                if modes.contains(.data) { setModes(modes.subtracting(.data), watcher, path) }
            }
        }
        guard recursiveCount > 0 else { return }
        var ancestor = Self.parent(of: path)
        while let current = ancestor {
            for (watcher, modes) in modesByPath[current] ?? [:] where modes.contains(.recursive) {
                fired.insert(watcher)
            }
            ancestor = Self.parent(of: current)
        }
    }

    /// ZooKeeper's child table: exact path only, and recursive watches are never in it.
    private mutating func fireChildTable(_ path: String, into fired: inout Set<WatcherID>) {
        guard let here = modesByPath[path] else { return }
        for (watcher, modes) in here where modes.inChildTable {
            fired.insert(watcher)
            if modes.contains(.child) { setModes(modes.subtracting(.child), watcher, path) }
        }
    }

    // MARK: Removing and checking

    /// removeWatches request, with ZooKeeper 3.9's rules: `.children`/`.data` remove only the one-shot child/data
    /// slot, `.persistent`/`.persistentRecursive` only that slot, `.any` everything the watcher holds on `path`.
    public mutating func removeWatches(_ watcher: WatcherID, path: String, type: WatchRemovalType) -> WatchRemoval {
        let old = modes(watcher, path)
        let removed = old.intersection(Self.slots(for: type))
        guard !removed.isEmpty else { return WatchRemoval(code: .noWatcher, events: []) }
        setModes(old.subtracting(removed), watcher, path)
        var events: [WatchedEvent] = []
        if removed.contains(.data) { events.append(WatchedEvent(type: .dataWatchRemoved, path: path)) }
        if removed.contains(.child) { events.append(WatchedEvent(type: .childWatchRemoved, path: path)) }
        if !removed.isDisjoint(with: [.persistent, .recursive]) {
            events.append(WatchedEvent(type: .persistentWatchRemoved, path: path))
        }
        return WatchRemoval(code: .ok, events: events)
    }

    public mutating func removeWatches(_ watcher: WatcherID, path: String, type: WatcherType) -> WatchRemoval {
        removeWatches(watcher, path: path, type: WatchRemovalType(type))
    }

    /// checkWatches request: `.ok` if `removeWatches` with the same arguments would remove something, else
    /// `.noWatcher`. Changes nothing.
    public func checkWatches(_ watcher: WatcherID, path: String, type: WatchRemovalType) -> ErrorCode {
        modes(watcher, path).isDisjoint(with: Self.slots(for: type)) ? .noWatcher : .ok
    }

    public func checkWatches(_ watcher: WatcherID, path: String, type: WatcherType) -> ErrorCode {
        checkWatches(watcher, path: path, type: WatchRemovalType(type))
    }

    private static func slots(for type: WatchRemovalType) -> WatchModes {
        switch type {
        case .children: return .child
        case .data: return .data
        case .persistent: return .persistent
        case .persistentRecursive: return .recursive
        case .any: return [.data, .child, .persistent, .recursive]
        }
    }

    // MARK: Queries

    /// Whether `watcher` holds a watch of `kind` on `path` (`.exist` and `.data` answer alike).
    public func hasWatch(_ watcher: WatcherID, path: String, kind: WatchKind) -> Bool {
        modes(watcher, path).contains(WatchModes(kind))
    }

    /// The watches `watcher` holds on `path` (`.data` for the shared data/exist slot, never `.exist`).
    public func kinds(_ watcher: WatcherID, path: String) -> Set<WatchKind> {
        let held = modes(watcher, path)
        return Set(WatchKind.allCases.filter { $0 != .exist && held.contains(WatchModes($0)) })
    }

    /// How many watches `watcher` holds, counting each kind on each path once: the unit of `watchesPerWatcherMax`.
    public func watchCount(of watcher: WatcherID) -> Int { slotCountByWatcher[watcher] ?? 0 }

    // MARK: Index maintenance

    func modes(_ watcher: WatcherID, _ path: String) -> WatchModes {
        modesByPath[path]?[watcher] ?? []
    }

    /// The only writer of the three indexes, so they cannot drift apart.
    mutating func setModes(_ new: WatchModes, _ watcher: WatcherID, _ path: String) {
        let old = modes(watcher, path)
        if new == old { return }
        if new.isEmpty {
            modesByPath[path]?[watcher] = nil
            if modesByPath[path]?.isEmpty == true { modesByPath[path] = nil }
            pathsByWatcher[watcher]?.remove(path)
            if pathsByWatcher[watcher]?.isEmpty == true { pathsByWatcher[watcher] = nil }
        } else {
            modesByPath[path, default: [:]][watcher] = new
            pathsByWatcher[watcher, default: []].insert(path)
        }
        let slots = watchCount(of: watcher) + new.count - old.count
        precondition(slots >= 0, "watcher \(watcher) slot count \(slots) < 0 after \(old) → \(new) on \(path)")
        slotCountByWatcher[watcher] = slots == 0 ? nil : slots
        recursiveCount += (new.contains(.recursive) ? 1 : 0) - (old.contains(.recursive) ? 1 : 0)
    }

    /// The parent of an absolute path ("/a/b" → "/a", "/a" → "/"), nil for "/".
    private static func parent(of path: String) -> String? {
        guard path != "/", let slash = path.lastIndex(of: "/") else { return nil }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
