/// Records for listing children and ephemerals.

/// `getChildren`; `watch` leaves a child watch.
public typealias GetChildrenRequest = PathWatchRequest

/// Child names (not full paths).
public struct GetChildrenResponse: JuteFields, Sendable, Equatable {
    public var children: [String] = []

    public init() {}
    public init(children: [String]) { self.children = children }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&children)
    }
}

/// `getChildren2`: same body as `getChildren`, answered with the parent's stat as well.
public typealias GetChildren2Request = GetChildrenRequest

public struct GetChildren2Response: JuteFields, Sendable, Equatable {
    public var children: [String] = []
    public var stat = Stat()

    public init() {}
    public init(children: [String], stat: Stat) {
        self.children = children
        self.stat = stat
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&children)
        try v.field(&stat)
    }
}

public typealias GetAllChildrenNumberRequest = PathRecord

/// The number of descendants of a node (not counting the node itself).
public struct GetAllChildrenNumberResponse: JuteFields, Sendable, Equatable {
    public var totalNumber: Int32 = 0

    public init() {}
    public init(totalNumber: Int32) { self.totalNumber = totalNumber }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&totalNumber)
    }
}

/// The session's ephemeral nodes whose paths start with `prefixPath` ("/" for all).
public struct GetEphemeralsRequest: JuteFields, Sendable, Equatable {
    public var prefixPath = ""

    public init() {}
    public init(prefixPath: String) { self.prefixPath = prefixPath }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&prefixPath)
    }
}

/// Full paths of ephemeral nodes.
public struct GetEphemeralsResponse: JuteFields, Sendable, Equatable {
    public var ephemerals: [String] = []

    public init() {}
    public init(ephemerals: [String]) { self.ephemerals = ephemerals }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&ephemerals)
    }
}
