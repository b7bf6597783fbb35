import WarrenClient

/// A point on the monotonic clock by which a wait gives up; nil in APIs means "wait without limit".
public struct Deadline: Sendable, Comparable {
    let instant: ContinuousClock.Instant

    /// `timeoutMs` milliseconds from now.
    public static func after(ms timeoutMs: Int64) -> Deadline {
        Deadline(instant: ContinuousClock.now.advanced(by: .milliseconds(max(0, timeoutMs))))
    }

    public var hasPassed: Bool { ContinuousClock.now >= instant }

    public static func < (a: Deadline, b: Deadline) -> Bool { a.instant < b.instant }
}

/// Why `waitForWake` returned.
enum Wake: Equatable {
    /// A watch event arrived.
    case event
    /// The deadline passed first.
    case timedOut
    /// The event stream ended: the client stopped (session expired or closed).
    case clientStopped
}

/// Waits for the first event of `events`, the deadline, or cancellation of the calling task (then throws
/// `CancellationError`).
func waitForWake(_ events: AsyncStream<WatchEvent>, until deadline: Deadline?) async throws -> Wake {
    let wake = await withTaskGroup(of: Wake?.self) { group -> Wake? in
        group.addTask {
            for await _ in events { return .event }
            return Task.isCancelled ? nil : .clientStopped
        }
        if let deadline {
            group.addTask {
                try? await Task.sleep(until: deadline.instant, clock: .continuous)
                return Task.isCancelled ? nil : .timedOut
            }
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
    try Task.checkCancellation()
    return wake ?? .clientStopped
}
