import WarrenJute
import WarrenTree

/// One znode as both formats persist it: the stat is ZooKeeper's `StatPersisted` (no dataLength or numChildren,
/// which follow from the data and the children). `data` nil is null data, kept apart from empty data.
public struct MigratedNode: Equatable, Sendable {
    public var path: String
    public var data: [UInt8]?
    public var acl: [ACL]
    public var stat: PersistedStat

    public init(path: String, data: [UInt8]?, acl: [ACL], stat: PersistedStat) {
        self.path = path
        self.data = data
        self.acl = acl
        self.stat = stat
    }
}

/// ACL lists numbered by first use, so a list shared by many nodes is written once (both formats keep such a
/// table: ZooKeeper's `ReferenceCountedACLCache`, Warren's snapshot ACL lists).
struct ACLTable {
    private(set) var lists: [[ACL]] = []
    private var numbers: [[ACL]: Int] = [:]

    mutating func number(_ acl: [ACL]) -> Int {
        if let n = numbers[acl] { return n }
        numbers[acl] = lists.count
        lists.append(acl)
        return lists.count - 1
    }
}

extension EphemeralKind {
    /// Whether a node with this owner lives only as long as its session. Containers and TTL nodes do not: a
    /// restart keeps them, and so does a migration. TTL owners are recognised as ZooKeeper does with
    /// `zookeeper.extendedTypesEnabled=true`, the only setting under which it creates them.
    static func isSessionBound(owner: Int64) -> Bool {
        if case .ephemeral = EphemeralKind.of(owner: owner, extendedTypesEnabled: true) { return true }
        return false
    }
}
