#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Which call took a lock: they are separate lock spaces, as in Linux (a flock and a POSIX lock of one process
/// on one file conflict here, as on NFS, since both are one contender node each).
public enum LockStyle: Sendable, Hashable {
    /// flock(2): owned by the open file description.
    case flock
    /// fcntl/lockf record locks: owned by the process (classic) or the open file description (OFD).
    case posix
}

/// Who holds a lock of this mount: the kernel's lock owner (a cookie for the files table or the open file
/// description) on one znode, per style.
public struct LockOwnerKey: Sendable, Hashable {
    public var path: String
    public var style: LockStyle
    public var owner: UInt64
}

/// One acquisition under way; it can be cancelled (interrupt, unlock, close) while it waits.
public final class LockTicket: @unchecked Sendable {
    public let id: UInt64
    public let mode: LockMode
    private let lock = NSLock()
    private var cancelled = false
    private var wakeUp: (() -> Void)?

    init(id: UInt64, mode: LockMode) {
        self.id = id
        self.mode = mode
    }

    public var isCancelled: Bool { lock.withLock { cancelled } }

    /// Cancels the acquisition and wakes its wait, if any.
    public func cancel() {
        let wake = lock.withLock { () -> (() -> Void)? in
            cancelled = true
            defer { wakeUp = nil }
            return wakeUp
        }
        wake?()
    }

    /// Sets what `cancel` wakes; returns false (setting nothing) if already cancelled.
    func onCancel(_ wake: @escaping () -> Void) -> Bool {
        lock.withLock {
            guard !cancelled else { return false }
            wakeUp = wake
            return true
        }
    }
}

/// A lock this mount holds.
public struct HeldLock: Sendable, Equatable {
    /// The contender node, full path.
    public var node: String
    public var mode: LockMode
    /// The handle it was taken through (its release drops it).
    public var fh: UInt64
    /// The requesting process, for F_GETLK.
    public var pid: Int32
    /// The session that owns the node; once that session expired the node is gone.
    public var session: Int64
}

/// The mount's locks by owner: at most one per owner and znode (a second request converts it), each either being
/// acquired or held. Thread-safe; no I/O.
public final class LockTable: @unchecked Sendable {
    enum Entry {
        case pending(LockTicket, fh: UInt64)
        case held(HeldLock)
    }

    /// What `begin` found.
    public enum Begin: Equatable {
        /// Go ahead with this ticket (after releasing `replacing`, if any: conversions are not atomic).
        case start(LockTicket, replacing: HeldLock?)
        /// The owner already holds the lock in this mode.
        case alreadyHeld
        /// Another request of the owner for this lock is still waiting.
        case busy
        /// `waitersMax` acquisitions are under way.
        case tooMany

        public static func == (a: Begin, b: Begin) -> Bool {
            switch (a, b) {
            case let (.start(x, r1), .start(y, r2)): return x === y && r1 == r2
            case (.alreadyHeld, .alreadyHeld), (.busy, .busy), (.tooMany, .tooMany): return true
            default: return false
            }
        }
    }

    public let waitersMax: Int
    private let lock = NSLock()
    private var entries: [LockOwnerKey: Entry] = [:]
    private var nextTicket: UInt64 = 1

    public init(waitersMax: Int = 1024) { self.waitersMax = waitersMax }

    /// Starts an acquisition of `mode` by `key` through handle `fh`.
    public func begin(_ key: LockOwnerKey, mode: LockMode, fh: UInt64) -> Begin {
        lock.withLock {
            var replacing: HeldLock?
            switch entries[key] {
            case .pending?: return .busy
            case let .held(held)? where held.mode == mode: return .alreadyHeld
            case let .held(held)?: replacing = held
            case nil: break
            }
            let pending = entries.values.filter { if case .pending = $0 { return true } else { return false } }.count
            guard pending < waitersMax else { return .tooMany }
            let ticket = LockTicket(id: nextTicket, mode: mode)
            nextTicket += 1
            entries[key] = .pending(ticket, fh: fh)
            return .start(ticket, replacing: replacing)
        }
    }

    /// Records that `ticket` got the lock as `held`; false (recording nothing) if it was cancelled or replaced
    /// meanwhile, and the caller must delete the node.
    public func grant(_ key: LockOwnerKey, ticket: LockTicket, _ held: HeldLock) -> Bool {
        lock.withLock {
            guard case let .pending(current, _)? = entries[key], current === ticket, !ticket.isCancelled else {
                return false
            }
            entries[key] = .held(held)
            return true
        }
    }

    /// Forgets a failed or cancelled acquisition (if it is still the owner's entry).
    public func abandon(_ key: LockOwnerKey, ticket: LockTicket) {
        lock.withLock {
            if case let .pending(current, _)? = entries[key], current === ticket { entries[key] = nil }
        }
    }

    /// Removes the owner's entry: a held lock is returned (to delete), a pending one is cancelled.
    public func remove(_ key: LockOwnerKey) -> HeldLock? {
        let entry = lock.withLock { entries.removeValue(forKey: key) }
        return settle(entry)
    }

    /// Removes every entry taken through `fh` (its last close).
    public func removeAll(fh: UInt64) -> [HeldLock] {
        removeAll { entry in
            switch entry {
            case let .pending(_, f): return f == fh
            case let .held(h): return h.fh == fh
            }
        }
    }

    /// Removes the POSIX locks of `owner` on `path` (a close by that owner).
    public func removePosix(owner: UInt64, path: String) -> [HeldLock] {
        let keys = lock.withLock { entries.keys.filter { $0.style == .posix && $0.owner == owner && $0.path == path } }
        return keys.compactMap(remove)
    }

    /// Whether any entry was taken through `fh` (so a release needs to do something).
    public func hasEntries(fh: UInt64) -> Bool {
        lock.withLock {
            entries.values.contains { entry in
                switch entry {
                case let .pending(_, f): return f == fh
                case let .held(h): return h.fh == fh
                }
            }
        }
    }

    /// The held locks of sessions other than `session` (lost to its expiry), removed from the table.
    public func removeLost(currentSession session: Int64) -> [HeldLock] {
        removeAll { if case let .held(h) = $0 { return h.session != session } else { return false } }
    }

    /// The locks held on `path`, by node name.
    public func held(on path: String) -> [String: HeldLock] {
        lock.withLock {
            var result: [String: HeldLock] = [:]
            for (key, entry) in entries where key.path == path {
                if case let .held(h) = entry { result[ZPath.name(of: h.node)] = h }
            }
            return result
        }
    }

    /// The owner's held lock, if any.
    public func heldLock(_ key: LockOwnerKey) -> HeldLock? {
        lock.withLock { if case let .held(h)? = entries[key] { return h } else { return nil } }
    }

    private func removeAll(where match: (Entry) -> Bool) -> [HeldLock] {
        let removed = lock.withLock { () -> [Entry] in
            let keys = entries.filter { match($0.value) }.map(\.key)
            return keys.compactMap { entries.removeValue(forKey: $0) }
        }
        return removed.compactMap(settle)
    }

    private func settle(_ entry: Entry?) -> HeldLock? {
        switch entry {
        case let .pending(ticket, _)?:
            ticket.cancel()
            return nil
        case let .held(h)?: return h
        case nil: return nil
        }
    }
}

/// A lock call as the kernel sends it.
public enum LockRequest: Sendable, Equatable {
    case lock(LockMode, wait: Bool)
    case unlock

    /// From flock(2)'s operation (`LOCK_SH`/`LOCK_EX`/`LOCK_UN`, with `LOCK_NB` for no waiting); nil if invalid.
    public init?(flockOperation op: Int32) {
        let wait = op & LOCK_NB == 0
        switch op & ~LOCK_NB {
        case LOCK_SH: self = .lock(.shared, wait: wait)
        case LOCK_EX: self = .lock(.exclusive, wait: wait)
        case LOCK_UN: self = .unlock
        default: return nil
        }
    }

    /// From a record lock's `l_type` (`F_RDLCK`/`F_WRLCK`/`F_UNLCK`) and whether the call may sleep (F_SETLKW);
    /// nil if invalid. Every byte range means the whole file: a znode has one lock.
    public init?(recordType type: Int32, wait: Bool) {
        switch type {
        case F_RDLCK: self = .lock(.shared, wait: wait)
        case F_WRLCK: self = .lock(.exclusive, wait: wait)
        case F_UNLCK: self = .unlock
        default: return nil
        }
    }
}
