import Foundation

/// A kernel cache invalidation to send.
public enum Notice: Equatable, Sendable {
    /// Drop the inode's cached attributes (and data).
    case inode(UInt64)
    /// Drop the name `name` in directory `parent`.
    case entry(parent: UInt64, name: String)
    /// The name is gone: drop it and tell the kernel the inode `child` was deleted.
    case delete(parent: UInt64, child: UInt64, name: String)
    /// Wake the kernel's pollers of a handle (after the invalidations queued before it).
    case poll(PollTarget)
}

/// Sends invalidations to the kernel from a thread of its own. The kernel may need a directory's lock to apply
/// one, and that lock may be held by a request waiting for this process: sending from a request thread (or from
/// the few threads of Swift's cooperative pool, which answer requests) could deadlock.
public final class Invalidator: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [Notice] = []
    private var stopped = false
    private let deliver: (Notice) -> Void
    private var thread: Thread?

    /// `deliver` runs on the invalidator's thread, one notice at a time, in order.
    public init(deliver: @escaping (Notice) -> Void) {
        self.deliver = deliver
    }

    public func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "zkfs-invalidator"
        self.thread = thread
        thread.start()
    }

    /// Queues notices; returns at once.
    public func post(_ notices: [Notice]) {
        guard !notices.isEmpty else { return }
        condition.withLock {
            queue.append(contentsOf: notices)
            condition.signal()
        }
    }

    /// Stops the thread after the notices already queued.
    public func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    private func loop() {
        while true {
            let batch: [Notice] = condition.withLock {
                while queue.isEmpty && !stopped { condition.wait() }
                defer { queue.removeAll() }
                return queue
            }
            if batch.isEmpty { return }
            var seen = Set<String>()
            for notice in batch where seen.insert("\(notice)").inserted { deliver(notice) }
        }
    }
}
