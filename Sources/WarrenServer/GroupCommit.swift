import WarrenCore
import CoreMetrics
import Foundation

/// Persists transactions on a dedicated thread with group commit: every record submitted while one fsync runs is
/// written and synced by the next one, so the fsync cost is shared by all writes in flight.
///
/// Contract: `onDurable(lastZxid)` is called (on the writer thread) only after every record up to and including
/// `lastZxid` has been written *and* fsynced, in submission order. After a failed write or sync `onFailure` is
/// called once and every later submission is refused the same way: durability of what follows is unknown, so the
/// server must stop acknowledging writes — until `resume` (a full disk with room again, see `ServerStorage`)
/// clears the failure.
///
/// Bound: at most `queueBytesMax` payload bytes wait for the writer, or one submission when the queue was empty
/// (a follower's DIFF sync can be one large batch). At the bound `submit` blocks its caller (the core thread) until
/// the writer has taken the queue, which stops the server reading sockets meanwhile; the writer never waits for the
/// core, so this cannot deadlock.
final class GroupCommitWriter: @unchecked Sendable {
    typealias Record = PersistRecord

    private let condition = NSCondition()
    private var queue: [Record] = []
    private var queueBytes = 0
    let queueBytesMax: Int
    private var failed: Error?
    private var stopping = false
    private var thread: Thread?
    private let write: ([Record]) throws -> Void
    private let sync: () throws -> Void
    private let onDurable: (Int64, Int) -> Void
    private let onFailure: (Error, [Record], Int) -> Void
    /// Incremented by every successful `resume`; failure reports carry the epoch they belong to, so a late report
    /// of an earlier failure (a refused submission) is recognized as stale.
    private var epochValue = 0
    /// Records waiting for the writer.
    var queuedCount: Int { condition.withLock { queue.count } }

    init(
        write: @escaping ([Record]) throws -> Void, sync: @escaping () throws -> Void,
        onDurable: @escaping (_ lastZxid: Int64, _ count: Int) -> Void,
        onFailure: @escaping (Error, _ lost: [Record], _ epoch: Int) -> Void, queueBytesMax: Int = 64 << 20
    ) {
        precondition(queueBytesMax > 0, "queueBytesMax \(queueBytesMax)")
        self.queueBytesMax = queueBytesMax
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

    /// Queues records for the next write and fsync; blocks while the queue is at `queueBytesMax` (see the type).
    func submit(_ records: [Record]) {
        guard !records.isEmpty else { return }
        var bytes = 0
        for r in records { bytes += r.payload.count }
        condition.withLock {
            while failed == nil, !stopping, !queue.isEmpty, queueBytes + bytes > queueBytesMax { condition.wait() }
            if let failed {
                let epoch = epochValue
                DispatchQueue.global().async { self.onFailure(failed, records, epoch) }
                return
            }
            precondition(queue.isEmpty || queueBytes + bytes <= queueBytesMax,
                         "group-commit queue over its bound: \(queueBytes) + \(bytes) > \(queueBytesMax) bytes")
            queue.append(contentsOf: records)
            queueBytes += bytes
            condition.broadcast()
        }
    }

    /// Accepts submissions again after a failure, once `recover` has made the log consistent and usable again;
    /// false if there was no failure or `recover` threw. Any thread: while failed the writer thread is idle
    /// (every submission is refused), and the lock keeps submissions out until `recover` is done.
    func resume(_ recover: () throws -> Void) -> Bool {
        condition.withLock {
            guard failed != nil else { return false }
            do { try recover() } catch { return false }
            failed = nil
            epochValue += 1
            return true
        }
    }

    var epoch: Int { condition.withLock { epochValue } }

    /// The failure submissions are refused with, if any.
    var failure: Error? { condition.withLock { failed } }

    /// Finishes what is queued, then stops the thread.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
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
            queueBytes = 0
            condition.broadcast()  // a submit waiting for room
            condition.unlock()
            do {
                let started = ContinuousClock.now
                try write(batch)
                try sync()
                ServerMetrics.recordFsync(nanoseconds: Int64((ContinuousClock.now - started) / .nanoseconds(1)))
                ServerMetrics.groupCommitBatch.record(batch.count)
                onDurable(batch[batch.count - 1].zxid, batch.count)
            } catch {
                let (rest, epoch): ([Record], Int) = condition.withLock {
                    failed = error
                    defer {
                        queue.removeAll()
                        queueBytes = 0
                        condition.broadcast()
                    }
                    return (queue, epochValue)
                }
                onFailure(error, batch + rest, epoch)
            }
        }
    }
}
