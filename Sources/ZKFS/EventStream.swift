import Foundation

/// One open descriptor of the event-stream file: a bounded queue of lines and at most one read waiting for
/// them. Thread-safe; no I/O. Lines are delivered whole unless one alone is longer than the read asked for.
///
/// When the queue is full the oldest line goes, and the next delivery starts with one overflow line counting
/// the lines lost since the last delivery.
public final class EventReader: @unchecked Sendable {
    /// A read waiting for lines: `deliver` gets at most `sizeMax` bytes, once.
    public struct Waiter {
        public var sizeMax: Int
        public var deliver: ([UInt8]) -> Void
        public init(sizeMax: Int, deliver: @escaping ([UInt8]) -> Void) {
            self.sizeMax = sizeMax
            self.deliver = deliver
        }
    }

    public let linesMax: Int
    private let overflowLine: (Int) -> String
    private let lock = NSLock()
    private var lines: [[UInt8]] = []
    private var head = 0
    private var dropped = 0
    private var waiter: Waiter?
    private var waiterToken: UInt64 = 0

    /// `overflowLine(n)` is the line that stands for `n` lost lines.
    public init(linesMax: Int, overflowLine: @escaping (Int) -> String) {
        precondition(linesMax > 0, "EventReader linesMax \(linesMax) must be > 0")
        self.linesMax = linesMax
        self.overflowLine = overflowLine
    }

    /// Whether a read would return at once.
    public var hasData: Bool { lock.withLock { head < lines.count || dropped > 0 } }

    /// Queues `line` (dropping the oldest line past `linesMax`); if a read is waiting, it gets what is queued.
    public func append(_ line: String) {
        let ready: (Waiter, [UInt8])? = lock.withLock {
            lines.append(Array(line.utf8))
            if lines.count - head > linesMax {
                head += 1
                dropped += 1
            }
            if head > 1024 && head * 2 > lines.count {
                lines.removeFirst(head)
                head = 0
            }
            guard let w = waiter else { return nil }
            waiter = nil
            return (w, takeLocked(sizeMax: w.sizeMax))
        }
        if let (w, bytes) = ready { w.deliver(bytes) }
    }

    /// Takes up to `sizeMax` bytes of queued lines; an empty array if none are queued.
    public func take(sizeMax: Int) -> [UInt8] {
        lock.withLock { takeLocked(sizeMax: sizeMax) }
    }

    /// Waits for lines: returns the token that cancels the wait. Any earlier waiter is replaced (the kernel sends
    /// one read per descriptor at a time). If lines are queued, `waiter` is called at once and nil returned.
    public func wait(_ waiter: Waiter) -> UInt64? {
        let (ready, token): ([UInt8]?, UInt64?) = lock.withLock {
            if head < lines.count || dropped > 0 { return (takeLocked(sizeMax: waiter.sizeMax), nil) }
            self.waiter = waiter
            waiterToken += 1
            return (nil, waiterToken)
        }
        if let ready { waiter.deliver(ready) }
        return token
    }

    /// Removes the waiting read if it is still the one `token` named; returns whether it was (then the caller
    /// answers it, e.g. with EINTR).
    public func cancelWait(token: UInt64) -> Bool {
        lock.withLock {
            guard waiter != nil, waiterToken == token else { return false }
            waiter = nil
            return true
        }
    }

    private func takeLocked(sizeMax: Int) -> [UInt8] {
        var out: [UInt8] = []
        if dropped > 0 {
            out += Array(overflowLine(dropped).utf8)
            dropped = 0
        }
        while head < lines.count {
            let line = lines[head]
            if out.count + line.count <= sizeMax {
                out += line
                head += 1
            } else {
                if out.isEmpty {
                    // One line longer than the whole read: give what fits, keep the rest for the next read.
                    out += line.prefix(sizeMax)
                    lines[head] = Array(line.dropFirst(sizeMax))
                }
                break
            }
        }
        return out
    }
}
