/// What a contender does next, given the current children of the recipe's node.
public enum ContenderDecision: Equatable, Sendable {
    /// We hold the lock / are the leader.
    case acquired
    /// Wait until this sibling (a child name) changes, then look again.
    case watch(String)
    /// Our own node is not among the children.
    case missing
}

/// The ordering and admission rules of Curator's lock-like recipes, as pure functions so that they are testable
/// without a server.
///
/// Curator sorts contenders by the text after the last occurrence of the recipe's marker (`lock-`, `latch-`,
/// `__READ__`/`__WRIT__`): the 10-digit sequence. Names without a marker sort by their whole text, as in Curator,
/// so foreign children never reorder real contenders among themselves.
public enum ContenderOrder {
    /// The sort key Curator uses: what follows the last occurrence of any of `markers`, or the whole name.
    public static func sortKey(_ name: String, markers: [String]) -> Substring {
        var key = Substring(name)
        for marker in markers {
            if let range = key.range(of: marker, options: .backwards) { key = key[range.upperBound...] }
        }
        return key
    }

    /// `children` in contention order.
    public static func sorted(_ children: [String], markers: [String]) -> [String] {
        children.sorted { sortKey($0, markers: markers) < sortKey($1, markers: markers) }
    }

    /// Only contender nodes (names containing one of `markers`), in contention order.
    public static func contenders(_ children: [String], markers: [String]) -> [String] {
        sorted(children.filter { name in markers.contains { name.contains($0) } }, markers: markers)
    }

    /// An exclusive holder (mutex, write lock, leader latch): we hold it if fewer than `leases` contenders come
    /// before us; otherwise we watch the one `leases` places ahead (only it, so that a release wakes one waiter).
    public static func exclusive(sorted: [String], ours: String, leases: Int = 1) -> ContenderDecision {
        guard let index = sorted.firstIndex(of: ours) else { return .missing }
        return index < leases ? .acquired : .watch(sorted[index - leases])
    }

    /// A reader of a read-write lock: it holds the lock if no writer comes before it, else it watches the first
    /// writer. A reader whose owner holds the write lock always gets in (Curator's downgrade rule).
    public static func reader(sorted: [String], ours: String, writerMarker: String, ownerHoldsWrite: Bool)
        -> ContenderDecision
    {
        guard let index = sorted.firstIndex(of: ours) else { return .missing }
        if ownerHoldsWrite { return .acquired }
        if let firstWriter = sorted[..<index].first(where: { $0.contains(writerMarker) }) {
            return .watch(firstWriter)
        }
        return .acquired
    }
}
