/// Protocol constants and the core records every module shares: opcodes, error codes, event and state codes,
/// create modes, permissions, `Stat`, `Id` and `ACL`. Numbers are ZooKeeper's, so they are wire-compatible.

public enum OpCode: Int32, Sendable, CaseIterable {
    case notification = 0
    case create = 1
    case delete = 2
    case exists = 3
    case getData = 4
    case setData = 5
    case getACL = 6
    case setACL = 7
    case getChildren = 8
    case sync = 9
    case ping = 11
    case getChildren2 = 12
    case check = 13
    case multi = 14
    case create2 = 15
    case reconfig = 16
    case checkWatches = 17
    case removeWatches = 18
    case createContainer = 19
    case deleteContainer = 20
    case createTTL = 21
    case multiRead = 22
    case auth = 100
    case setWatches = 101
    case sasl = 102
    case getEphemerals = 103
    case getAllChildrenNumber = 104
    case setWatches2 = 105
    case addWatch = 106
    case whoAmI = 107
    case createSession = -10
    case closeSession = -11
    case error = -1
}

/// ZooKeeper's `KeeperException.Code` values as carried in `ReplyHeader.err`.
public enum ErrorCode: Int32, Error, Sendable, CaseIterable {
    case ok = 0
    case systemError = -1
    case runtimeInconsistency = -2
    case dataInconsistency = -3
    case connectionLoss = -4
    case marshallingError = -5
    case unimplemented = -6
    case operationTimeout = -7
    case badArguments = -8
    case unknownSession = -12
    case newConfigNoQuorum = -13
    case reconfigInProgress = -14
    case apiError = -100
    case noNode = -101
    case noAuth = -102
    case badVersion = -103
    case noChildrenForEphemerals = -108
    case nodeExists = -110
    case notEmpty = -111
    case sessionExpired = -112
    case invalidCallback = -113
    case invalidACL = -114
    case authFailed = -115
    case sessionMoved = -118
    case notReadOnly = -119
    case ephemeralOnLocalSession = -120
    case noWatcher = -121
    case requestTimeout = -122
    case reconfigDisabled = -123
    case sessionClosedRequireSaslAuth = -124
    case quotaExceeded = -125
    case throttledOp = -127
}

/// Special xids in request/reply headers.
public enum Xid {
    public static let notification: Int32 = -1
    public static let ping: Int32 = -2
    public static let auth: Int32 = -4
    public static let setWatches: Int32 = -8
}

public enum EventType: Int32, Sendable {
    case none = -1
    case nodeCreated = 1
    case nodeDeleted = 2
    case nodeDataChanged = 3
    case nodeChildrenChanged = 4
    case dataWatchRemoved = 5
    case childWatchRemoved = 6
    case persistentWatchRemoved = 7
}

public enum KeeperState: Int32, Sendable {
    case disconnected = 0
    case syncConnected = 3
    case authFailed = 4
    case connectedReadOnly = 5
    case saslAuthenticated = 6
    case expired = -112
    case closed = 7
}

/// The `flags` of a create request.
public enum CreateMode: Int32, Sendable, CaseIterable {
    case persistent = 0
    case ephemeral = 1
    case persistentSequential = 2
    case ephemeralSequential = 3
    case container = 4
    case persistentWithTTL = 5
    case persistentSequentialWithTTL = 6

    public var isEphemeral: Bool { self == .ephemeral || self == .ephemeralSequential }
    public var isSequential: Bool {
        self == .persistentSequential || self == .ephemeralSequential || self == .persistentSequentialWithTTL
    }
    public var isContainer: Bool { self == .container }
    public var isTTL: Bool { self == .persistentWithTTL || self == .persistentSequentialWithTTL }
}

/// `WatcherType` of removeWatches/checkWatches.
public enum WatcherType: Int32, Sendable {
    case children = 1
    case data = 2
    case any = 3
}

/// `mode` of addWatch.
public enum AddWatchMode: Int32, Sendable {
    case persistent = 0
    case persistentRecursive = 1
}

/// ACL permission bits.
public struct Perms: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let read = Perms(rawValue: 1)
    public static let write = Perms(rawValue: 2)
    public static let create = Perms(rawValue: 4)
    public static let delete = Perms(rawValue: 8)
    public static let admin = Perms(rawValue: 16)
    public static let all: Perms = [.read, .write, .create, .delete, .admin]
}

/// `org.apache.zookeeper.data.Id`: an identity within an auth scheme.
public struct Id: Hashable, Sendable, JuteFields {
    public var scheme = ""
    public var id = ""
    public init() {}
    public init(scheme: String, id: String) {
        self.scheme = scheme
        self.id = id
    }
    public static let anyoneUnsafe = Id(scheme: "world", id: "anyone")

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&scheme)
        try v.field(&id)
    }
}

/// `org.apache.zookeeper.data.ACL`. Coded by hand: `perms` is an option set over the wire's `int`, a mapping no
/// field entry point has, and two fields do not warrant one.
public struct ACL: Hashable, Sendable, JuteRecord {
    public var perms: Perms
    public var id: Id
    public init(perms: Perms, id: Id) {
        self.perms = perms
        self.id = id
    }
    public static let openUnsafe: [ACL] = [ACL(perms: .all, id: .anyoneUnsafe)]
    public static let readUnsafe: [ACL] = [ACL(perms: .read, id: .anyoneUnsafe)]
    public static let creatorAll: [ACL] = [ACL(perms: .all, id: Id(scheme: "auth", id: ""))]

    public init(from r: inout JuteReader) throws {
        perms = Perms(rawValue: try r.readInt())
        id = try r.read()
    }
    public func encode(to w: inout JuteWriter) {
        w.writeInt(perms.rawValue)
        w.write(id)
    }
}

/// `org.apache.zookeeper.data.Stat`: a znode's metadata, in wire field order.
public struct Stat: Hashable, Sendable, JuteFields {
    public var czxid: Int64 = 0
    public var mzxid: Int64 = 0
    public var ctime: Int64 = 0
    public var mtime: Int64 = 0
    public var version: Int32 = 0
    public var cversion: Int32 = 0
    public var aversion: Int32 = 0
    public var ephemeralOwner: Int64 = 0
    public var dataLength: Int32 = 0
    public var numChildren: Int32 = 0
    public var pzxid: Int64 = 0

    public init() {}

    public init(
        czxid: Int64, mzxid: Int64, ctime: Int64, mtime: Int64, version: Int32, cversion: Int32, aversion: Int32,
        ephemeralOwner: Int64, dataLength: Int32, numChildren: Int32, pzxid: Int64
    ) {
        self.czxid = czxid
        self.mzxid = mzxid
        self.ctime = ctime
        self.mtime = mtime
        self.version = version
        self.cversion = cversion
        self.aversion = aversion
        self.ephemeralOwner = ephemeralOwner
        self.dataLength = dataLength
        self.numChildren = numChildren
        self.pzxid = pzxid
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&czxid)
        try v.field(&mzxid)
        try v.field(&ctime)
        try v.field(&mtime)
        try v.field(&version)
        try v.field(&cversion)
        try v.field(&aversion)
        try v.field(&ephemeralOwner)
        try v.field(&dataLength)
        try v.field(&numChildren)
        try v.field(&pzxid)
    }
}
