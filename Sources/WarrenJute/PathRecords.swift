/// Bodies that several opcodes share field for field; each opcode's own name is a typealias beside its other
/// records, as `StatResponse` is for its responses. One struct per shape keeps one field list per shape.

/// A body that is a path alone: `getACL`, `sync` (request and response), `getAllChildrenNumber`, and the answer
/// to `create`.
public struct PathRecord: JuteFields, Sendable, Equatable {
    public var path = ""

    public init() {}
    public init(path: String) { self.path = path }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) { try v.field(&path) }
}

/// The body of `exists`, `getData` and `getChildren`/`getChildren2`: a path, and whether to leave a watch there.
public struct PathWatchRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var watch = false

    public init() {}
    public init(path: String, watch: Bool) {
        self.path = path
        self.watch = watch
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.field(&watch)
    }
}

/// The body of `delete` and `check`: a path and the version it must be at (-1 matches any).
public struct PathVersionRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var version: Int32 = 0

    public init() {}
    public init(path: String, version: Int32) {
        self.path = path
        self.version = version
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.field(&version)
    }
}

/// The body of `removeWatches` and `checkWatches`: a path and a raw `WatcherType`.
public struct PathWatcherTypeRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var type: Int32 = 0

    public init() {}
    public init(path: String, type: Int32) {
        self.path = path
        self.type = type
    }

    public init(path: String, type: WatcherType) { self.init(path: path, type: type.rawValue) }

    public var watcherType: WatcherType? { WatcherType(rawValue: type) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.field(&type)
    }
}
