import CHotPaths
import Foundation

/// Background work that must not take CPU from the request path: a periodic snapshot serializes and compresses the
/// whole tree (seconds of CPU at 10M znodes) while the core and socket threads serve writes, and on a small machine
/// it competed with them for the cores — writes waited behind it (compare.py --scale measures writes while
/// snapshots are written). The work runs on a thread of its own at a higher nice value, so the scheduler lets
/// request threads preempt it; with idle cores it runs at full speed. The thread is created per call and ends
/// after it, since a nice value cannot be lowered again without privileges (a pooled thread would stay slow).
enum LowPriority {
    /// Nice value of such threads (0 is normal, 19 the lowest priority).
    static let niceValue: Int32 = 10

    /// Runs `body` on a new thread at `niceValue` and returns when it is done.
    static func run(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            _ = warren_lower_thread_priority(niceValue)
            body()
            done.signal()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
        done.wait()
    }
}
