/// Records for reading and writing a znode's data, stat and ACL.

/// `exists`; `watch` leaves an exists watch (a data watch if the node exists).
public typealias ExistsRequest = PathWatchRequest

/// The body of `ExistsResponse`, `SetDataResponse` and `SetACLResponse`: a single `Stat`.
public struct StatResponse: JuteFields, Sendable, Equatable {
    public var stat = Stat()

    public init() {}
    public init(stat: Stat) { self.stat = stat }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) { try v.field(&stat) }
}

public typealias ExistsResponse = StatResponse
public typealias SetDataResponse = StatResponse
public typealias SetACLResponse = StatResponse

/// `getData`; `watch` leaves a data watch.
public typealias GetDataRequest = PathWatchRequest

public struct GetDataResponse: JuteFields, Sendable, Equatable {
    /// nil if the node was created with null data (length -1 on the wire).
    public var data: [UInt8]?
    public var stat = Stat()

    public init() {}
    public init(data: [UInt8]?, stat: Stat) {
        self.data = data
        self.stat = stat
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&data)
        try v.field(&stat)
    }
}

/// `setData`; a `version` of -1 matches any version.
public struct SetDataRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var data: [UInt8]?
    public var version: Int32 = 0

    public init() {}
    public init(path: String, data: [UInt8]?, version: Int32) {
        self.path = path
        self.data = data
        self.version = version
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.field(&data)
        try v.field(&version)
    }
}

public typealias GetACLRequest = PathRecord

public struct GetACLResponse: JuteFields, Sendable, Equatable {
    public var acl: [ACL] = []
    public var stat = Stat()

    public init() {}
    public init(acl: [ACL], stat: Stat) {
        self.acl = acl
        self.stat = stat
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.acls(&acl)
        try v.field(&stat)
    }
}

/// `setACL`; `version` is compared with the node's `aversion` (-1 matches any).
public struct SetACLRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var acl: [ACL] = []
    public var version: Int32 = 0

    public init() {}
    public init(path: String, acl: [ACL], version: Int32) {
        self.path = path
        self.acl = acl
        self.version = version
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.acls(&acl)
        try v.field(&version)
    }
}

/// `sync`: waits until the server has caught up with the leader; the request and the response both carry the path.
public typealias SyncRequest = PathRecord
public typealias SyncResponse = PathRecord

/// `reconfig` (dynamic membership). Each server list is a comma-separated string, or nil when not given.
public struct ReconfigRequest: JuteFields, Sendable, Equatable {
    public var joiningServers: String?
    public var leavingServers: String?
    public var newMembers: String?
    /// The config version the change is based on, or -1 for any.
    public var curConfigId: Int64 = 0

    public init() {}
    public init(joiningServers: String?, leavingServers: String?, newMembers: String?, curConfigId: Int64) {
        self.joiningServers = joiningServers
        self.leavingServers = leavingServers
        self.newMembers = newMembers
        self.curConfigId = curConfigId
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&joiningServers)
        try v.field(&leavingServers)
        try v.field(&newMembers)
        try v.field(&curConfigId)
    }
}

/// The body of an `error` result inside a multi response.
public struct ErrorResponse: JuteFields, Sendable, Equatable {
    public var err: Int32 = 0

    public init() {}
    public init(err: Int32) { self.err = err }

    public init(error: ErrorCode) { self.err = error.rawValue }

    public var errorCode: ErrorCode? { ErrorCode(rawValue: err) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) { try v.field(&err) }
}
