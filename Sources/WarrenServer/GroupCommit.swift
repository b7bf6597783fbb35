import Foundation

/// Persists transactions on a dedicated thread with group commit: every record submitted while one fsync runs is
/// written and synced by the next one, so the fsync cost is shared by all writes in flight.
///
/// Contract: `onDurable(lastZxid)` is called (on the writer thread) only after every record up to and including
/// `lastZxid` has been written *and* fsynced, in submission order. After a failed write or sync `onFailure` is
/// called once and every later submission is refused the same way: durability of what follows is unknown, so the
/// server must stop acknowledging writes until an operator intervenes.
final class GroupCommitWriter: @unchecked Sendable {
    typealias Record = (zxid: Int64, payload: [UInt8])

    private let condition = NSCondition()
    private var queue: [Record] = []
    private var failed: Error?
    private var stopping = false
    private var thread: Thread?
    private let write: ([Record]) throws -> Void
    private let sync: () throws -> Void
    private let onDurable: (Int64, Int) -> Void
    private let onFailure: (Error, [Record]) -> Void
    /// Records waiting for the writer. Bounded by the server's outstanding-request limit upstream.
    var queuedCount: Int { condition.withLock { queue.count } }

    init(
        write: @escaping ([Record]) throws -> Void, sync: @escaping () throws -> Void,
        onDurable: @escaping (_ lastZxid: Int64, _ count: Int) -> Void,
        onFailure: @escaping (Error, _ lost: [Record]) -> Void
    ) {
        self.write = write
        self.sync = sync
        self.onDurable = onDurable
        self.onFailure = onFailure
    }

    func start() {
        let t = Thread { [self] in run() }
        t.name = "warren-txnlog"
        thread = t
        t.start()
    }

    func submit(_ records: [Record]) {
        guard !records.isEmpty else { return }
        condition.withLock {
            if let failed {
                DispatchQueue.global().async { self.onFailure(failed, records) }
                return
            }
            queue.append(contentsOf: records)
            condition.signal()
        }
    }

    /// Finishes what is queued, then stops the thread.
    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
        while condition.withLock({ thread != nil }) { usleep(1000) }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                thread = nil
                condition.unlock()
                return
            }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            condition.unlock()
            do {
                let started = ContinuousClock.now
                try write(batch)
                try sync()
                ServerMetrics.recordFsync(nanoseconds: Int64((ContinuousClock.now - started) / .nanoseconds(1)))
                ServerMetrics.groupCommitBatch.record(batch.count)
                onDurable(batch[batch.count - 1].zxid, batch.count)
            } catch {
                let rest: [Record] = condition.withLock {
                    failed = error
                    defer { queue.removeAll() }
                    return queue
                }
                onFailure(error, batch + rest)
            }
        }
    }
}
