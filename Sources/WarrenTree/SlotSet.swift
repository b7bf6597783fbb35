/// A set of slot numbers (a node's children): open addressing with linear probing and backward-shift deletion in
/// one `ContiguousArray<Int32>` (-1 = empty), growing at load 3/4 as `PathIndex` does. About 4-8 bytes per member against
/// `Set<Int32>`'s 5.3-10.7, and a small set is one 32-byte array header plus its buckets instead of ~100 bytes.
/// Iteration order is the table's, like `Set`'s: callers that need an order sort.
struct SlotSet: Sequence {
    private var table: ContiguousArray<Int32> = []
    private(set) var count = 0

    static let initialBuckets = 4

    init() {}

    var isEmpty: Bool { count == 0 }

    func contains(_ slot: Int32) -> Bool {
        guard !table.isEmpty else { return false }
        var i = bucket(slot)
        while table[i] >= 0 {
            if table[i] == slot { return true }
            i = next(i)
        }
        return false
    }

    /// Adds `slot` (>= 0); returns false if it was already there.
    @discardableResult
    mutating func insert(_ slot: Int32) -> Bool {
        precondition(slot >= 0, "negative slot \(slot) in a SlotSet")
        if (count + 1) * 4 > table.count * 3 { rebuild(buckets: Swift.max(SlotSet.initialBuckets, PathIndex.grown(table.count))) }
        var i = bucket(slot)
        while table[i] >= 0 {
            if table[i] == slot { return false }
            i = next(i)
        }
        table[i] = slot
        count += 1
        return true
    }

    /// Removes `slot`; returns false if it was not there.
    @discardableResult
    mutating func remove(_ slot: Int32) -> Bool {
        guard !table.isEmpty else { return false }
        var i = bucket(slot)
        while table[i] != slot {
            if table[i] < 0 { return false }
            i = next(i)
        }
        // Backward shift, as in PathIndex: later members of the run move into the hole when that keeps them at or
        // after their home bucket, so no lookup meets an empty bucket before its member.
        var hole = i
        var j = next(i)
        while table[j] >= 0 {
            let home = bucket(table[j])
            if distance(home, hole) < distance(home, j) {
                table[hole] = table[j]
                hole = j
            }
            j = next(j)
        }
        table[hole] = -1
        count -= 1
        return true
    }

    /// Makes room for `n` members without growing on the way.
    mutating func reserveCapacity(_ n: Int) {
        if n * 4 > table.count * 3 { rebuild(buckets: Swift.max(SlotSet.initialBuckets, n * 4 / 3 + 1)) }
    }

    func makeIterator() -> Iterator { Iterator(table: table) }

    struct Iterator: IteratorProtocol {
        let table: ContiguousArray<Int32>
        var i = 0

        mutating func next() -> Int32? {
            while i < table.count {
                let slot = table[i]
                i += 1
                if slot >= 0 { return slot }
            }
            return nil
        }
    }

    var underestimatedCount: Int { count }

    private mutating func rebuild(buckets: Int) {
        let old = table
        table = ContiguousArray(repeating: -1, count: buckets)
        for slot in old where slot >= 0 {
            var i = bucket(slot)
            while table[i] >= 0 { i = next(i) }
            table[i] = slot
        }
    }

    /// Runs of 16 consecutive slot numbers (a parent's children are mostly created, and restored, in runs) go to
    /// consecutive buckets, so filling a large set touches its table in order instead of one cache miss per
    /// member (restore of a 1M-child parent: 310 -> 240 ms); the runs themselves are spread by a multiplicative
    /// hash, so strided slot patterns do not pile up on one bucket.
    @inline(__always)
    private func bucket(_ slot: Int32) -> Int {
        let s = UInt32(bitPattern: slot)
        let x = UInt64(s >> 4) &* 0x9E37_79B9_7F4A_7C15
        let i = Int(truncatingIfNeeded: ((x >> 32) &* UInt64(table.count)) >> 32) + Int(s & 15)
        return i < table.count ? i : i % table.count
    }

    @inline(__always)
    private func next(_ i: Int) -> Int { i + 1 == table.count ? 0 : i + 1 }

    @inline(__always)
    private func distance(_ home: Int, _ i: Int) -> Int { i >= home ? i - home : i + table.count - home }
}
