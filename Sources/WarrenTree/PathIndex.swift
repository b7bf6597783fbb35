/// Path → slot lookup for the tree: an open-addressing table (linear probing, backward-shift deletion) of 8-byte
/// entries, each a 32-bit hash tag of the full path plus the slot number. No path is stored: the tree checks a
/// candidate by comparing the lookup path with the candidate's chain of names (`DataTree.matches`). 10.7-21 bytes
/// per node (load 3/8 to 3/4) versus ~40 for `[String: Int32]`.
///
/// Paths are compared byte for byte (UTF-8), not with `String ==`, which treats canonically equivalent strings
/// (NFC/NFD "é") as equal: ZooKeeper compares code units, so those are different znodes.
struct PathIndex {
    /// 0 = empty; otherwise `tag << 32 | (slot + 1)`. An entry's bucket is derived from its tag alone, so the table
    /// can grow and shift entries without re-reading paths.
    private var table: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init() {
        table = [UInt64](repeating: 0, count: 16)
        mask = 15
    }

    /// The slot holding `path`, reading candidate paths through `pathOf`.
    func find(_ path: String, pathOf: (Int32) -> String) -> Int32? {
        find(tag: PathIndex.tag(path)) { PathIndex.same(pathOf($0), path) }
    }

    /// The slot whose entry has `tag` and for which `matches` holds (it checks the candidate's real path).
    @inline(__always)
    func find(tag: UInt64, matches: (Int32) -> Bool) -> Int32? {
        var i = bucket(tag)
        while true {
            let entry = table[i]
            if entry == 0 { return nil }
            if entry >> 32 == tag {
                let slot = Int32(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if matches(slot) { return slot }
            }
            i = (i + 1) & mask
        }
    }

    /// Adds `path` → `slot`; the path must not be present.
    mutating func insert(_ path: String, slot: Int32) { insert(tag: PathIndex.tag(path), slot: slot) }

    /// Adds an entry for a path with `tag` (see `tag(bytes:)`) at `slot`.
    mutating func insert(tag: UInt64, slot: Int32) {
        if (count + 1) * 4 > table.count * 3 { grow() }
        var i = bucket(tag)
        while table[i] != 0 { i = (i + 1) & mask }
        table[i] = tag << 32 | UInt64(UInt32(slot + 1))
        count += 1
    }

    /// Removes `path`, which must be indexed at `slot`.
    mutating func remove(_ path: String, slot: Int32) { remove(tag: PathIndex.tag(path), slot: slot) }

    /// Removes the entry of the path with `tag` at `slot`, which must exist.
    mutating func remove(tag: UInt64, slot: Int32) {
        let want = tag << 32 | UInt64(UInt32(slot + 1))
        var i = bucket(want >> 32)
        while table[i] != want {
            precondition(table[i] != 0, "remove of unindexed tag \(tag) at slot \(slot)")
            i = (i + 1) & mask
        }
        // Backward shift: move later entries of the probe run into the hole when that brings them no further from
        // their home bucket, so lookups never hit an empty bucket before their entry.
        var hole = i
        var j = (i + 1) & mask
        while table[j] != 0 {
            let home = bucket(table[j] >> 32)
            if (hole - home) & mask < (j - home) & mask {
                table[hole] = table[j]
                hole = j
            }
            j = (j + 1) & mask
        }
        table[hole] = 0
        count -= 1
    }

    /// Makes room for `n` entries without growing on the way (restore knows its node count).
    mutating func reserve(_ n: Int) {
        while n * 4 > table.count * 3 { grow() }
    }

    /// Every indexed slot, in table order.
    var slots: [Int32] {
        table.compactMap { $0 == 0 ? nil : Int32(truncatingIfNeeded: $0 & 0xFFFF_FFFF) - 1 }
    }

    private mutating func grow() {
        let old = table
        table = [UInt64](repeating: 0, count: old.count * 2)
        mask = table.count - 1
        for entry in old where entry != 0 {
            var i = bucket(entry >> 32)
            while table[i] != 0 { i = (i + 1) & mask }
            table[i] = entry
        }
    }

    @inline(__always)
    private func bucket(_ tag: UInt64) -> Int {
        var x = tag &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(truncatingIfNeeded: x) & mask
    }

    /// A well-mixed 32-bit hash of the UTF-8 bytes (FNV-1a, finalised). Entries are never 0 because the slot
    /// half stores slot + 1.
    @inline(__always)
    static func tag(_ path: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in path.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return finish(h)
    }

    /// `tag` of a path given as UTF-8 bytes.
    @inline(__always)
    static func tag(bytes path: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in path { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return finish(h)
    }

    @inline(__always)
    private static func finish(_ hash: UInt64) -> UInt64 {
        var h = hash
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        return h >> 32
    }

    @inline(__always)
    static func same(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
    }
}

/// A path as a dictionary key with ZooKeeper's equality: exact UTF-8 bytes, not Unicode canonical equivalence.
struct PathKey: Hashable {
    let path: String

    init(_ path: String) { self.path = path }

    static func == (a: PathKey, b: PathKey) -> Bool { PathIndex.same(a.path, b.path) }

    func hash(into hasher: inout Hasher) {
        hasher.combine(path.utf8.count)
        for b in path.utf8 { hasher.combine(b) }
    }
}
