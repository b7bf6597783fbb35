/// Records for creating and deleting znodes.

/// `create`, `create2` and `createContainer` share this body; `flags` is a raw `CreateMode`.
public struct CreateRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    /// nil and empty are distinct on the wire (length -1 versus 0), so both are kept.
    public var data: [UInt8]?
    public var acl: [ACL]
    public var flags: Int32

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

    public init(from r: inout JuteReader) throws {
        path = try r.readRequiredPath()
        data = try r.readBuffer()
        acl = try r.readACLs()
        flags = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeBuffer(data)
        w.writeACLs(acl)
        w.writeInt(flags)
    }
}

/// `createTTL`: a create with a time-to-live in milliseconds.
public struct CreateTTLRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var data: [UInt8]?
    public var acl: [ACL]
    public var flags: Int32
    public var ttl: Int64

    public init(path: String, data: [UInt8]?, acl: [ACL], flags: Int32, ttl: Int64) {
        self.path = path
        self.data = data
        self.acl = acl
        self.flags = flags
        self.ttl = ttl
    }

    public var mode: CreateMode? { CreateMode(rawValue: flags) }

    public init(from r: inout JuteReader) throws {
        path = try r.readRequiredPath()
        data = try r.readBuffer()
        acl = try r.readACLs()
        flags = try r.readInt()
        ttl = try r.readLong()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeBuffer(data)
        w.writeACLs(acl)
        w.writeInt(flags)
        w.writeLong(ttl)
    }
}

/// The answer to `create`: the actual path (with a sequence suffix if sequential).
public struct CreateResponse: JuteRecord, Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    public init(from r: inout JuteReader) throws { path = try r.readUString() }

    public func encode(to w: inout JuteWriter) { w.writeString(path) }
}

/// The answer to `create2`, `createContainer` and `createTTL`.
public struct Create2Response: JuteRecord, Sendable, Equatable {
    public var path: String
    public var stat: Stat

    public init(path: String, stat: Stat) {
        self.path = path
        self.stat = stat
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        stat = try r.read()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.write(stat)
    }
}

/// `delete`; a `version` of -1 matches any version.
public struct DeleteRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var version: Int32

    public init(path: String, version: Int32) {
        self.path = path
        self.version = version
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        version = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeInt(version)
    }
}

/// `check` (a multi op): fails the transaction unless the node's version matches (-1 matches any).
public struct CheckVersionRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var version: Int32

    public init(path: String, version: Int32) {
        self.path = path
        self.version = version
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        version = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeInt(version)
    }
}
