/// Records for creating and deleting znodes.

/// `create`, `create2` and `createContainer` share this body; `flags` is a raw `CreateMode`.
public struct CreateRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    /// nil and empty are distinct on the wire (length -1 versus 0), so both are kept.
    public var data: [UInt8]?
    public var acl: [ACL] = []
    public var flags: Int32 = 0

    public init() {}
    public init(path: String, data: [UInt8]?, acl: [ACL], flags: Int32) {
        self.path = path
        self.data = data
        self.acl = acl
        self.flags = flags
    }

    public init(path: String, data: [UInt8]?, acl: [ACL], mode: CreateMode) {
        self.init(path: path, data: data, acl: acl, flags: mode.rawValue)
    }

    /// The create mode, or nil if `flags` is not one ZooKeeper defines.
    public var mode: CreateMode? { CreateMode(rawValue: flags) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.requiredPath(&path)
        try v.field(&data)
        try v.acls(&acl)
        try v.field(&flags)
    }
}

/// `createTTL`: a create with a time-to-live in milliseconds.
public struct CreateTTLRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var data: [UInt8]?
    public var acl: [ACL] = []
    public var flags: Int32 = 0
    public var ttl: Int64 = 0

    public init() {}
    public init(path: String, data: [UInt8]?, acl: [ACL], flags: Int32, ttl: Int64) {
        self.path = path
        self.data = data
        self.acl = acl
        self.flags = flags
        self.ttl = ttl
    }

    public var mode: CreateMode? { CreateMode(rawValue: flags) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.requiredPath(&path)
        try v.field(&data)
        try v.acls(&acl)
        try v.field(&flags)
        try v.field(&ttl)
    }
}

/// The answer to `create`: the actual path (with a sequence suffix if sequential).
public typealias CreateResponse = PathRecord

/// The answer to `create2`, `createContainer` and `createTTL`.
public struct Create2Response: JuteFields, Sendable, Equatable {
    public var path = ""
    public var stat = Stat()

    public init() {}
    public init(path: String, stat: Stat) {
        self.path = path
        self.stat = stat
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.field(&stat)
    }
}

/// `delete`; a `version` of -1 matches any version.
public typealias DeleteRequest = PathVersionRequest

/// `check` (a multi op): fails the transaction unless the node's version matches (-1 matches any).
public typealias CheckVersionRequest = PathVersionRequest
