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

    /// Node storage; a slot is free when its path is not in `index`.
    var slots: ContiguousArray<NodeSlot> = []
    var freeSlots: [Int32] = []
    var index = PathIndex()
    var acls = ACLCache()
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
    /// Sum of node hashes and of session hashes (wrapping): updated incrementally, compared across replicas.
    var nodeDigest: UInt64 = 0
    var sessionDigest: UInt64 = 0
    /// Sum of path lengths (UTF-16 units, like Java's `String.length`) and data lengths over all nodes.
    var pathAndDataSize: Int64 = 0
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
    public var approximateDataSize: Int64 { pathAndDataSize + Int64(slots[Int(DataTree.rootSlot)].dataLength) }
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

    // MARK: - Slots

    @inline(__always) func slotOf(_ path: String) -> Int32? { index.find(path) { slots[Int($0)].path } }

    func nodeHash(_ slot: Int32) -> UInt64 {
        let n = slots[Int(slot)]
        var h = FNV1a()
        h.add(n.path)
        // Null data hashes its Jute length -1, so it differs from empty data.
        if let data = n.data {
            h.add(UInt64(data.count))
            h.add(bytes: data)
        } else {
            h.add(UInt64.max)
        }
        h.add(n.stat.czxid)
        h.add(n.stat.mzxid)
        h.add(n.stat.ctime)
        h.add(n.stat.mtime)
        h.add(UInt64(UInt32(bitPattern: n.stat.version)) << 32 | UInt64(UInt32(bitPattern: n.stat.cversion)))
        h.add(UInt64(UInt32(bitPattern: n.stat.aversion)))
        h.add(n.stat.ephemeralOwner)
        h.add(n.stat.pzxid)
        h.add(acls.hash(n.aclRef))
        return h.value
    }

    static func sessionHash(_ id: Int64, _ timeoutMs: Int32) -> UInt64 {
        var h = FNV1a()
        h.add(id)
        h.add(UInt64(UInt32(bitPattern: timeoutMs)))
        return h.value
    }

    /// Runs `change` on a node's slot, keeping the digest current.
    @inline(__always) func modify(_ slot: Int32, _ change: (inout NodeSlot) -> Void) {
        nodeDigest &-= nodeHash(slot)
        change(&slots[Int(slot)])
        nodeDigest &+= nodeHash(slot)
    }

    func insertRoot(aclRef: Int32, stat: PersistedStat, data: [UInt8]?) {
        precondition(slots.isEmpty && index.count == 0, "root inserted into a non-empty tree (\(index.count) nodes)")
        slots.append(NodeSlot(path: "/", data: data, stat: stat, aclRef: aclRef, parent: -1, children: []))
        index.insert("/", slot: DataTree.rootSlot)
        nodeDigest &+= nodeHash(DataTree.rootSlot)
        pathAndDataSize += 1 + Int64(data?.count ?? 0)
    }

    /// Adds a node under `parent` (which must not already have it) and indexes it. Returns its slot.
    @discardableResult
    func insertChild(path: String, parent: Int32, data: [UInt8]?, aclRef: Int32, stat: PersistedStat) -> Int32 {
        precondition(slotOf(path) == nil, "insert of existing path \(path)")
        let node = NodeSlot(path: path, data: data, stat: stat, aclRef: aclRef, parent: parent, children: [])
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            slots[Int(slot)] = node
        } else {
            slot = Int32(slots.count)
            slots.append(node)
        }
        index.insert(path, slot: slot)
        slots[Int(parent)].children.insert(slot)
        nodeDigest &+= nodeHash(slot)
        pathAndDataSize += Int64(path.utf16.count + (data?.count ?? 0))
        switch EphemeralKind.of(owner: stat.ephemeralOwner, extendedTypesEnabled: config.extendedTypesEnabled) {
        case .persistent: break
        case let .ephemeral(session): ephemerals[session, default: []].insert(slot)
        case .container: containers.insert(slot)
        case .ttl: ttls.insert(slot)
        }
        return slot
    }

    /// Unlinks and frees a leaf node's slot.
    func removeNode(_ slot: Int32) {
        let node = slots[Int(slot)]
        precondition(node.children.isEmpty, "removing \(node.path) with \(node.children.count) children")
        nodeDigest &-= nodeHash(slot)
        pathAndDataSize -= Int64(node.path.utf16.count + node.dataLength)
        slots[Int(node.parent)].children.remove(slot)
        index.remove(node.path, slot: slot)
        acls.release(node.aclRef)
        switch EphemeralKind.of(owner: node.stat.ephemeralOwner, extendedTypesEnabled: config.extendedTypesEnabled) {
        case .persistent: break
        case let .ephemeral(session):
            ephemerals[session]?.remove(slot)
            if ephemerals[session]?.isEmpty == true { ephemerals[session] = nil }
        case .container: containers.remove(slot)
        case .ttl: ttls.remove(slot)
        }
        slots[Int(slot)] = NodeSlot(path: "", data: [], stat: PersistedStat(), aclRef: -1, parent: -1, children: [])
        freeSlots.append(slot)
    }

    func clientStat(_ slot: Int32) -> Stat {
        slots[Int(slot)].clientStat(extendedTypesEnabled: config.extendedTypesEnabled)
    }

    func aclOf(_ slot: Int32) -> [ACL] { acls.list(slots[Int(slot)].aclRef) }

    func ephemeralKind(owner: Int64) -> EphemeralKind {
        EphemeralKind.of(owner: owner, extendedTypesEnabled: config.extendedTypesEnabled)
    }
}
