import Foundation

/// Shared (read) or exclusive (write) hold of a lock.
public enum LockMode: Sendable, Equatable {
    case shared
    case exclusive
}

/// Which recipe's naming a contender node follows. A node name must place the recipe's marker right before the
/// sequence number for that recipe to sort it, so one name cannot satisfy Curator's mutex and its read/write lock
/// at once.
public enum LockFamily: Sendable, Equatable {
    /// Curator's `InterProcessMutex` (`…lock-<seq>`); kazoo's `Lock` sees these with
    /// `extra_lock_patterns=["-lock-"]`.
    case mutex
    /// Curator's `InterProcessReadWriteLock` (`…__READ__<seq>`, `…__WRIT__<seq>`).
    case readWrite
    /// kazoo's `Lock`/`WriteLock` (`<uuid>__lock__<seq>`) and `ReadLock` (`__rlock__`).
    case kazoo
}

/// One contender child of a lock node, recognised by its name: a marker followed by the ten-digit sequence
/// number ZooKeeper appended. (A parent's counter wraps negative after 2^31 creations; such names are not
/// recognised.)
public struct LockContender: Sendable, Equatable {
    public let name: String
    public let sequence: Int64
    public let mode: LockMode
    public let family: LockFamily

    /// Markers in the order they are tried: `__rlock__` before `__lock__`, which it does not end with but reads
    /// alike.
    static let markers: [(marker: String, mode: LockMode, family: LockFamily)] = [
        ("__READ__", .shared, .readWrite),
        ("__WRIT__", .exclusive, .readWrite),
        ("__rlock__", .shared, .kazoo),
        ("__lock__", .exclusive, .kazoo),
        ("lock-", .exclusive, .mutex),
    ]

    static let sequenceDigits = 10

    /// Parses `name`; nil if it is not a contender of any known recipe.
    public init?(name: String) {
        let utf8 = Array(name.utf8)
        guard utf8.count > Self.sequenceDigits,
              utf8.suffix(Self.sequenceDigits).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        let prefixEnd = utf8.count - Self.sequenceDigits
        let digits = String(decoding: utf8[prefixEnd...], as: UTF8.self)
        let prefix = String(decoding: utf8[..<prefixEnd], as: UTF8.self)
        guard let match = Self.markers.first(where: { prefix.hasSuffix($0.marker) }),
              let sequence = Int64(digits) else { return nil }
        self.name = name
        self.sequence = sequence
        self.mode = match.mode
        self.family = match.family
    }

    public static func isContender(_ name: String) -> Bool { LockContender(name: name) != nil }
}

/// What a contender must do next, decided from the lock node's children alone.
public enum LockDecision: Sendable, Equatable {
    /// It holds the lock.
    case granted
    /// It waits for this child (the nearest earlier contender it conflicts with) to go away.
    case wait(predecessor: String)
    /// Its node is gone (the session that made it expired): it must contend again.
    case absent
    /// Its node uses the mutex naming while Curator read/write contenders are present, which would not see it:
    /// it must be created again as `__WRIT__`.
    case relayout(LockFamily)
}

/// The herd-free queue of one lock: contenders ordered by sequence number (first come, first served); an
/// exclusive contender waits for its immediate predecessor, a shared one for the nearest earlier exclusive one.
/// Every recognised recipe's nodes count, whichever recipe made them.
public enum LockQueue {
    /// The decision for our node `ours` among `children` (names, any order; non-contenders are ignored).
    public static func decide(ours: String, children: [String]) -> LockDecision {
        let contenders = sorted(children)
        guard let mine = contenders.first(where: { $0.name == ours }) else { return .absent }
        let others = contenders.filter { $0.name != ours }
        // Only ever towards read/write naming, so two of our contenders cannot keep flipping each other.
        if mine.mode == .exclusive, mine.family == .mutex, others.contains(where: { $0.family == .readWrite }) {
            return .relayout(.readWrite)
        }
        let earlier = others.filter { $0.sequence < mine.sequence }
        let blocking = mine.mode == .exclusive ? earlier : earlier.filter { $0.mode == .exclusive }
        guard let predecessor = blocking.last else { return .granted }
        return .wait(predecessor: predecessor.name)
    }

    /// The naming a new contender of `mode` uses among `children`: shared ones are always read/write (no other
    /// recipe Curator has knows readers); exclusive ones follow Curator's read/write lock if its nodes are
    /// present, else its mutex.
    public static func family(for mode: LockMode, among children: [String]) -> LockFamily {
        if mode == .shared { return .readWrite }
        return children.contains { LockContender(name: $0)?.family == .readWrite } ? .readWrite : .mutex
    }

    /// The name given to the create request (ZooKeeper appends the sequence): Curator's protected form
    /// `_c_<uuid>-<marker>`, so that Curator sorts it like its own and a lost create reply can be recognised.
    public static func nodePrefix(id: UUID, mode: LockMode, family: LockFamily) -> String {
        let marker: String
        switch (mode, family) {
        case (.shared, _): marker = "__READ__"
        case (.exclusive, .readWrite): marker = "__WRIT__"
        case (.exclusive, _): marker = "lock-"
        }
        return "_c_\(id.uuidString.lowercased())-\(marker)"
    }

    /// The contenders among `children`, first come first.
    public static func sorted(_ children: [String]) -> [LockContender] {
        children.compactMap(LockContender.init(name:)).sorted { $0.sequence < $1.sequence }
    }

    /// Those holding the lock now: the leading run of shared contenders, or the first if it is exclusive.
    public static func holders(_ children: [String]) -> [LockContender] {
        let contenders = sorted(children)
        guard let first = contenders.first else { return [] }
        if first.mode == .exclusive { return [first] }
        return Array(contenders.prefix { $0.mode == .shared })
    }

    /// Whether every child is a lock contender (and there is at least one): such a node is shown as a file.
    public static func isLockOnly(_ children: [String]) -> Bool {
        !children.isEmpty && children.allSatisfy(LockContender.isContender)
    }

    /// A holder a request for `mode` would conflict with, not counting `ownNodes` (the asker's own).
    public static func conflict(for mode: LockMode, children: [String], ownNodes: Set<String>) -> LockContender? {
        holders(children).first { !ownNodes.contains($0.name) && (mode == .exclusive || $0.mode == .exclusive) }
    }
}
