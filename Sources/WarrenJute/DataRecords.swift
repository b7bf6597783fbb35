/// Records for reading and writing a znode's data, stat and ACL.

/// `exists`; `watch` leaves an exists watch (a data watch if the node exists).
public struct ExistsRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var watch: Bool

    public init(path: String, watch: Bool) {
        self.path = path
        self.watch = watch
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        watch = try r.readBool()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeBool(watch)
    }
}

/// The body of `ExistsResponse`, `SetDataResponse` and `SetACLResponse`: a single `Stat`.
public struct StatResponse: JuteRecord, Sendable, Equatable {
    public var stat: Stat

    public init(stat: Stat) { self.stat = stat }

    public init(from r: inout JuteReader) throws { stat = try r.read() }

    public func encode(to w: inout JuteWriter) { w.write(stat) }
}

public typealias ExistsResponse = StatResponse
public typealias SetDataResponse = StatResponse
public typealias SetACLResponse = StatResponse

/// `getData`; `watch` leaves a data watch.
public struct GetDataRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var watch: Bool

    public init(path: String, watch: Bool) {
        self.path = path
        self.watch = watch
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        watch = try r.readBool()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeBool(watch)
    }
}

public struct GetDataResponse: JuteRecord, Sendable, Equatable {
    /// nil if the node was created with null data (length -1 on the wire).
    public var data: [UInt8]?
    public var stat: Stat

    public init(data: [UInt8]?, stat: Stat) {
        self.data = data
        self.stat = stat
    }

    public init(from r: inout JuteReader) throws {
        data = try r.readBuffer()
        stat = try r.read()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeBuffer(data)
        w.write(stat)
    }
}

/// `setData`; a `version` of -1 matches any version.
public struct SetDataRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var data: [UInt8]?
    public var version: Int32

    public init(path: String, data: [UInt8]?, version: Int32) {
        self.path = path
        self.data = data
        self.version = version
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        data = try r.readBuffer()
        version = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeBuffer(data)
        w.writeInt(version)
    }
}

public struct GetACLRequest: JuteRecord, Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    public init(from r: inout JuteReader) throws { path = try r.readUString() }

    public func encode(to w: inout JuteWriter) { w.writeString(path) }
}

public struct GetACLResponse: JuteRecord, Sendable, Equatable {
    public var acl: [ACL]
    public var stat: Stat

    public init(acl: [ACL], stat: Stat) {
        self.acl = acl
        self.stat = stat
    }

    public init(from r: inout JuteReader) throws {
        acl = try r.readACLs()
        stat = try r.read()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeACLs(acl)
        w.write(stat)
    }
}

/// `setACL`; `version` is compared with the node's `aversion` (-1 matches any).
public struct SetACLRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var acl: [ACL]
    public var version: Int32

    public init(path: String, acl: [ACL], version: Int32) {
        self.path = path
        self.acl = acl
        self.version = version
    }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        acl = try r.readACLs()
        version = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeACLs(acl)
        w.writeInt(version)
    }
}

/// `sync`: waits until the server has caught up with the leader; the request and the response both carry the path.
public struct SyncRequest: JuteRecord, Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    public init(from r: inout JuteReader) throws { path = try r.readUString() }

    public func encode(to w: inout JuteWriter) { w.writeString(path) }
}

public struct SyncResponse: JuteRecord, Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    public init(from r: inout JuteReader) throws { path = try r.readUString() }

    public func encode(to w: inout JuteWriter) { w.writeString(path) }
}

/// `reconfig` (dynamic membership). Each server list is a comma-separated string, or nil when not given.
public struct ReconfigRequest: JuteRecord, Sendable, Equatable {
    public var joiningServers: String?
    public var leavingServers: String?
    public var newMembers: String?
    /// The config version the change is based on, or -1 for any.
    public var curConfigId: Int64

    public init(joiningServers: String?, leavingServers: String?, newMembers: String?, curConfigId: Int64) {
        self.joiningServers = joiningServers
        self.leavingServers = leavingServers
        self.newMembers = newMembers
        self.curConfigId = curConfigId
    }

    public init(from r: inout JuteReader) throws {
        joiningServers = try r.readString()
        leavingServers = try r.readString()
        newMembers = try r.readString()
        curConfigId = try r.readLong()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(joiningServers)
        w.writeString(leavingServers)
        w.writeString(newMembers)
        w.writeLong(curConfigId)
    }
}

/// The body of an `error` result inside a multi response.
public struct ErrorResponse: JuteRecord, Sendable, Equatable {
    public var err: Int32

    public init(err: Int32) { self.err = err }

    public init(error: ErrorCode) { self.err = error.rawValue }

    public var errorCode: ErrorCode? { ErrorCode(rawValue: err) }

    public init(from r: inout JuteReader) throws { err = try r.readInt() }

    public func encode(to w: inout JuteWriter) { w.writeInt(err) }
}
