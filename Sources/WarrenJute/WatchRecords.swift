/// Records for managing watches and for asking who the session is authenticated as.

/// `addWatch`: a persistent (optionally recursive) watch; `mode` is a raw `AddWatchMode`.
public struct AddWatchRequest: JuteFields, Sendable, Equatable {
    public var path = ""
    public var mode: Int32 = 0

    public init() {}
    public init(path: String, mode: Int32) {
        self.path = path
        self.mode = mode
    }

    public init(path: String, mode: AddWatchMode) { self.init(path: path, mode: mode.rawValue) }

    public var watchMode: AddWatchMode? { AddWatchMode(rawValue: mode) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&path)
        try v.field(&mode)
    }
}

/// `removeWatches`: removes the session's watches of a `WatcherType` (raw) on a path.
public typealias RemoveWatchesRequest = PathWatcherTypeRequest

/// `checkWatches`: succeeds if the session has a watch of a `WatcherType` (raw) on a path.
public typealias CheckWatchesRequest = PathWatcherTypeRequest

/// One identity the session is authenticated as.
public struct ClientInfo: JuteFields, Sendable, Equatable {
    public var authScheme = ""
    public var user = ""

    public init() {}
    public init(authScheme: String, user: String) {
        self.authScheme = authScheme
        self.user = user
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&authScheme)
        try v.field(&user)
    }
}

/// The answer to `whoAmI` (ZooKeeper 3.9; the request has no body).
public struct WhoAmIResponse: JuteFields, Sendable, Equatable {
    public var clientInfo: [ClientInfo] = []

    public init() {}
    public init(clientInfo: [ClientInfo]) { self.clientInfo = clientInfo }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&clientInfo)
    }
}
