import Foundation
import WarrenJute

/// A watch notification, with the caller's path (chroot removed).
public struct WatchEvent: Hashable, Sendable, CustomStringConvertible {
    public var type: EventType
    public var state: KeeperState
    public var path: String

    public init(type: EventType, state: KeeperState, path: String) {
        self.type = type
        self.state = state
        self.path = path
    }

    public var description: String { "WatchedEvent state:\(state) type:\(type) path:\(path)" }
}

/// A change of the client's connection to its session.
public enum SessionEvent: Hashable, Sendable {
    /// A connection was established (or re-established with the same session); `readOnly` if the server is a
    /// read-only one.
    case connected(readOnly: Bool)
    /// The connection was lost; the client is reconnecting with the same session.
    case disconnected
    /// The server said the session is gone. Terminal: the client has stopped.
    case expired
    /// The server rejected the credentials of `addAuth`. Terminal: the client has stopped.
    case authFailed
    /// `close()` ended the session, or the initial connection failed. Terminal.
    case closed

    public var isTerminal: Bool {
        switch self {
        case .expired, .authFailed, .closed: return true
        case .connected, .disconnected: return false
        }
    }
}

/// Fans watch and session events out to every subscriber's `AsyncStream`. Thread-safe: subscribing happens on
/// the caller's thread, publishing on the client's event loop.
final class EventHub: @unchecked Sendable {
    private struct WatchSubscriber {
        let continuation: AsyncStream<WatchEvent>.Continuation
        let filter: @Sendable (WatchEvent) -> Bool
    }

    private let lock = NSLock()
    private var nextId = 0
    private var watchSubscribers: [Int: WatchSubscriber] = [:]
    private var sessionSubscribers: [Int: AsyncStream<SessionEvent>.Continuation] = [:]
    /// Set once a terminal session event was published; later subscribers get it and a finished stream.
    private var terminal: SessionEvent?

    /// A stream of the watch events that pass `filter`, from now on, ending when the client stops.
    func watchEvents(filter: @escaping @Sendable (WatchEvent) -> Bool) -> AsyncStream<WatchEvent> {
        let (stream, continuation) = AsyncStream<WatchEvent>.makeStream()
        let id: Int? = lock.withLock {
            if terminal != nil { return nil }
            nextId += 1
            watchSubscribers[nextId] = WatchSubscriber(continuation: continuation, filter: filter)
            return nextId
        }
        if let id {
            continuation.onTermination = { [weak self] _ in self?.removeWatchSubscriber(id) }
        } else {
            continuation.finish()
        }
        return stream
    }

    /// A stream of session events from now on; it ends after the terminal event.
    func sessionEvents() -> AsyncStream<SessionEvent> {
        let (stream, continuation) = AsyncStream<SessionEvent>.makeStream()
        let result: (id: Int?, terminal: SessionEvent?) = lock.withLock {
            if let terminal { return (nil, terminal) }
            nextId += 1
            sessionSubscribers[nextId] = continuation
            return (nextId, nil)
        }
        if let id = result.id {
            continuation.onTermination = { [weak self] _ in self?.removeSessionSubscriber(id) }
        } else {
            if let t = result.terminal { continuation.yield(t) }
            continuation.finish()
        }
        return stream
    }

    func publish(_ event: WatchEvent) {
        let subscribers = lock.withLock { Array(watchSubscribers.values) }
        for s in subscribers where s.filter(event) { s.continuation.yield(event) }
    }

    /// Publishes a session event; a terminal one also finishes every stream.
    func publish(_ event: SessionEvent) {
        let (sessions, watches): ([AsyncStream<SessionEvent>.Continuation], [WatchSubscriber]) = lock.withLock {
            if terminal != nil { return ([], []) }
            let sessions = Array(sessionSubscribers.values)
            var watches: [WatchSubscriber] = []
            if event.isTerminal {
                terminal = event
                watches = Array(watchSubscribers.values)
                sessionSubscribers = [:]
                watchSubscribers = [:]
            }
            return (sessions, watches)
        }
        for c in sessions {
            c.yield(event)
            if event.isTerminal { c.finish() }
        }
        for w in watches { w.continuation.finish() }
    }

    private func removeWatchSubscriber(_ id: Int) { lock.withLock { _ = watchSubscribers.removeValue(forKey: id) } }
    private func removeSessionSubscriber(_ id: Int) { lock.withLock { _ = sessionSubscribers.removeValue(forKey: id) } }
}
