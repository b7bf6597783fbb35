import WarrenJute

/// Version 2 node records (version 3 uses the same records with the data moved out, see `SnapshotV3`). Every node, in the same pre-order as version 1, is
///
///     varint childCount, varint nameLength, name, varint dataLength + 1 (0: null data), data, varint aclIndex,
///     UInt8 flags, varint czxid, varint ctime, [varint mzxid - czxid], [varint mtime - ctime], [varint version],
///     [varint aversion], [long ephemeralOwner], [varint cversion], [varint pzxid - czxid]
///
/// where a bracketed field is present only when its flag is set (`NodeBlob`'s bits 2...32, plus 64 for cversion
/// and 128 for pzxid); absent fields take their usual values (mzxid = czxid, mtime = ctime, pzxid = czxid, the rest
/// 0). Varints are LEB128 of the two's-complement bits (UInt32 bits for the Int32 fields). The child counts give
/// every node's parent, so no path is stored: restore rebuilds paths from names as it goes. Siblings come in
/// strictly increasing name order (UTF-8 bytes), which restore checks instead of looking every path up for a
/// duplicate.
enum SnapshotV2 {
    static let hasCversion: UInt8 = 64
    static let hasPzxid: UInt8 = 128
    /// Flags a version 2 record may carry (null data is in the data length instead).
    static let knownFlags: UInt8 = NodeBlob.statFlags | hasCversion | hasPzxid
}

extension JuteWriter {
    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            writeByte(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        writeByte(UInt8(v))
    }
}

extension DataTree {
    func writeNodesV2(_ order: [Int32], aclIndex: [Int32], to w: inout JuteWriter) {
        for slot in order { writeNodeRecord(slot, aclIndex: aclIndex, inlineData: true, to: &w) }
    }

    /// One node's version 2 record; with `inlineData` false the data bytes are left out (version 3 puts them in
    /// its value region), everything else, the data length included, is the same.
    func writeNodeRecord(_ slot: Int32, aclIndex: [Int32], inlineData: Bool, to w: inout JuteWriter) {
        let node = slots[Int(slot)]
        let children = childCount(slot)
        arena.withBlob(node.blob) { p in
            let b = NodeBlob(at: p, timeBase: arena.timeBase)
            let (cversion, pzxid) = node.ext >= 0 ? (exts[Int(node.ext)].cversion, exts[Int(node.ext)].pzxid) : (0, b.czxid)
            w.writeVarint(UInt64(children))
            w.writeVarint(UInt64(b.nameLength))
            w.writeRaw(UnsafeRawBufferPointer(start: p + b.nameOffset, count: b.nameLength))
            w.writeVarint(b.isDataNull ? 0 : UInt64(b.dataLength) + 1)
            if inlineData { w.writeRaw(UnsafeRawBufferPointer(start: p + b.dataOffset, count: b.dataLength)) }
            w.writeVarint(UInt64(aclIndex[Int(node.aclRef)]))
            var flags = b.flags & NodeBlob.statFlags
            if cversion != 0 { flags |= SnapshotV2.hasCversion }
            if pzxid != b.czxid { flags |= SnapshotV2.hasPzxid }
            w.writeByte(flags)
            w.writeVarint(UInt64(bitPattern: b.czxid))
            w.writeVarint(UInt64(bitPattern: b.ctime))
            if flags & NodeBlob.hasMzxid != 0 { w.writeVarint(UInt64(bitPattern: b.mzxid &- b.czxid)) }
            if flags & NodeBlob.hasMtime != 0 { w.writeVarint(UInt64(bitPattern: b.mtime &- b.ctime)) }
            if flags & NodeBlob.hasVersion != 0 { w.writeVarint(UInt64(UInt32(bitPattern: b.version))) }
            if flags & NodeBlob.hasAversion != 0 { w.writeVarint(UInt64(UInt32(bitPattern: b.aversion))) }
            if flags & NodeBlob.hasOwner != 0 { w.writeLong(b.ephemeralOwner) }
            if flags & SnapshotV2.hasCversion != 0 { w.writeVarint(UInt64(UInt32(bitPattern: cversion))) }
            if flags & SnapshotV2.hasPzxid != 0 { w.writeVarint(UInt64(bitPattern: pzxid &- b.czxid)) }
        }
    }
}

extension SnapshotCursor {
    mutating func readVarint() throws(JuteError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else { throw JuteError.truncated(needed: 1, available: 0) }
            let b = raw[offset]
            skip(1)
            if shift == 63 && b > 1 { throw JuteError.badValue("varint overflows 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func readVarint32() throws(JuteError) -> Int32 {
        let v = try readVarint()
        guard v <= UInt64(UInt32.max) else { throw JuteError.badValue("varint \(v) overflows 32 bits") }
        return Int32(bitPattern: UInt32(v))
    }

    /// A varint length or count, at most `limit`.
    mutating func readCount(limit: Int) throws(JuteError) -> Int {
        let v = try readVarint()
        guard v <= UInt64(limit) else { throw JuteError.badLength(Int32(truncatingIfNeeded: v)) }
        return Int(v)
    }

    mutating func readRaw(_ n: Int) throws(JuteError) -> UnsafeRawBufferPointer {
        guard n <= end - offset else { throw JuteError.truncated(needed: n, available: end - offset) }
        defer { skip(n) }
        return UnsafeRawBufferPointer(rebasing: raw[offset..<offset + n])
    }
}

/// Adds the nodes of a version 2 snapshot to a tree. `chain` holds the ancestors of the next node with how many
/// children each still expects; `current` holds the path of the newest node, whose prefixes are the ancestors'.
struct SnapshotV2Loader {
    let tree: DataTree
    private var acls: SnapshotACLRefs
    /// `lastChildEnd`: where the previous child's name ends in `current`, or 0 before the first child.
    private var chain: [(slot: Int32, remaining: Int, length: Int, lastChildEnd: Int)] = []
    private var current: [UInt8] = []
    /// Index tags of every node but the root, in slot order from 1, added in bulk by `finish`.
    private var indexTags: [UInt32] = []
    /// The snapshot's node count, how many nodes were added, and how many children the counts read so far
    /// announce that have not come yet: room is reserved for announced children only while they fit in the nodes
    /// still to come, so a damaged count costs an error, not an allocation of what it claims.
    private let nodeCount: Int
    private var added = 0
    private var promised = 0

    init(tree: DataTree, aclLists: [[ACL]], nodeCount: Int) {
        self.tree = tree
        self.nodeCount = nodeCount
        acls = SnapshotACLRefs(aclLists)
        tree.slots.reserveCapacity(nodeCount)
        indexTags.reserveCapacity(nodeCount)
    }

    mutating func loadNode(_ c: inout SnapshotCursor) throws {
        let childCount = try c.readCount(limit: Int(Int32.max))
        let name = try c.readRaw(try c.readCount(limit: c.end - c.offset))
        let dataTag = try c.readCount(limit: c.end - c.offset + 1)
        let data = dataTag == 0 ? nil : try c.readRaw(dataTag - 1)
        try add(childCount: childCount, name: name, data: data, &c)
    }

    /// Adds a node whose record has been read up to its data (`data` may come from elsewhere, as in version 3);
    /// reads the rest of the record (ACL index and stat) from `c`.
    mutating func add(childCount: Int, name: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer?,
                      _ c: inout SnapshotCursor) throws {
        let aclIndex = try c.readCount(limit: Int(Int32.max))
        guard aclIndex < acls.count else { throw SnapshotError.inconsistent("ACL index \(aclIndex) outside 0..<\(acls.count)") }
        let stat = try readStat(&c)
        let aclRef = acls.ref(aclIndex, in: tree)
        added += 1
        promised += childCount - (chain.isEmpty ? 0 : 1)
        guard promised <= nodeCount - added else {
            throw SnapshotError.inconsistent("child counts announce \(promised) more nodes, \(nodeCount - added) follow")
        }
        if chain.isEmpty {
            guard tree.nodeCount == 0 else { throw SnapshotError.inconsistent("more nodes than the child counts allow") }
            guard name.isEmpty else { throw SnapshotError.inconsistent("first node has a name, it is not /") }
            tree.insertRoot(aclRef: aclRef, stat: stat, data: data.map { [UInt8]($0) })
            chain = [(DataTree.rootSlot, childCount, 1, 0)]
            tree.reserveChildren(DataTree.rootSlot, childCount)
            current = [UInt8(ascii: "/")]
            return
        }
        while let top = chain.last, top.remaining == 0 { chain.removeLast() }
        guard let parent = chain.last else { throw SnapshotError.inconsistent("more nodes than the child counts allow") }
        let nameStart = parent.length > 1 ? parent.length + 1 : parent.length
        if parent.lastChildEnd > 0 {
            let previous = current[nameStart..<parent.lastChildEnd]
            guard previous.lexicographicallyPrecedes(name) else {
                throw SnapshotError.inconsistent("children of \(tree.path(parent.slot)) out of order or duplicated")
            }
        }
        chain[chain.count - 1].remaining -= 1
        chain[chain.count - 1].lastChildEnd = nameStart + name.count
        current.removeSubrange(parent.length...)
        if parent.length > 1 { current.append(UInt8(ascii: "/")) }
        current.append(contentsOf: name)
        try current.withUnsafeBytes { path in
            if !SnapshotNodeLoader.isPlainName(name) {
                guard let string = String(validating: path, as: UTF8.self) else { throw JuteError.badUTF8 }
                guard PathValidation.isValid(string) else { throw SnapshotError.inconsistent("invalid path \(string)") }
            }
            // No duplicate check: sibling names strictly increase, and distinct parents have distinct paths.
            let tag = PathIndex.tag(bytes: path)
            let slot = tree.insertChild(pathBytes: path, parent: parent.slot, rawData: data, aclRef: aclRef, stat: stat,
                                        tag: tag, indexed: false)
            precondition(Int(slot) == indexTags.count + 1, "restore put node \(indexTags.count + 1) in slot \(slot)")
            indexTags.append(UInt32(tag))
            if childCount > 0 { tree.reserveChildren(slot, childCount) }
            chain.append((slot, childCount, path.count, 0))
        }
    }

    /// Checks that every node got the children its count promised, and indexes the nodes.
    mutating func finish() throws {
        if let short = chain.first(where: { $0.remaining > 0 }) {
            throw SnapshotError.inconsistent("\(tree.path(short.slot)) is missing \(short.remaining) children")
        }
        tree.index.insertAll(tags: indexTags, firstSlot: 1, sliceBytes: tree.config.restoreIndexSliceBytes)
        indexTags = []
    }

    private func readStat(_ c: inout SnapshotCursor) throws -> PersistedStat {
        let flags = try c.readRaw(1)[0]
        guard flags & ~SnapshotV2.knownFlags == 0 else { throw JuteError.badValue("node flags \(flags)") }
        var s = PersistedStat()
        s.czxid = Int64(bitPattern: try c.readVarint())
        s.ctime = Int64(bitPattern: try c.readVarint())
        s.mzxid = flags & NodeBlob.hasMzxid != 0 ? s.czxid &+ Int64(bitPattern: try c.readVarint()) : s.czxid
        s.mtime = flags & NodeBlob.hasMtime != 0 ? s.ctime &+ Int64(bitPattern: try c.readVarint()) : s.ctime
        if flags & NodeBlob.hasVersion != 0 { s.version = try c.readVarint32() }
        if flags & NodeBlob.hasAversion != 0 { s.aversion = try c.readVarint32() }
        if flags & NodeBlob.hasOwner != 0 { s.ephemeralOwner = try c.readLong() }
        if flags & SnapshotV2.hasCversion != 0 { s.cversion = try c.readVarint32() }
        s.pzxid = flags & SnapshotV2.hasPzxid != 0 ? s.czxid &+ Int64(bitPattern: try c.readVarint()) : s.czxid
        return s
    }
}

/// The tree's ACL reference for each ACL index of a snapshot, interned on first use and retained after.
struct SnapshotACLRefs {
    private let lists: [[ACL]]
    private var refs: [Int32]

    init(_ lists: [[ACL]]) {
        self.lists = lists
        refs = [Int32](repeating: -1, count: lists.count)
    }

    var count: Int { lists.count }

    mutating func ref(_ index: Int, in tree: DataTree) -> Int32 {
        if refs[index] >= 0 {
            tree.acls.retain(refs[index])
        } else {
            refs[index] = tree.acls.intern(lists[index])
        }
        return refs[index]
    }
}
