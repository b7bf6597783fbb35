import WarrenJute

/// A watch the server will hold for this session once the request that asked for it succeeds.
enum WatchRegistration: Sendable, Equatable {
    /// getData with watch, or exists with watch on a node that exists.
    case data(String)
    /// exists with watch on a node that does not exist; becomes `.data` semantics on the server side.
    case exists(String)
    case child(String)
    case persistent(String)
    case persistentRecursive(String)
}

/// The watches the server holds for this session, by the caller's paths, so that they can be re-registered with
/// `setWatches` after a reconnect. Mirrors the server's one-shot rules: an event consumes the one-shot watches
/// it fires; persistent watches stay until removed.
struct WatchTable: Sendable, Equatable {
    private(set) var data: Set<String> = []
    private(set) var exist: Set<String> = []
    private(set) var child: Set<String> = []
    private(set) var persistent: Set<String> = []
    private(set) var persistentRecursive: Set<String> = []

    var isEmpty: Bool {
        data.isEmpty && exist.isEmpty && child.isEmpty && persistent.isEmpty && persistentRecursive.isEmpty
    }

    var hasPersistent: Bool { !persistent.isEmpty || !persistentRecursive.isEmpty }

    /// Records `registration` after its request finished with `code`. Only success leaves a watch, except exists,
    /// which leaves an exist watch on a missing node (`noNode`).
    mutating func register(_ registration: WatchRegistration, code: ErrorCode) {
        switch registration {
        case let .data(p) where code == .ok: data.insert(p)
        case let .exists(p) where code == .ok: data.insert(p)
        case let .exists(p) where code == .noNode: exist.insert(p)
        case let .child(p) where code == .ok: child.insert(p)
        case let .persistent(p) where code == .ok: persistent.insert(p)
        case let .persistentRecursive(p) where code == .ok: persistentRecursive.insert(p)
        default: break
        }
    }

    /// Drops the one-shot watches that `event` consumed.
    mutating func consume(_ event: WatchEvent) {
        switch event.type {
        case .nodeCreated, .nodeDataChanged:
            data.remove(event.path)
            exist.remove(event.path)
        case .nodeChildrenChanged:
            child.remove(event.path)
        case .nodeDeleted:
            data.remove(event.path)
            exist.remove(event.path)
            child.remove(event.path)
        case .none, .dataWatchRemoved, .childWatchRemoved, .persistentWatchRemoved:
            break
        }
    }

    /// Drops the watches a successful `removeWatches(path, type)` removed on the server, and returns the events
    /// the caller should see for them (one per kind of watch removed).
    mutating func remove(path: String, type: WatcherType) -> [EventType] {
        var removed: [EventType] = []
        if type == .data || type == .any {
            let hadData = data.remove(path) != nil
            let hadExist = exist.remove(path) != nil
            if hadData || hadExist { removed.append(.dataWatchRemoved) }
        }
        if type == .children || type == .any {
            if child.remove(path) != nil { removed.append(.childWatchRemoved) }
        }
        if type == .any {
            let hadPersistent = persistent.remove(path) != nil
            let hadRecursive = persistentRecursive.remove(path) != nil
            if hadPersistent || hadRecursive { removed.append(.persistentWatchRemoved) }
        }
        return removed
    }
}
