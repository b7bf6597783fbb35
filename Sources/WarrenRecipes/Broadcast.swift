import Foundation

/// Fans values out to any number of `AsyncStream` subscribers; thread-safe. After `finish`, new subscribers get
/// the last value (if `replayLast`) and a finished stream.
final class Broadcast<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var nextId = 0
    private var subscribers: [Int: AsyncStream<Value>.Continuation] = [:]
    private var last: Value?
    private var finished = false
    private let replayLast: Bool

    /// - Parameter replayLast: whether a new subscriber first gets the most recent value (for state-like
    ///   values such as "current config"), or only later ones (for edge-like events).
    init(replayLast: Bool) { self.replayLast = replayLast }

    func stream() -> AsyncStream<Value> {
        let (stream, continuation) = AsyncStream<Value>.makeStream(bufferingPolicy: .bufferingNewest(Self.bufferedMax))
        let (id, replay, done): (Int, Value?, Bool) = lock.withLock {
            nextId += 1
            if !finished { subscribers[nextId] = continuation }
            return (nextId, replayLast ? last : nil, finished)
        }
        if let replay { continuation.yield(replay) }
        if done {
            continuation.finish()
        } else {
            continuation.onTermination = { [weak self] _ in self?.remove(id) }
        }
        return stream
    }

    /// Values a slow subscriber may fall behind by; older ones are dropped (a subscriber wants the latest state).
    static var bufferedMax: Int { 64 }

    func yield(_ value: Value) {
        let targets = lock.withLock { () -> [AsyncStream<Value>.Continuation] in
            if finished { return [] }
            last = value
            return Array(subscribers.values)
        }
        for c in targets { c.yield(value) }
    }

    func finish() {
        let targets = lock.withLock { () -> [AsyncStream<Value>.Continuation] in
            if finished { return [] }
            finished = true
            defer { subscribers = [:] }
            return Array(subscribers.values)
        }
        for c in targets { c.finish() }
    }

    private func remove(_ id: Int) { lock.withLock { _ = subscribers.removeValue(forKey: id) } }
}
