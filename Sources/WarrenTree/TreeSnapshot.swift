import WarrenJute

/// Why snapshot bytes could not be restored. The bytes come from disk or a peer, so these are faults, not bugs.
public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    case badMagic(Int32)
    case unsupportedVersion(Int32)
    /// The Jute encoding is broken (truncated, bad length, bad UTF-8).
    case malformed(JuteError)
    /// Well-formed bytes that do not describe a tree (orphan node, duplicate path, bad ACL index, ...).
    case inconsistent(String)

    public var description: String {
        switch self {
        case let .badMagic(m): return "not a tree snapshot (magic \(m))"
        case let .unsupportedVersion(v): return "unsupported tree snapshot version \(v)"
        case let .malformed(e): return "malformed tree snapshot: \(e)"
        case let .inconsistent(why): return "inconsistent tree snapshot: \(why)"
        }
    }
}

/// Serialization of the committed tree.
///
/// Layout (Jute): `int magic "WTRE"`, `int version`, `long lastProcessedZxid`; `int n` sessions as
/// `{long id, int timeoutMs}` sorted by id; `int n` ACL lists as `vector<ACL>`; `int n` nodes in depth-first
/// pre-order with children sorted by name (UTF-8 bytes), root first. ACL indices are numbered by first use in that
/// order, so the bytes depend only on the tree's content, never on its history: equal trees give identical
/// snapshots.
///
/// Version 1 nodes are `{ustring path, buffer data, int aclIndex, StatPersisted}`; null data is a buffer of length
/// -1 (version 1 snapshots written before null data was kept never contain one, so they read as before). Version 2
/// stores names instead of paths and a compact stat, see `SnapshotV2`: 123 instead of 198 bytes for a node with 100
/// bytes of data, so less to compress, decompress and parse. Version 3 (written since) has version 2's records with
/// all data moved into one region after them, see `SnapshotV3`, so a snapshot file can compress the records and
/// store incompressible values as they are. All three versions restore.
extension DataTree {
    static let snapshotMagic: Int32 = 0x5754_5245  // "WTRE"
    /// The version `snapshot()` writes.
    static let snapshotVersion: Int32 = 3
    /// Names and compact stats with the data inline; still read, and written by `snapshot(version: 2)`.
    public static let snapshotVersionInline: Int32 = 2
    /// The original layout with full paths and Jute stats; still read, and written by `snapshot(version: 1)`.
    static let snapshotVersionPaths: Int32 = 1

    /// A copy of the committed state that shares storage with this tree until either side changes (every stored
    /// property is a copy-on-write value), so it can be serialized on another thread while this tree keeps applying
    /// transactions: a snapshot of the copy is exactly the state at `lastProcessedZxid`, never fuzzy. Costs O(1)
    /// now; the first change to this tree afterwards copies the node table once. Prepared changes are not copied.
    /// Hand the copy to one other thread and do not touch it here again.
    public func committedCopy() -> DataTree {
        let c = DataTree(emptyWith: config)
        c.slots = slots
        c.freeSlots = freeSlots
        c.arena = arena
        c.exts = exts
        c.freeExts = freeExts
        c.index = index
        c.acls = acls
        c.ephemerals = ephemerals
        c.containers = containers
        c.ttls = ttls
        c.quotaPaths = quotaPaths
        c.sessions = sessions
        c.lastProcessedZxid = lastProcessedZxid
        c.nodeDigestSum = nodeDigestSum
        c.sessionDigest = sessionDigest
        c.pathAndDataSize = pathAndDataSize
        return c
    }

    /// The committed state (nodes, ACLs, sessions, lastProcessedZxid) as bytes. Prepared changes are not included.
    public func snapshot() -> [UInt8] { snapshot(version: DataTree.snapshotVersion) }

    /// The committed state in the layout a SNAP sync streams: version 2, data inline with its record, so a
    /// receiver can restore each node as its bytes arrive (`IncrementalRestore`). Files keep version 3.
    public func streamingSnapshot() -> [UInt8] { snapshot(version: DataTree.snapshotVersionInline) }

    /// A snapshot in a given layout version (1, 2 or 3), for peers and tests that need an old one.
    func snapshot(version: Int32) -> [UInt8] {
        var w = JuteWriter(capacity: Int(approximateDataSize) + nodeCount * (version == 1 ? 80 : 24) + 64)
        writeSnapshot(to: &w, version: version)
        return w.bytes
    }

    public func writeSnapshot(to w: inout JuteWriter) { writeSnapshot(to: &w, version: DataTree.snapshotVersion) }

    /// Everything before the first node record; returns the ACL index of each ACL reference (-1: unused).
    private func writeSnapshotHeader(to w: inout JuteWriter, version: Int32, order: [Int32]) -> [Int32] {
        precondition((1...3).contains(version), "no tree snapshot layout \(version)")
        w.writeInt(DataTree.snapshotMagic)
        w.writeInt(version)
        w.writeLong(lastProcessedZxid)
        w.writeInt(Int32(sessions.count))
        for (id, timeout) in sessions.sorted(by: { $0.key < $1.key }) {
            w.writeLong(id)
            w.writeInt(timeout)
        }
        // By ACL reference, the list's index in this snapshot (-1: not used yet); refs are small dense numbers.
        var aclIndex = [Int32](repeating: -1, count: acls.lists.count)
        var aclRefs: [Int32] = []
        for slot in order {
            let ref = slots[Int(slot)].aclRef
            if aclIndex[Int(ref)] < 0 {
                aclIndex[Int(ref)] = Int32(aclRefs.count)
                aclRefs.append(ref)
            }
        }
        w.writeInt(Int32(aclRefs.count))
        for ref in aclRefs { w.writeVector(acls.list(ref)) { $0.write($1) } }
        w.writeInt(Int32(order.count))
        return aclIndex
    }

    /// The streaming layout (`streamingSnapshot`) cut into `count` parts of about equal node counts, to be
    /// serialized at the same time on several threads; concatenated in order they are the whole snapshot.
    public func streamingSnapshotParts(_ count: Int) -> SnapshotParts {
        precondition(count >= 1, "\(count) snapshot parts")
        let order = preorderSlots()
        var w = JuteWriter(capacity: 256)
        let aclIndex = writeSnapshotHeader(to: &w, version: DataTree.snapshotVersionInline, order: order)
        let bounds = (0...count).map { order.count * $0 / count }
        return SnapshotParts(tree: self, header: w.bytes, order: order, aclIndex: aclIndex, bounds: bounds)
    }

    func writeSnapshot(to w: inout JuteWriter, version: Int32) {
        let order = preorderSlots()
        let aclIndex = writeSnapshotHeader(to: &w, version: version, order: order)
        if version == DataTree.snapshotVersion {
            writeNodesV3(order, aclIndex: aclIndex, to: &w)
            return
        }
        if version == DataTree.snapshotVersionInline {
            writeNodesV2(order, aclIndex: aclIndex, to: &w)
            return
        }
        // Paths are rebuilt from names as the walk goes: `path` holds the current node's, and each node's path
        // is its parent's (a prefix of `path` when pre-order reaches it) plus "/" and its name.
        var path: [UInt8] = []
        var pathLength: [Int32: Int] = [:]
        for slot in order {
            let node = slots[Int(slot)]
            if slot == DataTree.rootSlot {
                path = [UInt8(ascii: "/")]
            } else {
                let parentLength = pathLength[node.parent]!
                path.removeSubrange(parentLength...)
                if node.parent != DataTree.rootSlot { path.append(UInt8(ascii: "/")) }
                arena.withBlob(node.blob) { p in
                    let b = NodeBlob(at: p, timeBase: arena.timeBase)
                    path.append(contentsOf: UnsafeRawBufferPointer(start: p + b.nameOffset, count: b.nameLength))
                }
            }
            if node.ext >= 0 && !exts[Int(node.ext)].children.isEmpty { pathLength[slot] = path.count }
            w.writeInt(Int32(path.count))
            w.writeRaw(path)
            let stat = stat(slot)
            arena.withBlob(node.blob) { p in
                let b = NodeBlob(at: p, timeBase: arena.timeBase)
                if b.isDataNull {
                    w.writeInt(-1)
                } else {
                    w.writeInt(Int32(b.dataLength))
                    w.writeRaw(UnsafeRawBufferPointer(start: p + b.dataOffset, count: b.dataLength))
                }
            }
            w.writeInt(aclIndex[Int(node.aclRef)])
            w.write(stat)
        }
    }

    /// Every node's slot, parents before children, siblings by name (UTF-8 byte order).
    func preorderSlots() -> [Int32] {
        var order: [Int32] = []
        order.reserveCapacity(index.count)
        var stack: [Int32] = [DataTree.rootSlot]
        while let slot = stack.popLast() {
            order.append(slot)
            let ext = slots[Int(slot)].ext
            guard ext >= 0, !exts[Int(ext)].children.isEmpty else { continue }
            stack.append(contentsOf: childrenByName(exts[Int(ext)].children).reversed())  // smallest name pops first
        }
        return order
    }

    /// Children sorted by name bytes: by a big-endian key of the first 8 name bytes, then by the whole names.
    ///
    /// A large set is read in slot order rather than its own (hash) order: slots and their blobs lie in memory
    /// roughly by slot number, so that walks forward instead of missing the cache twice per child (at 1M
    /// children of one parent, 0.2 s of a 0.37 s snapshot went to that).
    private func childrenByName(_ children: SlotSet) -> [Int32] {
        var keyed: [(key: UInt64, slot: Int32)] = []
        keyed.reserveCapacity(children.count)
        if children.count >= DataTree.slotOrderChildrenMin && children.count * 8 >= slots.count {
            var member = [Bool](repeating: false, count: slots.count)  // at most 8 bytes per child
            for child in children { member[Int(child)] = true }
            for slot in member.indices where member[slot] { keyed.append((nameKey(Int32(slot)), Int32(slot))) }
        } else {
            for child in children { keyed.append((nameKey(child), child)) }
        }
        keyed.sort { a, b in
            if a.key != b.key { return a.key < b.key }
            return nameBytes(a.slot).lexicographicallyPrecedes(nameBytes(b.slot))
        }
        return keyed.map(\.slot)
    }

    /// Sets at least this large are read in slot order by `childrenByName`.
    private static let slotOrderChildrenMin = 4096

    /// The first 8 name bytes as a big-endian number (zero-padded): orders like the names, up to ties.
    private func nameKey(_ slot: Int32) -> UInt64 {
        arena.withBlob(slots[Int(slot)].blob) { p -> UInt64 in
            let b = NodeBlob(at: p, timeBase: arena.timeBase)
            var key: UInt64 = 0
            for i in 0..<8 { key = key << 8 | UInt64(i < b.nameLength ? p.load(fromByteOffset: b.nameOffset + i, as: UInt8.self) : 0) }
            return key
        }
    }

    /// Rebuilds a tree from `snapshot()` bytes. The result has no prepared changes.
    public static func restore(from bytes: [UInt8], config: TreeConfig = TreeConfig()) throws(SnapshotError) -> DataTree {
        var r = JuteReader(bytes)
        do {
            return try restore(from: &r, config: config)
        } catch let e as SnapshotError {
            throw e
        } catch let e as JuteError {
            throw .malformed(e)
        } catch {
            throw .inconsistent("\(error)")
        }
    }

    /// What precedes the nodes: the tree with its zxid and sessions but no node yet, the ACL lists and the count.
    struct Header {
        let tree: DataTree
        let version: Int32
        let aclLists: [[ACL]]
        let nodeCount: Int
    }

    /// Reads everything before the first node record; `r` is left at it.
    static func readHeader(_ r: inout JuteReader, config: TreeConfig) throws -> Header {
        let magic = try r.readInt()
        guard magic == snapshotMagic else { throw SnapshotError.badMagic(magic) }
        let version = try r.readInt()
        guard (snapshotVersionPaths...snapshotVersion).contains(version) else { throw SnapshotError.unsupportedVersion(version) }
        let tree = DataTree(emptyWith: config)
        tree.nodeDigestSum = nil  // computed when first asked for
        tree.lastProcessedZxid = try r.readLong()

        let sessionCount = try count(&r, elementBytesMin: 12, what: "sessions")
        for _ in 0..<sessionCount {
            let id = try r.readLong()
            let timeout = try r.readInt()
            guard tree.sessions.updateValue(timeout, forKey: id) == nil else { throw SnapshotError.inconsistent("duplicate session \(id)") }
            tree.sessionDigest &+= sessionHash(id, timeout)
        }

        let aclCount = try count(&r, elementBytesMin: 4, what: "ACL lists")
        var aclLists: [[ACL]] = []
        aclLists.reserveCapacity(aclCount)
        for _ in 0..<aclCount {
            guard let list = try r.readVector({ try ACL(from: &$0) }) else { throw SnapshotError.inconsistent("null ACL list") }
            aclLists.append(list)
        }

        let nodeCount = try count(&r, elementBytesMin: version == snapshotVersionPaths ? 73 : 6, what: "nodes")
        guard nodeCount > 0 else { throw SnapshotError.inconsistent("no root node") }
        return Header(tree: tree, version: version, aclLists: aclLists, nodeCount: nodeCount)
    }

    private static func restore(from r: inout JuteReader, config: TreeConfig) throws -> DataTree {
        let header = try readHeader(&r, config: config)
        let (tree, version, aclLists, nodeCount) = (header.tree, header.version, header.aclLists, header.nodeCount)
        let end = try r.bytes.withUnsafeBytes { raw in
            var cursor = SnapshotCursor(raw, offset: r.offset, end: r.end)
            if version == snapshotVersionPaths {
                var loader = SnapshotNodeLoader(tree: tree, aclLists: aclLists, nodeCount: nodeCount)
                for _ in 0..<nodeCount { try loader.loadNode(&cursor) }
            } else if version == snapshotVersion {
                var loader = SnapshotV2Loader(tree: tree, aclLists: aclLists, nodeCount: nodeCount)
                return try loader.loadNodesV3(&cursor, nodeCount: nodeCount)
            } else {
                var loader = SnapshotV2Loader(tree: tree, aclLists: aclLists, nodeCount: nodeCount)
                for _ in 0..<nodeCount { try loader.loadNode(&cursor) }
                try loader.finish()
            }
            return cursor.offset
        }
        guard end == r.end else { throw SnapshotError.inconsistent("\(r.end - end) bytes after the last node") }
        tree.rebuildQuotaPaths()
        return tree
    }

    /// A count prefix, bounded by what the remaining bytes could hold (a version 1 node takes at least 73 bytes:
    /// path "/", empty data, ACL index, stat; a version 2 or 3 node 6).
    private static func count(_ r: inout JuteReader, elementBytesMin: Int, what: String) throws -> Int {
        let n = try r.readInt()
        guard n >= 0 && Int(n) * elementBytesMin <= r.remaining else {
            throw SnapshotError.inconsistent("\(n) \(what) cannot fit in \(r.remaining) bytes")
        }
        return Int(n)
    }
}

/// A version 2 snapshot in parts (`DataTree.streamingSnapshotParts`). `part(i)` only reads the tree, so parts may
/// be serialized on different threads at once — as long as nobody changes the tree meanwhile (hand it a
/// `committedCopy`).
public struct SnapshotParts: @unchecked Sendable {
    fileprivate let tree: DataTree
    fileprivate let header: [UInt8]
    fileprivate let order: [Int32]
    fileprivate let aclIndex: [Int32]
    /// Part i holds the records of `order[bounds[i]..<bounds[i + 1]]`.
    fileprivate let bounds: [Int]

    public var count: Int { bounds.count - 1 }

    /// The bytes of part `i`; the first starts with the snapshot's header.
    public func part(_ i: Int) -> [UInt8] {
        precondition((0..<count).contains(i), "part \(i) of \(count)")
        let slots = order[bounds[i]..<bounds[i + 1]]
        let estimate = Int(tree.approximateDataSize) / count + slots.count * 24 + (i == 0 ? header.count : 0)
        var w = JuteWriter(capacity: estimate)
        if i == 0 { w.writeRaw(header) }
        for slot in slots { tree.writeNodeRecord(slot, aclIndex: aclIndex, inlineData: true, to: &w) }
        return w.bytes
    }
}
