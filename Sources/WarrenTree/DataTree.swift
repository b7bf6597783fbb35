import WarrenJute

/// The znode tree: committed state plus the overlay of prepared-but-unapplied transactions.
///
/// Write path (like ZooKeeper's PrepRequestProcessor → log → FinalRequestProcessor):
/// 1. `prepare` validates a `WriteOp` against the committed tree *and* every earlier prepared txn, and returns a
///    fully determined `Txn` (or an error, leaving nothing behind).
/// 2. The caller persists/replicates the txn.
/// 3. `apply` runs txns in zxid order, mutates the tree and returns the client result and watch triggers. Apply
///    is deterministic: the same txns give the same tree, snapshot bytes and digest on every replica.
///
/// Reads (`getData`, `getChildren`, ...) see only committed state. The tree does no I/O and keeps no clock; it is
/// not thread-safe, so confine it to one executor.
public final class DataTree {
    public let config: TreeConfig

    // The node storage is touched several times per node on every write and restore; the tree is confined to one
    // thread and never hands out overlapping accesses, so the runtime's exclusivity checks (a fifth of restore
    // time) are switched off for it.

    /// Node storage (see `NodeSlot`): a slot is free when its chunk is -1. Names, data and most stat fields are in
    /// `arena`; children, cversion and pzxid of nodes that have them in `exts`.
    @exclusivity(unchecked) var slots: ContiguousArray<NodeSlot> = []
    @exclusivity(unchecked) var freeSlots: [Int32] = []
    @exclusivity(unchecked) var arena = BlobArena()
    @exclusivity(unchecked) var exts: ContiguousArray<NodeExt> = []
    @exclusivity(unchecked) var freeExts: [Int32] = []
    @exclusivity(unchecked) var index = PathIndex()
    @exclusivity(unchecked) var acls = ACLCache()
    /// Slots of ephemeral nodes by owning session, of container nodes and of TTL nodes.
    var ephemerals: [Int64: Set<Int32>] = [:]
    var containers: Set<Int32> = []
    var ttls: Set<Int32> = []
    /// Paths that have a quota (a limit node exists under /zookeeper/quota); see `Quotas`. Derived from the nodes.
    var quotaPaths: Set<String> = []
    /// Live sessions and their negotiated timeouts (ms), as recorded by createSession/closeSession txns.
    public internal(set) var sessions: [Int64: Int32] = [:]
    /// The highest zxid applied.
    public internal(set) var lastProcessedZxid: Int64 = 0
    /// The node half of the digest, or nil while nobody has asked for it: a tree, fresh or restored, hashes no node
    /// until `digest` is first read (only the `hash` four-letter word and tests read it), then hashes them all once
    /// and from then on keeps the sum current on every change. Untracked, a write does not hash the node twice
    /// (old and new), which was 5% of a write's CPU; a restore skips hashing every node (a third of its time).
    @exclusivity(unchecked) var nodeDigestSum: UInt64? = nil
    var sessionDigest: UInt64 = 0
    /// Sum of path lengths (UTF-16 units, like Java's `String.length`) and data lengths over all nodes.
    @exclusivity(unchecked) var pathAndDataSize: Int64 = 0
    /// Prepared, not yet applied changes (ZooKeeper's outstandingChanges).
    var pending = PendingChanges()

    static let rootSlot: Int32 = 0
    /// The nodes ZooKeeper creates in every tree; they cannot be deleted.
    public static let systemPaths = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"]

    /// A fresh tree: "/", "/zookeeper", "/zookeeper/quota" (open ACL) and "/zookeeper/config" (world read-only),
    /// with zeroed stats (but aversion -1 on the config node), as in a fresh ZooKeeper 3.8.
    public init(config: TreeConfig = TreeConfig()) {
        self.config = config
        insertRoot(aclRef: acls.intern(ACL.openUnsafe), stat: PersistedStat(), data: [])
        let zookeeper = insertChild(path: "/zookeeper", parent: DataTree.rootSlot, data: [], aclRef: acls.intern(ACL.openUnsafe),
                                    stat: PersistedStat())
        insertChild(path: "/zookeeper/quota", parent: zookeeper, data: [], aclRef: acls.intern(ACL.openUnsafe), stat: PersistedStat())
        // ZooKeeper installs the config node's ACL with setACL(version -1), which leaves aversion at -1.
        var configStat = PersistedStat()
        configStat.aversion = -1
        insertChild(path: "/zookeeper/config", parent: zookeeper, data: [], aclRef: acls.intern(ACL.readUnsafe), stat: configStat)
    }

    /// An empty shell for snapshot restore.
    init(emptyWith config: TreeConfig) {
        self.config = config
    }

    // MARK: - Counters

    /// Distinct znodes, including the root and the /zookeeper system nodes (4 in a fresh tree).
    public var nodeCount: Int { index.count }
    /// The node count ZooKeeper reports in `mntr`/`stat` (`zk_znode_count`): it counts the root twice, under ""
    /// and "/", so a fresh server shows 5.
    public var reportedNodeCount: Int { index.count + 1 }
    /// ZooKeeper's `approximateDataSize` (`zk_approximate_data_size`): the sum of path lengths plus data lengths,
    /// with the root counted under both "" and "/" (44 for a fresh tree).
    public var approximateDataSize: Int64 { pathAndDataSize + Int64(dataLength(DataTree.rootSlot)) }
    /// Number of ephemeral nodes (owned by sessions; containers and TTL nodes excluded).
    public var ephemeralCount: Int { ephemerals.values.reduce(0) { $0 + $1.count } }
    /// Number of sessions that own at least one ephemeral node.
    public var sessionsWithEphemeralsCount: Int { ephemerals.count }
    public var containerCount: Int { containers.count }
    public var ttlNodeCount: Int { ttls.count }
    /// Number of distinct ACL lists in use.
    public var aclListCount: Int { acls.count }
    /// A hash of every node (path, data, persisted stat, ACL) and every session (id, timeout). Equal trees have
    /// equal digests regardless of history; the hash is stable across processes and platforms.
    public var digest: UInt64 { nodeDigest &+ sessionDigest }

    /// Sum of node hashes (wrapping), computed now if it is not being tracked.
    var nodeDigest: UInt64 {
        if let sum = nodeDigestSum { return sum }
        let sum = hashAllNodes()
        nodeDigestSum = sum
        return sum
    }

    /// The sum of every node's hash, walking the tree depth-first with one path buffer (rebuilding each path from
    /// the root would cost a walk and an allocation per node).
    private func hashAllNodes() -> UInt64 {
        var sum: UInt64 = 0
        var path: [UInt8] = [UInt8(ascii: "/")]
        var stack: [(slot: Int32, parentLength: Int)] = [(DataTree.rootSlot, 0)]
        while let (slot, parentLength) = stack.popLast() {
            if slot != DataTree.rootSlot {
                path.removeSubrange(parentLength...)
                if parentLength > 1 { path.append(UInt8(ascii: "/")) }
                arena.withBlob(slots[Int(slot)].blob) { p in
                    let b = NodeBlob(at: p, timeBase: arena.timeBase)
                    path.append(contentsOf: UnsafeRawBufferPointer(start: p + b.nameOffset, count: b.nameLength))
                }
            }
            sum &+= path.withUnsafeBytes { nodeHash(slot, path: $0) }
            let ext = slots[Int(slot)].ext
            if ext >= 0 {
                for child in exts[Int(ext)].children { stack.append((child, path.count)) }
            }
        }
        return sum
    }

    // MARK: - Slots

    func nodeHash(_ slot: Int32) -> UInt64 {
        pathBytes(slot).withUnsafeBytes { nodeHash(slot, path: $0) }
    }

    /// The node's hash given its path's UTF-8 bytes: path, data (or the null marker), persisted stat and ACL.
    func nodeHash(_ slot: Int32, path: UnsafeRawBufferPointer) -> UInt64 {
        let s = slots[Int(slot)]
        var h = WordHasher()
        h.add(UInt64(path.count))
        h.add(bytes: path)
        let blob = arena.withBlob(s.blob) { p -> NodeBlob in
            let b = NodeBlob(at: p, timeBase: arena.timeBase)
            // Null data hashes its Jute length -1, so it differs from empty data.
            if b.isDataNull {
                h.add(UInt64.max)
            } else {
                h.add(UInt64(b.dataLength))
                h.add(bytes: UnsafeRawBufferPointer(start: p + b.dataOffset, count: b.dataLength))
            }
            return b
        }
        let (cversion, pzxid) = s.ext >= 0 ? (exts[Int(s.ext)].cversion, exts[Int(s.ext)].pzxid) : (0, blob.czxid)
        h.add(blob.czxid)
        h.add(blob.mzxid)
        h.add(blob.ctime)
        h.add(blob.mtime)
        h.add(UInt64(UInt32(bitPattern: blob.version)) << 32 | UInt64(UInt32(bitPattern: cversion)))
        h.add(UInt64(UInt32(bitPattern: blob.aversion)))
        h.add(blob.ephemeralOwner)
        h.add(pzxid)
        h.add(acls.hash(s.aclRef))
        return h.value
    }

    static func sessionHash(_ id: Int64, _ timeoutMs: Int32) -> UInt64 {
        var h = FNV1a()
        h.add(id)
        h.add(UInt64(UInt32(bitPattern: timeoutMs)))
        return h.value
    }

    /// Runs `change` on a node's data, stat and ACL, keeping the digest current. Rewrites the node's blob only when
    /// a field stored there changed.
    func modify(_ slot: Int32, _ change: (inout NodeValue) -> Void) {
        let path = nodeDigestSum == nil ? [] : pathBytes(slot)
        unhash(slot, path)
        let old = NodeValue(data: data(slot), stat: stat(slot), aclRef: slots[Int(slot)].aclRef)
        var new = old
        change(&new)
        let oldBlob = NodeBlob(nameLength: 0, data: old.data, stat: old.stat, timeBase: arena.timeBase)
        let newBlob = NodeBlob(nameLength: 0, data: new.data, stat: new.stat, timeBase: arena.timeBase)
        // Stat first: a setData always changes it, so the (value-sized) data comparison is rarely reached.
        if !oldBlob.sameStoredFields(newBlob) || new.data != old.data {
            let name = nameBytes(slot)
            name.withUnsafeBytes { rewriteBlob(slot, name: $0, data: new.data, stat: new.stat) }
        }
        if new.stat.cversion != old.stat.cversion || new.stat.pzxid != old.stat.pzxid {
            setChildStat(slot, cversion: new.stat.cversion, pzxid: new.stat.pzxid)
        }
        slots[Int(slot)].aclRef = new.aclRef
        rehash(slot, path)
    }

    /// setData's change (value, mtime, mzxid, version), keeping the digest current. Unlike `modify` it never copies
    /// the old value out: a new mzxid always changes the blob, so there is nothing to compare.
    func replaceData(_ slot: Int32, with data: [UInt8]?, mtime: Int64, mzxid: Int64, version: Int32) {
        let path = nodeDigestSum == nil ? [] : pathBytes(slot)
        unhash(slot, path)
        var stat = self.stat(slot)
        stat.mtime = mtime
        stat.mzxid = mzxid
        stat.version = version
        let name = nameBytes(slot)
        name.withUnsafeBytes { rewriteBlob(slot, name: $0, data: data, stat: stat) }
        rehash(slot, path)
    }

    /// Gives `/zookeeper/config` the ensemble's configuration text and, as its mzxid, the configuration's version
    /// — when it holds none yet (a tree no reconfig has touched), or always with `replacing`. ZooKeeper shows a
    /// membership that came from zoo.cfg there the same way. Not a txn: every member that does this with the same
    /// configuration holds the same node (the shell sees to that; see `ServerCore.versionConfig`).
    public func installConfigData(_ data: [UInt8], mzxid: Int64, replacing: Bool = false) {
        guard let slot = slotOf("/zookeeper/config"), replacing || dataLength(slot) == 0, !data.isEmpty else { return }
        let oldLength = dataLength(slot)
        let stat = self.stat(slot)
        replaceData(slot, with: data, mtime: stat.mtime, mzxid: mzxid, version: stat.version)
        pathAndDataSize += Int64(data.count - oldLength)
    }

    /// Sets a node's cversion and pzxid (which live outside its blob), keeping the digest current.
    func modifyChildStat(_ slot: Int32, cversion: Int32, pzxid: Int64) {
        let path = nodeDigestSum == nil ? [] : pathBytes(slot)
        unhash(slot, path)
        setChildStat(slot, cversion: cversion, pzxid: pzxid)
        rehash(slot, path)
    }

    /// Takes a node's hash out of the digest before a change (`path` is its path; unused when not tracking).
    @inline(__always) private func unhash(_ slot: Int32, _ path: [UInt8]) {
        guard let sum = nodeDigestSum else { return }
        nodeDigestSum = path.withUnsafeBytes { sum &- nodeHash(slot, path: $0) }
    }

    /// Puts a node's hash back into the digest after a change.
    @inline(__always) private func rehash(_ slot: Int32, _ path: [UInt8]) {
        guard let sum = nodeDigestSum else { return }
        nodeDigestSum = path.withUnsafeBytes { sum &+ nodeHash(slot, path: $0) }
    }

    func insertRoot(aclRef: Int32, stat: PersistedStat, data: [UInt8]?) {
        precondition(slots.isEmpty && index.count == 0, "root inserted into a non-empty tree (\(index.count) nodes)")
        let path: [UInt8] = [UInt8(ascii: "/")]
        path.withUnsafeBytes { path in
            slots.append(.free)
            let name = UnsafeRawBufferPointer(rebasing: path[1...])
            if let data {
                data.withUnsafeBytes {
                    insertSlot(DataTree.rootSlot, pathBytes: path, name: name, parent: -1, data: $0, aclRef: aclRef, stat: stat)
                }
            } else {
                insertSlot(DataTree.rootSlot, pathBytes: path, name: name, parent: -1, data: nil, aclRef: aclRef, stat: stat)
            }
        }
    }

    /// Adds a node under `parent` (which must not already have it) and indexes it. Returns its slot.
    @discardableResult
    func insertChild(path: String, parent: Int32, data: [UInt8]?, aclRef: Int32, stat: PersistedStat) -> Int32 {
        var path = path
        return path.withUTF8 { insertChild(pathBytes: UnsafeRawBufferPointer($0), parent: parent, data: data, aclRef: aclRef, stat: stat) }
    }

    /// `insertChild` with the path as UTF-8 bytes; the node's name is what follows the last "/".
    @discardableResult
    func insertChild(pathBytes path: UnsafeRawBufferPointer, parent: Int32, data: [UInt8]?, aclRef: Int32,
                     stat: PersistedStat, tag: UInt64? = nil) -> Int32 {
        precondition(slotOf(bytes: path, tag: tag) == nil, "insert of existing path \(String(decoding: path, as: UTF8.self))")
        if let data {
            return data.withUnsafeBytes { insertChild(pathBytes: path, parent: parent, rawData: $0, aclRef: aclRef, stat: stat, tag: tag) }
        }
        return insertChild(pathBytes: path, parent: parent, rawData: nil, aclRef: aclRef, stat: stat, tag: tag)
    }

    /// `insertChild` with path and data as raw bytes (data nil for null data), for snapshot restore, which has
    /// already checked that the path is new.
    /// With `indexed` false the caller adds the path to `index` itself (restore does so in bulk).
    @discardableResult
    func insertChild(pathBytes path: UnsafeRawBufferPointer, parent: Int32, rawData data: UnsafeRawBufferPointer?,
                     aclRef: Int32, stat: PersistedStat, tag: UInt64? = nil, indexed: Bool = true) -> Int32 {
        let tag = tag ?? PathIndex.tag(bytes: path)
        var nameStart = path.count
        while nameStart > 0 && path[nameStart - 1] != UInt8(ascii: "/") { nameStart -= 1 }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = Int32(slots.count)
            slots.append(.free)
        }
        insertSlot(slot, pathBytes: path, name: UnsafeRawBufferPointer(rebasing: path[nameStart...]), parent: parent,
                   data: data, aclRef: aclRef, stat: stat, tag: tag, indexed: indexed)
        ensureExt(parent)
        exts[Int(slots[Int(parent)].ext)].children.insert(slot)
        return slot
    }

    private func insertSlot(_ slot: Int32, pathBytes path: UnsafeRawBufferPointer, name: UnsafeRawBufferPointer,
                            parent: Int32, data: UnsafeRawBufferPointer?, aclRef: Int32, stat: PersistedStat,
                            tag: UInt64? = nil, indexed: Bool = true) {
        slots[Int(slot)] = NodeSlot(chunk: -1, offset: 0, parent: parent, aclRef: aclRef, ext: -1)
        rewriteBlob(slot, name: name, rawData: data, stat: stat)
        if stat.cversion != 0 || stat.pzxid != stat.czxid { setChildStat(slot, cversion: stat.cversion, pzxid: stat.pzxid) }
        if indexed { index.insert(tag: tag ?? PathIndex.tag(bytes: path), slot: slot) }
        if let sum = nodeDigestSum { nodeDigestSum = sum &+ nodeHash(slot, path: path) }
        pathAndDataSize += Int64(DataTree.utf16Count(path) + (data?.count ?? 0))
        switch EphemeralKind.of(owner: stat.ephemeralOwner, extendedTypesEnabled: config.extendedTypesEnabled) {
        case .persistent: break
        case let .ephemeral(session): ephemerals[session, default: []].insert(slot)
        case .container: containers.insert(slot)
        case .ttl: ttls.insert(slot)
        }
    }

    /// Unlinks and frees a leaf node's slot.
    func removeNode(_ slot: Int32) {
        let node = slots[Int(slot)]
        let header = blobHeader(slot)
        let children = childCount(slot)
        let path = pathBytes(slot)
        precondition(children == 0, "removing \(String(decoding: path, as: UTF8.self)) with \(children) children")
        path.withUnsafeBytes { path in
            if let sum = nodeDigestSum { nodeDigestSum = sum &- nodeHash(slot, path: path) }
            pathAndDataSize -= Int64(DataTree.utf16Count(path) + header.dataLength)
            index.remove(tag: PathIndex.tag(bytes: path), slot: slot)
        }
        exts[Int(slots[Int(node.parent)].ext)].children.remove(slot)
        acls.release(node.aclRef)
        switch EphemeralKind.of(owner: header.ephemeralOwner, extendedTypesEnabled: config.extendedTypesEnabled) {
        case .persistent: break
        case let .ephemeral(session):
            ephemerals[session]?.remove(slot)
            if ephemerals[session]?.isEmpty == true { ephemerals[session] = nil }
        case .container: containers.remove(slot)
        case .ttl: ttls.remove(slot)
        }
        if node.ext >= 0 {
            exts[Int(node.ext)] = NodeExt(children: SlotSet(), cversion: 0, pzxid: 0)
            freeExts.append(node.ext)
        }
        slots[Int(slot)] = .free
        freeBlob(node.blob, count: header.byteCount)
        freeSlots.append(slot)
    }

    func clientStat(_ slot: Int32) -> Stat {
        stat(slot).clientStat(numChildren: childCount(slot), dataLength: dataLength(slot),
                              extendedTypesEnabled: config.extendedTypesEnabled)
    }

    func aclOf(_ slot: Int32) -> [ACL] { acls.list(slots[Int(slot)].aclRef) }

    func ephemeralKind(owner: Int64) -> EphemeralKind {
        EphemeralKind.of(owner: owner, extendedTypesEnabled: config.extendedTypesEnabled)
    }
}
