import WarrenJute

/// The stat fields a znode stores (ZooKeeper's `StatPersisted`). `cversion` here counts child *creations*; the
/// client-visible cversion is derived from it (see `clientStat`). Field order is Jute's `StatPersisted` order.
public struct PersistedStat: Hashable, Sendable, JuteRecord {
    public var czxid: Int64 = 0
    public var mzxid: Int64 = 0
    public var ctime: Int64 = 0
    public var mtime: Int64 = 0
    public var version: Int32 = 0
    public var cversion: Int32 = 0
    public var aversion: Int32 = 0
    public var ephemeralOwner: Int64 = 0
    public var pzxid: Int64 = 0

    public init() {}

    /// The stat of a node created by the txn with `zxid` at `timeMs`.
    public init(createdAt zxid: Int64, timeMs: Int64, ephemeralOwner: Int64) {
        czxid = zxid
        mzxid = zxid
        pzxid = zxid
        ctime = timeMs
        mtime = timeMs
        self.ephemeralOwner = ephemeralOwner
    }

    public init(from r: inout JuteReader) throws {
        czxid = try r.readLong()
        mzxid = try r.readLong()
        ctime = try r.readLong()
        mtime = try r.readLong()
        version = try r.readInt()
        cversion = try r.readInt()
        aversion = try r.readInt()
        ephemeralOwner = try r.readLong()
        pzxid = try r.readLong()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeLong(czxid)
        w.writeLong(mzxid)
        w.writeLong(ctime)
        w.writeLong(mtime)
        w.writeInt(version)
        w.writeInt(cversion)
        w.writeInt(aversion)
        w.writeLong(ephemeralOwner)
        w.writeLong(pzxid)
    }
}

/// How a node's `ephemeralOwner` is interpreted (ZooKeeper's `EphemeralType`).
public enum EphemeralKind: Equatable, Sendable {
    /// A plain persistent node (owner 0).
    case persistent
    /// An ephemeral node owned by a session.
    case ephemeral(sessionId: Int64)
    /// A container node (owner `Int64.min`).
    case container
    /// A TTL node (owner `0xFF << 56 | ttl`); only recognised when extended types are enabled.
    case ttl(ms: Int64)

    public static let containerOwner = Int64.min
    /// The largest TTL: the 40 low bits of the owner (about 34 years).
    public static let ttlMaxMs: Int64 = 0x0000_00FF_FFFF_FFFF
    private static let extendedMask = Int64(bitPattern: 0xFF00_0000_0000_0000)
    private static let reservedBitsMask: Int64 = 0x00FF_FF00_0000_0000

    /// The owner that marks a TTL node. `ttlMs` must already be validated to (0, ttlMaxMs].
    public static func ttlOwner(_ ttlMs: Int64) -> Int64 {
        precondition(ttlMs > 0 && ttlMs <= ttlMaxMs, "ttl \(ttlMs) outside (0, \(ttlMaxMs)]")
        return extendedMask | ttlMs
    }

    /// Decodes an owner. With extended types disabled a TTL owner reads as an ordinary ephemeral owner, exactly as
    /// in ZooKeeper. An extended owner with an unknown feature (reserved bits set) is also treated as ephemeral
    /// rather than crashing as ZooKeeper does.
    public static func of(owner: Int64, extendedTypesEnabled: Bool) -> EphemeralKind {
        if extendedTypesEnabled && owner & extendedMask == extendedMask && owner & reservedBitsMask == 0 {
            return .ttl(ms: owner & ttlMaxMs)
        }
        if owner == containerOwner { return .container }
        return owner == 0 ? .persistent : .ephemeral(sessionId: owner)
    }
}

/// One znode's place in the tree: a 20-byte plain value (no references), so the slot table is one flat allocation
/// and `committedCopy()` shares or copies it without touching every node. The node's name, data and most of its stat
/// are in its blob in `DataTree.arena`; children, cversion and pzxid in `DataTree.exts` when it has any.
struct NodeSlot {
    /// The blob's chunk, or -1 for a free slot.
    var chunk: Int32
    var offset: UInt32
    var parent: Int32
    /// Index into the tree's `ACLCache`.
    var aclRef: Int32
    /// Index into `DataTree.exts`, or -1: no children, cversion 0, pzxid = czxid.
    var ext: Int32

    static let free = NodeSlot(chunk: -1, offset: 0, parent: -1, aclRef: -1, ext: -1)

    var blob: BlobRef { BlobRef(chunk: chunk, offset: offset) }
    var isFree: Bool { chunk < 0 }
}

/// The parts of a node that change when its children do. Only nodes that have (had) children or a non-default
/// cversion/pzxid have one, so leaves pay nothing for an empty set.
struct NodeExt {
    var children: SlotSet
    /// Child creations (see `clientStat`).
    var cversion: Int32
    var pzxid: Int64
}

/// A node materialized from its slot, blob and ext (copies the data): for code off the hot paths and for tests.
struct NodeView {
    var path: String
    /// nil for a node created or set with null data (Jute length -1), which ZooKeeper keeps distinct from empty.
    var data: [UInt8]?
    var stat: PersistedStat
    var aclRef: Int32
    var parent: Int32
    var children: Set<Int32>

    /// Bytes of data; 0 for null data, as ZooKeeper reports it in `dataLength`.
    var dataLength: Int { data?.count ?? 0 }
}

extension PersistedStat {
    /// The client-visible stat. ZooKeeper reports `cversion` as `2 * creations - liveChildren` (every creation but
    /// the live ones was matched by a deletion) and hides container/TTL markers in `ephemeralOwner`.
    func clientStat(numChildren count: Int, dataLength: Int, extendedTypesEnabled: Bool) -> Stat {
        let kind = EphemeralKind.of(owner: ephemeralOwner, extendedTypesEnabled: extendedTypesEnabled)
        let visibleOwner: Int64
        if case .ephemeral = kind { visibleOwner = ephemeralOwner } else { visibleOwner = 0 }
        let numChildren = Int32(truncatingIfNeeded: count)
        return Stat(
            czxid: czxid, mzxid: mzxid, ctime: ctime, mtime: mtime, version: version,
            cversion: cversion &* 2 &- numChildren, aversion: aversion, ephemeralOwner: visibleOwner,
            dataLength: Int32(truncatingIfNeeded: dataLength), numChildren: numChildren, pzxid: pzxid)
    }
}
