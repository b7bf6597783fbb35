import Foundation
import WarrenJute

/// The role each path was given by the events reported so far, so that a deletion reports ISDIR like the
/// creation did (the kernel may never have looked the node up). Bounded: past `pathsMax` it starts afresh.
// Sendable: every var is read and written only under `lock`.
final class EventRoles: @unchecked Sendable {
    private let lock = NSLock()
    private var roles: [String: NodeRole] = [:]
    let pathsMax = 100_000

    func get(_ path: String) -> NodeRole? { lock.withLock { roles[path] } }

    func set(_ path: String, _ role: NodeRole) {
        lock.withLock {
            if roles.count >= pathsMax { roles.removeAll() }
            roles[path] = role
        }
    }

    func remove(_ path: String) -> NodeRole? { lock.withLock { roles.removeValue(forKey: path) } }
}

/// This mount's own changes in flight, so that their watch events are not replayed through the mount (the
/// kernel already raised events for them). A change is expected before its request is sent, because the
/// server sends the watch event before the reply; expectations no event consumed expire after `lifetime`.
///
/// Ages are measured on a monotonic clock: after a wall-clock step backwards, wall-clock ages would keep stale
/// expectations for as long as the step and swallow other clients' events; forwards, they would drop every
/// expectation at once and replay this mount's own changes.
final class OwnChanges: @unchecked Sendable {
    private let lock = NSLock()
    private var expected: [String: [ContinuousClock.Instant]] = [:]
    private let lifetime: Duration = .seconds(10)

    private static func key(_ path: String, _ type: EventType) -> String { "\(type.rawValue) \(path)" }

    /// Roles of nodes this mount is creating, for their creation events (which arrive before the reply, so
    /// before the role is remembered). A sequential create announces its prefix.
    private var roles: [(path: String, sequential: Bool, role: NodeRole, at: ContinuousClock.Instant)] = []

    func announceRole(_ role: NodeRole, of path: String, sequential: Bool) {
        lock.withLock {
            let now = ContinuousClock.now
            roles.removeAll { now - $0.at > lifetime }
            roles.append((path, sequential, role, now))
        }
    }

    /// The role announced for `path` (a sequential prefix followed by the 10-digit counter matches), if any.
    func announcedRole(of path: String) -> NodeRole? {
        lock.withLock {
            roles.last { entry in
                guard entry.sequential else { return entry.path == path }
                guard path.hasPrefix(entry.path) else { return false }
                let counter = path.dropFirst(entry.path.count)
                return counter.count == 10 && counter.allSatisfy(\.isASCII) && counter.allSatisfy(\.isNumber)
            }?.role
        }
    }

    func expect(path: String, type: EventType) {
        lock.withLock { expected[Self.key(path, type), default: []].append(ContinuousClock.now) }
    }

    /// Forgets one expectation (its request failed).
    func cancel(path: String, type: EventType) {
        lock.withLock {
            let key = Self.key(path, type)
            guard var instants = expected[key], !instants.isEmpty else { return }
            instants.removeLast()
            expected[key] = instants.isEmpty ? nil : instants
        }
    }

    /// Whether an event of `type` on `path` was expected (and takes that expectation).
    func consume(path: String, type: EventType) -> Bool {
        lock.withLock {
            let key = Self.key(path, type)
            let now = ContinuousClock.now
            guard var instants = expected[key] else { return false }
            instants.removeAll { now - $0 > lifetime }
            guard !instants.isEmpty else {
                expected[key] = nil
                return false
            }
            instants.removeFirst()
            expected[key] = instants.isEmpty ? nil : instants
            return true
        }
    }
}
