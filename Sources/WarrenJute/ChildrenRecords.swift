/// Records for listing children and ephemerals.

/// `getChildren`; `watch` leaves a child watch.
public struct GetChildrenRequest: JuteRecord, Sendable, Equatable {
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

/// Child names (not full paths).
public struct GetChildrenResponse: JuteRecord, Sendable, Equatable {
    public var children: [String]

    public init(children: [String]) { self.children = children }

    public init(from r: inout JuteReader) throws { children = try r.readStrings() }

    public func encode(to w: inout JuteWriter) { w.writeStrings(children) }
}

/// `getChildren2`: same body as `getChildren`, answered with the parent's stat as well.
public typealias GetChildren2Request = GetChildrenRequest

public struct GetChildren2Response: JuteRecord, Sendable, Equatable {
    public var children: [String]
    public var stat: Stat

    public init(children: [String], stat: Stat) {
        self.children = children
        self.stat = stat
    }

    public init(from r: inout JuteReader) throws {
        children = try r.readStrings()
        stat = try r.read()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeStrings(children)
        w.write(stat)
    }
}

public struct GetAllChildrenNumberRequest: JuteRecord, Sendable, Equatable {
    public var path: String

    public init(path: String) { self.path = path }

    public init(from r: inout JuteReader) throws { path = try r.readUString() }

    public func encode(to w: inout JuteWriter) { w.writeString(path) }
}

/// The number of descendants of a node (not counting the node itself).
public struct GetAllChildrenNumberResponse: JuteRecord, Sendable, Equatable {
    public var totalNumber: Int32

    public init(totalNumber: Int32) { self.totalNumber = totalNumber }

    public init(from r: inout JuteReader) throws { totalNumber = try r.readInt() }

    public func encode(to w: inout JuteWriter) { w.writeInt(totalNumber) }
}

/// The session's ephemeral nodes whose paths start with `prefixPath` ("/" for all).
public struct GetEphemeralsRequest: JuteRecord, Sendable, Equatable {
    public var prefixPath: String

    public init(prefixPath: String) { self.prefixPath = prefixPath }

    public init(from r: inout JuteReader) throws { prefixPath = try r.readUString() }

    public func encode(to w: inout JuteWriter) { w.writeString(prefixPath) }
}

/// Full paths of ephemeral nodes.
public struct GetEphemeralsResponse: JuteRecord, Sendable, Equatable {
    public var ephemerals: [String]

    public init(ephemerals: [String]) { self.ephemerals = ephemerals }

    public init(from r: inout JuteReader) throws { ephemerals = try r.readStrings() }

    public func encode(to w: inout JuteWriter) { w.writeStrings(ephemerals) }
}
