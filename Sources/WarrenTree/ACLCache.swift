import WarrenJute

/// Interns ACL lists: most trees use a handful of distinct lists, so each node stores a 4-byte reference instead of
/// its own array (like ZooKeeper's `ReferenceCountedACLCache`). Entries are reference-counted and their slots reused
/// when the count drops to zero.
struct ACLCache {
    private(set) var lists: [[ACL]] = []
    private var refCounts: [Int] = []
    /// A stable hash of each list, folded into node digests.
    private(set) var hashes: [UInt64] = []
    private var index: [[ACL]: Int32] = [:]
    private var freeSlots: [Int32] = []

    /// Number of distinct lists in use.
    var count: Int { index.count }

    /// The reference for `acl`, adding one use.
    mutating func intern(_ acl: [ACL]) -> Int32 {
        if let ref = index[acl] {
            refCounts[Int(ref)] += 1
            return ref
        }
        let ref: Int32
        if let free = freeSlots.popLast() {
            ref = free
            lists[Int(ref)] = acl
            refCounts[Int(ref)] = 1
            hashes[Int(ref)] = ACLCache.hash(acl)
        } else {
            ref = Int32(lists.count)
            lists.append(acl)
            refCounts.append(1)
            hashes.append(ACLCache.hash(acl))
        }
        index[acl] = ref
        return ref
    }

    /// Adds one use of a reference already in use (cheaper than `intern` when the caller knows the ref).
    mutating func retain(_ ref: Int32) {
        precondition(refCounts[Int(ref)] > 0, "retain of unused ACL ref \(ref)")
        refCounts[Int(ref)] += 1
    }

    /// Drops one use of `ref`.
    mutating func release(_ ref: Int32) {
        let i = Int(ref)
        precondition(i >= 0 && i < refCounts.count && refCounts[i] > 0, "release of unused ACL ref \(ref)")
        refCounts[i] -= 1
        if refCounts[i] == 0 {
            index[lists[i]] = nil
            lists[i] = []
            freeSlots.append(ref)
        }
    }

    func list(_ ref: Int32) -> [ACL] { lists[Int(ref)] }

    func hash(_ ref: Int32) -> UInt64 { hashes[Int(ref)] }

    static func hash(_ acl: [ACL]) -> UInt64 {
        var h = FNV1a()
        for entry in acl {
            h.add(UInt64(UInt32(bitPattern: entry.perms.rawValue)))
            h.add(entry.id.scheme)
            h.add(entry.id.id)
        }
        return h.value
    }
}

/// 64-bit FNV-1a, used for the tree digest: simple, stable across processes and platforms (unlike `Hasher`).
struct FNV1a {
    private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    private static let prime: UInt64 = 0x0000_0100_0000_01B3

    mutating func add<C: Collection>(bytes: C) where C.Element == UInt8 {
        var v = value
        for b in bytes { v = (v ^ UInt64(b)) &* FNV1a.prime }
        value = v
    }

    /// A length-prefixed string, so that ("ab", "c") and ("a", "bc") hash differently.
    mutating func add(_ s: String) {
        add(UInt64(s.utf8.count))
        add(bytes: s.utf8)
    }

    mutating func add(_ v: UInt64) {
        var v2 = value
        for shift in stride(from: 0, to: 64, by: 8) { v2 = (v2 ^ ((v >> UInt64(shift)) & 0xFF)) &* FNV1a.prime }
        value = v2
    }

    mutating func add(_ v: Int64) { add(UInt64(bitPattern: v)) }
}

/// The node hash of the tree digest: 64-bit words at a time (multiply, fold), then a final avalanche. Byte-wise
/// FNV-1a over every value twice per setData (old and new node) was 4-8 % of a write-heavy server's CPU; this does
/// one multiply per 8 bytes. Stable across processes and platforms (explicit little-endian loads, no `Hasher`).
struct WordHasher {
    private var h: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    mutating func add(_ w: UInt64) {
        h = (h ^ w) &* 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 32
    }

    @inline(__always)
    mutating func add(_ v: Int64) { add(UInt64(bitPattern: v)) }

    /// The bytes only; callers add the length first so the zero-padded last word is unambiguous.
    mutating func add(bytes p: UnsafeRawBufferPointer) {
        var i = 0
        while i + 8 <= p.count {
            add(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        if i < p.count {
            var tail: UInt64 = 0
            for j in i..<p.count { tail |= UInt64(p[j]) << UInt64((j - i) * 8) }
            add(tail)
        }
    }

    var value: UInt64 {
        var x = h
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }
}
