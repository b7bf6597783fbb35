import WarrenRandom

/// A session's state as the tracker sees it, for `cons`, `dump` and `mntr`.
public struct SessionInfo: Hashable, Sendable {
    public var id: Int64
    /// The negotiated timeout.
    public var timeoutMs: Int32
    /// The tick boundary at which the session expires unless touched, or where it last expired if `isClosing`, on
    /// the caller's monotonic clock (see `SessionTracker`).
    public var expiresAtMonoMs: Int64
    /// Expired, or a close is under way: the session accepts no more requests or touches.
    public var isClosing: Bool
}

/// Bad tracker configuration.
public enum SessionTrackerError: Error, Hashable, Sendable {
    /// ZooKeeper puts the server id in the session id's top byte and reserves 255 for TTL node owners.
    case serverIdOutOfRange(Int64)
    case tickTimeNotPositive(Int32)
    case minSessionTimeoutAboveMax(minMs: Int32, maxMs: Int32)
}

/// ZooKeeper's `SessionTrackerImpl` with its `ExpiryQueue`, for a standalone server. Pure: the caller passes the time
/// in, and calls `expired(monoMs:)` at `nextExpiryMonoMs` (or every tick) to learn which sessions to close.
///
/// Every `monoMs` is a reading of a monotonic clock in milliseconds (any origin, the same clock for every call), as
/// ZooKeeper uses `Time.currentElapsedTime()`: never the wall clock, which can step by hours and would then expire
/// every session at once (forwards) or keep dead ones alive (backwards).
///
/// Expiry is bucketed by tick: a session touched at `now` expires at the first tick boundary strictly after
/// `now + timeout`, so up to one tick later than its timeout, and all sessions of a bucket expire together.
public struct SessionTracker: Sendable {
    public let serverId: Int64
    public let tickTimeMs: Int32
    public let minSessionTimeoutMs: Int32
    public let maxSessionTimeoutMs: Int32
    /// Session passwords are derived from the id and this secret, so a restarted server (same secret) accepts them.
    private let secret: UInt64

    private var sessions: [Int64: Session] = [:]
    /// Tick boundary → sessions expiring there. Never holds an empty set.
    private var buckets: [Int64: Set<Int64>] = [:]
    private var nextSessionId: Int64

    private struct Session: Sendable {
        var timeoutMs: Int32
        var expiresAtMonoMs: Int64
        var isClosing: Bool
    }

    /// - Parameters:
    ///   - serverId: 0...254, the top byte of every session id this server creates (0 for standalone).
    ///   - minSessionTimeoutMs, maxSessionTimeoutMs: bounds for `negotiate`; nil means ZooKeeper's defaults of 2 and
    ///     20 ticks.
    ///   - secret: from configuration; keep it across restarts or clients cannot resume their sessions.
    ///   - startTimeMs: seeds the session ids as ZooKeeper does: the wall clock (Unix epoch ms), so ids differ across
    ///     restarts; it times nothing.
    public init(
        serverId: Int64 = 0, tickTimeMs: Int32 = 2000, minSessionTimeoutMs: Int32? = nil,
        maxSessionTimeoutMs: Int32? = nil, secret: UInt64, startTimeMs: Int64
    ) throws {
        guard (0...254).contains(serverId) else { throw SessionTrackerError.serverIdOutOfRange(serverId) }
        guard tickTimeMs > 0 else { throw SessionTrackerError.tickTimeNotPositive(tickTimeMs) }
        let minMs = minSessionTimeoutMs ?? tickTimeMs.multipliedReportingOverflow(by: 2).partialValue
        let maxMs = maxSessionTimeoutMs ?? tickTimeMs.multipliedReportingOverflow(by: 20).partialValue
        guard minMs <= maxMs else { throw SessionTrackerError.minSessionTimeoutAboveMax(minMs: minMs, maxMs: maxMs) }
        self.serverId = serverId
        self.tickTimeMs = tickTimeMs
        self.minSessionTimeoutMs = minMs
        self.maxSessionTimeoutMs = maxMs
        self.secret = secret
        self.nextSessionId = Self.firstSessionId(serverId: serverId, startTimeMs: startTimeMs)
    }

    /// ZooKeeper's `initializeNextSessionId`: server id in the top byte, the low 40 bits of the time in the next
    /// five bytes, zeros in the low two bytes (room for 65536 sessions before the time bits move).
    public static func firstSessionId(serverId: Int64, startTimeMs: Int64) -> Int64 {
        let timeBits = UInt64(bitPattern: startTimeMs << 24) >> 8
        var id = Int64(bitPattern: timeBits | UInt64(bitPattern: serverId << 56))
        // Int64.min marks container nodes' owner in ZooKeeper, so it must never be a session.
        if id == Int64.min { id += 1 }
        return id
    }

    // MARK: Timeouts

    /// The timeout to grant a client asking for `requestedMs`: clamped to [minSessionTimeoutMs, maxSessionTimeoutMs].
    public func negotiate(_ requestedMs: Int32) -> Int32 {
        min(max(requestedMs, minSessionTimeoutMs), maxSessionTimeoutMs)
    }

    /// The bucket a session touched at `monoMs` with `timeoutMs` falls in: the first tick boundary strictly after
    /// `monoMs + timeoutMs` (ExpiryQueue's rounding).
    public func expiryTime(monoMs: Int64, timeoutMs: Int32) -> Int64 {
        let tick = Int64(tickTimeMs)
        let deadline = monoMs + Int64(timeoutMs)
        // Floor division, so a negative clock reading still lands on a boundary above the deadline.
        let floored = deadline >= 0 ? deadline / tick : (deadline - tick + 1) / tick
        return (floored + 1) * tick
    }

    // MARK: Lifecycle

    /// Starts a new session with an already negotiated timeout.
    /// - Returns: its id and the 16-byte password the client must present to resume it.
    public mutating func createSession(timeoutMs: Int32, monoMs: Int64) -> (id: Int64, password: [UInt8]) {
        var id = nextSessionId
        // ZooKeeper would hand out a restored session's id again if the clock went backwards; skip taken ids.
        while id == 0 || id == Int64.min || sessions[id] != nil { id &+= 1 }
        nextSessionId = id &+ 1
        addSession(id: id, timeoutMs: timeoutMs, monoMs: monoMs)
        return (id, password(for: id))
    }

    /// Tracks a session restored from a snapshot or the log (or a createSession transaction), as due to expire one
    /// timeout from `monoMs`. An already tracked session keeps its timeout and closing state but is rescheduled with
    /// `timeoutMs`, as ZooKeeper's `trackSession` does.
    /// - Returns: true if the session was new.
    @discardableResult
    public mutating func addSession(id: Int64, timeoutMs: Int32, monoMs: Int64) -> Bool {
        let isNew = sessions[id] == nil
        if isNew {
            sessions[id] = Session(timeoutMs: timeoutMs, expiresAtMonoMs: 0, isClosing: false)
        }
        schedule(id, at: expiryTime(monoMs: monoMs, timeoutMs: timeoutMs))
        return isNew
    }

    /// Postpones expiry to one timeout from `monoMs` (any request or ping from the client).
    /// - Returns: false, changing nothing, if the session is unknown or closing.
    @discardableResult
    public mutating func touch(_ id: Int64, monoMs: Int64) -> Bool {
        guard let session = sessions[id], !session.isClosing else { return false }
        schedule(id, at: expiryTime(monoMs: monoMs, timeoutMs: session.timeoutMs))
        return true
    }

    /// Sessions whose expiry time is at or before `monoMs`, now marked closing and out of the expiry schedule. The
    /// caller closes each (deleting its ephemerals) and then calls `close`. Ordered by expiry time, then id.
    public mutating func expired(monoMs: Int64) -> [Int64] {
        var result: [Int64] = []
        for time in buckets.keys.filter({ $0 <= monoMs }).sorted() {
            for id in buckets.removeValue(forKey: time)!.sorted() {
                sessions[id]?.isClosing = true
                result.append(id)
            }
        }
        return result
    }

    /// The earliest tick at which `expired` will return something, or nil if no session is scheduled.
    public var nextExpiryMonoMs: Int64? {
        buckets.keys.min()
    }

    /// Marks a session as closing (a closeSession request is under way): no more touches, `isValid` is false. It
    /// stays scheduled, so if `close` never comes it is reported by `expired` again.
    public mutating func markClosing(_ id: Int64) {
        sessions[id]?.isClosing = true
    }

    /// Forgets a session once its close has been applied. Unknown ids are ignored.
    public mutating func close(_ id: Int64) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        unschedule(id, from: session.expiresAtMonoMs)
    }

    private mutating func schedule(_ id: Int64, at time: Int64) {
        guard let session = sessions[id] else {
            preconditionFailure("schedule(\(id), at: \(time)): session not tracked; tracked: \(sessions.keys.sorted())")
        }
        if session.expiresAtMonoMs == time, buckets[time]?.contains(id) == true { return }
        unschedule(id, from: session.expiresAtMonoMs)
        buckets[time, default: []].insert(id)
        sessions[id]?.expiresAtMonoMs = time
    }

    private mutating func unschedule(_ id: Int64, from time: Int64) {
        buckets[time]?.remove(id)
        if buckets[time]?.isEmpty == true { buckets[time] = nil }
    }

    // MARK: Queries

    /// Tracked and not closing: the session may issue requests.
    public func isValid(_ id: Int64) -> Bool {
        sessions[id].map { !$0.isClosing } ?? false
    }

    public func isTracked(_ id: Int64) -> Bool { sessions[id] != nil }

    public func session(_ id: Int64) -> SessionInfo? {
        sessions[id].map {
            SessionInfo(id: id, timeoutMs: $0.timeoutMs, expiresAtMonoMs: $0.expiresAtMonoMs, isClosing: $0.isClosing)
        }
    }

    /// Tracked sessions, closing ones included.
    public var count: Int { sessions.count }

    /// Every tracked session, by id.
    public var all: [SessionInfo] {
        sessions.keys.sorted().map { session($0)! }
    }

    // MARK: Passwords

    /// The password of session `id`: 16 bytes derived from the id and the secret, the same on every server and
    /// across restarts that share the secret.
    public func password(for id: Int64) -> [UInt8] {
        var keyed = SeededRandom(seed: secret)
        var generator = SeededRandom(seed: keyed.next() ^ UInt64(bitPattern: id))
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for _ in 0..<2 {
            let word = generator.next()
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return bytes
    }

    /// Whether `password` is session `id`'s. Like ZooKeeper, id 0 never matches; whether the session is still
    /// tracked is a separate question (`isValid`).
    public func checkPassword(_ id: Int64, _ password: [UInt8]) -> Bool {
        guard id != 0, password.count == 16 else { return false }
        // Compare every byte so the time taken doesn't reveal how much of a guess was right.
        return zip(password, self.password(for: id)).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
