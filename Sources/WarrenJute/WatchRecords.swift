/// Records for managing watches and for asking who the session is authenticated as.

/// `addWatch`: a persistent (optionally recursive) watch; `mode` is a raw `AddWatchMode`.
public struct AddWatchRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var mode: Int32

    public init(path: String, mode: Int32) {
        self.path = path
        self.mode = mode
    }

    public init(path: String, mode: AddWatchMode) { self.init(path: path, mode: mode.rawValue) }

    public var watchMode: AddWatchMode? { AddWatchMode(rawValue: mode) }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        mode = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeInt(mode)
    }
}

/// `removeWatches`: removes the session's watches of a `WatcherType` (raw) on a path.
public struct RemoveWatchesRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var type: Int32

    public init(path: String, type: Int32) {
        self.path = path
        self.type = type
    }

    public init(path: String, type: WatcherType) { self.init(path: path, type: type.rawValue) }

    public var watcherType: WatcherType? { WatcherType(rawValue: type) }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        type = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeInt(type)
    }
}

/// `checkWatches`: succeeds if the session has a watch of a `WatcherType` (raw) on a path.
public struct CheckWatchesRequest: JuteRecord, Sendable, Equatable {
    public var path: String
    public var type: Int32

    public init(path: String, type: Int32) {
        self.path = path
        self.type = type
    }

    public init(path: String, type: WatcherType) { self.init(path: path, type: type.rawValue) }

    public var watcherType: WatcherType? { WatcherType(rawValue: type) }

    public init(from r: inout JuteReader) throws {
        path = try r.readUString()
        type = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(path)
        w.writeInt(type)
    }
}

/// One identity the session is authenticated as.
public struct ClientInfo: JuteRecord, Sendable, Equatable {
    public var authScheme: String
    public var user: String

    public init(authScheme: String, user: String) {
        self.authScheme = authScheme
        self.user = user
    }

    public init(from r: inout JuteReader) throws {
        authScheme = try r.readUString()
        user = try r.readUString()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeString(authScheme)
        w.writeString(user)
    }
}

/// The answer to `whoAmI` (ZooKeeper 3.9; the request has no body).
public struct WhoAmIResponse: JuteRecord, Sendable, Equatable {
    public var clientInfo: [ClientInfo]

    public init(clientInfo: [ClientInfo]) { self.clientInfo = clientInfo }

    public init(from r: inout JuteReader) throws {
        clientInfo = try r.readVector { try $0.read(ClientInfo.self) } ?? []
    }

    public func encode(to w: inout JuteWriter) { w.writeVector(clientInfo) { $0.write($1) } }
}
