/// Path → slot lookup for the tree: an open-addressing table (linear probing, backward-shift deletion) of 8-byte
/// entries, each a 32-bit hash tag of the full path plus the slot number. No path is stored: the tree checks a
/// candidate by comparing the lookup path with the candidate's chain of names (`DataTree.matches`). The table
/// grows by half, by a quarter when large (any size works: buckets are mapped by multiplication, not a mask), so
/// it costs 10.7-16 bytes per node (load 1/2 to 3/4; 10.7-13.4 when large) versus ~40 for `[String: Int32]`.
///
/// Paths are compared byte for byte (UTF-8), not with `String ==`, which treats canonically equivalent strings
/// (NFC/NFD "é") as equal: ZooKeeper compares code units, so those are different znodes.
struct PathIndex {
    /// 0 = empty; otherwise `tag << 32 | (slot + 1)`. An entry's bucket is derived from its tag alone, so the table
    /// can grow and shift entries without re-reading paths.
    private var table: [UInt64]
    private(set) var count = 0
    static let initialBuckets = 16

    init() {
        table = [UInt64](repeating: 0, count: PathIndex.initialBuckets)
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
            i = next(i)
        }
    }

    /// Adds `path` → `slot`; the path must not be present.
    mutating func insert(_ path: String, slot: Int32) { insert(tag: PathIndex.tag(path), slot: slot) }

    /// Adds an entry for a path with `tag` (see `tag(bytes:)`) at `slot`.
    mutating func insert(tag: UInt64, slot: Int32) {
        if (count + 1) * 4 > table.count * 3 { rebuild(buckets: PathIndex.grown(table.count)) }
        var i = bucket(tag)
        while table[i] != 0 { i = next(i) }
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
            i = next(i)
        }
        // Backward shift: move later entries of the probe run into the hole when that brings them no further from
        // their home bucket, so lookups never hit an empty bucket before their entry.
        var hole = i
        var j = next(i)
        while table[j] != 0 {
            let home = bucket(table[j] >> 32)
            if distance(home, hole) < distance(home, j) {
                table[hole] = table[j]
                hole = j
            }
            j = next(j)
        }
        table[hole] = 0
        count -= 1
    }

    /// Adds the paths with `tags` (not present yet) at slots `firstSlot`, `firstSlot + 1`, ... (restore). Inserts in
    /// passes over slices of `sliceBytes` of the table, each taking only the entries whose home bucket is in its
    /// slice, so probes stay in a cached part of the table instead of missing the cache on every entry; needs no
    /// buffer. Every pass reads all the tags, so slices as large as the cache allows pay: 1M nodes (a 10.7 MB
    /// table) restored in 309–315 ms in one pass vs 340–354 ms in ten 1 MiB passes, on a VM with a 260 MB L3.
    mutating func insertAll(tags: [UInt32], firstSlot: Int32, sliceBytes: Int = 1 << 20) {
        reserve(count + tags.count)
        let sliceBuckets = max(1, sliceBytes / MemoryLayout<UInt64>.size)
        let passes = max(1, table.count / sliceBuckets)
        let sliceLength = (table.count + passes - 1) / passes
        for pass in 0..<passes {
            for (n, tag) in tags.enumerated() {
                let home = bucket(UInt64(tag))
                guard passes == 1 || home / sliceLength == pass else { continue }
                var i = home
                while table[i] != 0 { i = next(i) }
                table[i] = UInt64(tag) << 32 | UInt64(UInt32(firstSlot + Int32(n) + 1))
            }
        }
        count += tags.count
    }

    /// Makes room for `n` entries without growing on the way (restore knows its node count).
    mutating func reserve(_ n: Int) {
        if n * 4 > table.count * 3 { rebuild(buckets: n * 4 / 3 + 1) }
    }

    /// Tables from this many buckets up grow by a quarter instead of a half: a big tree's index then costs 10.7-13.4
    /// bytes per node instead of 10.7-16, and a restored one (sized three quarters full) grows by 2.7 MB, not 5.3, at
    /// the first create after a 1M-node restore. The extra rebuilds cost one pass over the table each.
    static let quarterGrowthBucketsMin = 1 << 20

    /// The bucket count a full table of `buckets` grows to.
    static func grown(_ buckets: Int) -> Int {
        buckets + (buckets >= quarterGrowthBucketsMin ? buckets / 4 : buckets / 2)
    }

    /// Every indexed slot, in table order.
    var slots: [Int32] {
        table.compactMap { $0 == 0 ? nil : Int32(truncatingIfNeeded: $0 & 0xFFFF_FFFF) - 1 }
    }

    private mutating func rebuild(buckets: Int) {
        let old = table
        table = [UInt64](repeating: 0, count: buckets)
        for entry in old where entry != 0 {
            var i = bucket(entry >> 32)
            while table[i] != 0 { i = next(i) }
            table[i] = entry
        }
    }

    /// The home bucket of a tag: its mixed high 32 bits scaled to the table size.
    @inline(__always)
    private func bucket(_ tag: UInt64) -> Int {
        var x = tag &* 0x9E37_79B9_7F4A_7C15
        x ^= x >> 29
        return Int(truncatingIfNeeded: ((x >> 32) &* UInt64(table.count)) >> 32)
    }

    @inline(__always)
    private func next(_ i: Int) -> Int { i + 1 == table.count ? 0 : i + 1 }

    /// How far past `home` bucket `i` is, going forward with wrap-around.
    @inline(__always)
    private func distance(_ home: Int, _ i: Int) -> Int { i >= home ? i - home : i + table.count - home }

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
