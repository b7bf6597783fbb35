import WarrenJute

/// Settings that change how the tree validates and interprets operations. Fixed for the life of a tree; every
/// replica must use the same values.
public struct TreeConfig: Sendable, Equatable {
    /// ZooKeeper's `zookeeper.extendedTypesEnabled`: allows TTL nodes. When false, TTL creates fail with
    /// `unimplemented` and TTL owners read as plain ephemeral owners.
    public var extendedTypesEnabled: Bool
    /// ZooKeeper's `zookeeper.DigestAuthenticationProvider.superDigest` ("super:<base64 sha1>"): a session that
    /// authenticates with matching digest credentials becomes super user. Used by `digestAuthIds`.
    public var superDigest: String?
    /// How much of the path index one pass of a restore fills (`PathIndex.insertAll`): a part that stays in the
    /// cache while the pass probes it at random. The server sets it from the machine's last-level cache.
    public var restoreIndexSliceBytes: Int

    public init(extendedTypesEnabled: Bool = false, superDigest: String? = nil, restoreIndexSliceBytes: Int = 1 << 20) {
        self.extendedTypesEnabled = extendedTypesEnabled
        self.superDigest = superDigest
        self.restoreIndexSliceBytes = restoreIndexSliceBytes
    }
}

/// A write request in domain terms. `prepare` turns it into a `Txn` or an error.
public indirect enum WriteOp: Hashable, Sendable {
    /// `ttlMs` is the TTL of a createTTL request (nil for the other create opcodes). The mode decides the txn type:
    /// container → createContainer, TTL modes → createTTL, the rest → create. `data` nil is the client's null
    /// buffer (length -1), kept apart from empty data all the way to `getData`.
    case create(path: String, data: [UInt8]?, acl: [ACL], mode: CreateMode, ttlMs: Int64? = nil)
    /// `version` -1 matches any version (likewise for setData, setACL, check).
    case delete(path: String, version: Int32)
    /// `data` nil sets null data, as for create.
    case setData(path: String, data: [UInt8]?, version: Int32)
    case setACL(path: String, acl: [ACL], version: Int32)
    case check(path: String, version: Int32)
    /// All-or-nothing. Only create, delete, setData and check may appear inside.
    case multi([WriteOp])
    /// Registers a new session (the txn's header carries `sessionId`).
    case createSession(sessionId: Int64, timeoutMs: Int32)
    /// Ends a session (client close or expiry) and deletes its ephemerals.
    case closeSession(sessionId: Int64)
    /// The server's clean-up of an empty container or expired TTL node; no ACL check.
    case deleteContainer(path: String)
    /// A client's reconfig request (`ReconfigRequest`'s fields). The tree cannot carry it out — the ensemble layer
    /// does, where dynamic reconfiguration is on — so here it fails with `reconfigDisabled`; it is still a write,
    /// so the failure is an error txn with a zxid, as in ZooKeeper.
    case reconfig(joining: String?, leaving: String?, newMembers: String?, fromConfig: Int64)
}

/// The outcome of one applied operation.
public indirect enum OpResult: Hashable, Sendable {
    case create(path: String, stat: Stat)
    case delete
    case setData(stat: Stat)
    case setACL(stat: Stat)
    case check
    case error(ErrorCode)
    case multi([OpResult])
    case createSession
    case closeSession

    /// `.ok`, the error of an `.error`, or for a multi the first non-ok error among its results (ZooKeeper's
    /// `ProcessTxnResult.err`).
    public var errorCode: ErrorCode {
        switch self {
        case let .error(code): return code
        case let .multi(results): return results.lazy.map(\.errorCode).first { $0 != .ok } ?? .ok
        default: return .ok
        }
    }
}

/// A watch event caused by an applied txn, for the watch manager.
///
/// - `nodeCreated` on the node's path: data/exists watches of that path.
/// - `nodeDeleted` on the node's path: both data and child watches of that path (each watcher notified once).
/// - `nodeDataChanged` on the node's path: data watches.
/// - `nodeChildrenChanged` on the parent's path: child watches of the parent.
///
/// `acl` is the ACL of the node the event is about (the parent's for `nodeChildrenChanged`), for servers that
/// only deliver events to watchers allowed to READ it.
public struct WatchTrigger: Hashable, Sendable {
    public var path: String
    public var type: EventType
    public var acl: [ACL]

    public init(path: String, type: EventType, acl: [ACL] = []) {
        self.path = path
        self.type = type
        self.acl = acl
    }
}

/// What `apply` did: the result for the client and the watch events, which must be delivered in array order.
public struct ApplyResult: Hashable, Sendable {
    public var header: TxnHeader
    public var result: OpResult
    public var triggers: [WatchTrigger]

    public var errorCode: ErrorCode { result.errorCode }
}
