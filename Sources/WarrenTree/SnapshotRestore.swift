import WarrenJute

/// Jute reads straight from the snapshot bytes, with `JuteReader`'s errors, but handing out views instead of
/// `String`s and `[UInt8]`s: restore copies each path and data once, into the tree's arena.
struct SnapshotCursor {
    let raw: UnsafeRawBufferPointer
    private(set) var offset: Int
    let end: Int

    init(_ raw: UnsafeRawBufferPointer, offset: Int, end: Int) {
        self.raw = raw
        self.offset = offset
        self.end = end
    }

    @inline(__always)
    mutating func skip(_ n: Int) { offset += n }

    @inline(__always)
    private func need(_ n: Int) throws(JuteError) {
        if n > end - offset { throw JuteError.truncated(needed: n, available: end - offset) }
    }

    @inline(__always)
    mutating func readInt() throws(JuteError) -> Int32 {
        try need(4)
        defer { offset += 4 }
        return Int32(bitPattern: UInt32(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
    }

    @inline(__always)
    mutating func readLong() throws(JuteError) -> Int64 {
        try need(8)
        defer { offset += 8 }
        return Int64(bitPattern: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
    }

    /// A `buffer`/`ustring` body: nil for length -1.
    @inline(__always)
    mutating func readBytes() throws(JuteError) -> UnsafeRawBufferPointer? {
        let n = try readInt()
        if n == -1 { return nil }
        if n < 0 || Int(n) > end - offset { throw JuteError.badLength(n) }
        defer { offset += Int(n) }
        return UnsafeRawBufferPointer(rebasing: raw[offset..<offset + Int(n)])
    }

    mutating func readStat() throws(JuteError) -> PersistedStat {
        var s = PersistedStat()
        s.czxid = try readLong()
        s.mzxid = try readLong()
        s.ctime = try readLong()
        s.mtime = try readLong()
        s.version = try readInt()
        s.cversion = try readInt()
        s.aversion = try readInt()
        s.ephemeralOwner = try readLong()
        s.pzxid = try readLong()
        return s
    }
}

/// Adds the nodes of a version 1 snapshot to a tree, one record at a time, checking what `restore` promises: the
/// root first, valid paths, no duplicates, every parent before its children.
///
/// The parent is found without a lookup in the common case: pre-order puts it on the stack of the current node's
/// ancestors (`chain`, whose paths are prefixes of `current`). Other orders fall back to the path index.
struct SnapshotNodeLoader {
    let tree: DataTree
    private var acls: SnapshotACLRefs
    private var chain: [(slot: Int32, length: Int)] = []
    /// The path of `chain.last`.
    private var current: [UInt8] = []

    init(tree: DataTree, aclLists: [[ACL]], nodeCount: Int) {
        self.tree = tree
        acls = SnapshotACLRefs(aclLists)
        tree.slots.reserveCapacity(nodeCount)
        tree.index.reserve(nodeCount)
    }

    mutating func loadNode(_ c: inout SnapshotCursor) throws {
        guard let path = try c.readBytes() else { throw SnapshotError.inconsistent("null path") }
        let data = try c.readBytes()
        let aclIndex = try c.readInt()
        let stat = try c.readStat()
        guard aclIndex >= 0 && Int(aclIndex) < acls.count else {
            throw SnapshotError.inconsistent("ACL index \(aclIndex) of \(try text(path)) outside 0..<\(acls.count)")
        }
        let aclRef = acls.ref(Int(aclIndex), in: tree)
        if chain.isEmpty {
            guard path.count == 1 && path[0] == UInt8(ascii: "/") else {
                throw SnapshotError.inconsistent("first node is \(try text(path)), not /")
            }
            tree.insertRoot(aclRef: aclRef, stat: stat, data: data.map { [UInt8]($0) })
            chain = [(DataTree.rootSlot, 1)]
            current = [UInt8(ascii: "/")]
            return
        }
        var nameStart = path.count
        while nameStart > 0 && path[nameStart - 1] != UInt8(ascii: "/") { nameStart -= 1 }
        let parentLength = nameStart == 1 ? 1 : nameStart - 1
        var parent = nameStart > 0 ? parentOnChain(path, parentLength) : nil
        let name = UnsafeRawBufferPointer(rebasing: path[nameStart...])
        if parent == nil || !SnapshotNodeLoader.isPlainName(name) {
            let string = try text(path)
            guard string != "/", PathValidation.isValid(string) else { throw SnapshotError.inconsistent("invalid path \(string)") }
        }
        let tag = PathIndex.tag(bytes: path)
        guard tree.slotOf(bytes: path, tag: tag) == nil else { throw SnapshotError.inconsistent("duplicate path \(try text(path))") }
        if parent == nil {
            guard let found = tree.slotOf(bytes: UnsafeRawBufferPointer(rebasing: path[..<parentLength])) else {
                throw SnapshotError.inconsistent("\(try text(path)) precedes its parent")
            }
            parent = found
            chain = [(found, parentLength)]
            current = [UInt8](path[..<parentLength])
        }
        let slot = tree.insertChild(pathBytes: path, parent: parent!, rawData: data, aclRef: aclRef, stat: stat, tag: tag)
        chain.append((slot, path.count))
        current.removeSubrange(parentLength...)
        current.append(contentsOf: path[parentLength...])
    }

    /// The parent's slot when it is on the ancestor chain of the previous node (pops the chain down to it).
    private mutating func parentOnChain(_ path: UnsafeRawBufferPointer, _ parentLength: Int) -> Int32? {
        while let top = chain.last, top.length > parentLength { chain.removeLast() }
        guard let top = chain.last, top.length == parentLength else { return nil }
        for i in 0..<parentLength where current[i] != path[i] { return nil }
        return top.slot
    }

    /// A name that is certainly valid under a valid parent: printable ASCII, not "." or "..". Anything else gets
    /// the full `PathValidation` check.
    static func isPlainName(_ name: UnsafeRawBufferPointer) -> Bool {
        if name.isEmpty { return false }
        for b in name where b < 0x20 || b > 0x7E || b == UInt8(ascii: "/") { return false }
        if name.count <= 2 && name.allSatisfy({ $0 == UInt8(ascii: ".") }) { return false }
        return true
    }

    private func text(_ bytes: UnsafeRawBufferPointer) throws -> String {
        guard let s = String(validating: bytes, as: UTF8.self) else { throw JuteError.badUTF8 }
        return s
    }
}
