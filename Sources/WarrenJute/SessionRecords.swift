/// Records of the session layer: the connect handshake, packet headers, watch notifications, authentication and
/// watch re-registration after a reconnect.

/// The first frame a client sends. It has no `RequestHeader`.
public struct ConnectRequest: JuteRecord, Sendable, Equatable {
    public var protocolVersion: Int32
    public var lastZxidSeen: Int64
    /// Requested session timeout in milliseconds.
    public var timeOut: Int32
    /// 0 for a new session, or the id of the session to resume.
    public var sessionId: Int64
    public var passwd: [UInt8]
    /// Absent on the wire from clients older than 3.3; decoded only if a byte remains, encoded only if non-nil.
    public var readOnly: Bool?

    public init(
        protocolVersion: Int32 = 0, lastZxidSeen: Int64, timeOut: Int32, sessionId: Int64, passwd: [UInt8],
        readOnly: Bool? = false
    ) {
        self.protocolVersion = protocolVersion
        self.lastZxidSeen = lastZxidSeen
        self.timeOut = timeOut
        self.sessionId = sessionId
        self.passwd = passwd
        self.readOnly = readOnly
    }

    public init(from r: inout JuteReader) throws {
        protocolVersion = try r.readInt()
        lastZxidSeen = try r.readLong()
        timeOut = try r.readInt()
        sessionId = try r.readLong()
        passwd = try r.readBytes()
        readOnly = r.isAtEnd ? nil : try r.readBool()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeInt(protocolVersion)
        w.writeLong(lastZxidSeen)
        w.writeInt(timeOut)
        w.writeLong(sessionId)
        w.writeBuffer(passwd)
        if let readOnly { w.writeBool(readOnly) }
    }
}

/// The server's answer to `ConnectRequest`; it has no `ReplyHeader`. A `timeOut` of 0 or less means the session
/// was rejected (expired or unknown).
public struct ConnectResponse: JuteRecord, Sendable, Equatable {
    public var protocolVersion: Int32
    /// Negotiated session timeout in milliseconds.
    public var timeOut: Int32
    public var sessionId: Int64
    public var passwd: [UInt8]
    /// Whether the server is read-only; decoded only if a byte remains, encoded only if non-nil.
    public var readOnly: Bool?

    public init(protocolVersion: Int32 = 0, timeOut: Int32, sessionId: Int64, passwd: [UInt8], readOnly: Bool? = false) {
        self.protocolVersion = protocolVersion
        self.timeOut = timeOut
        self.sessionId = sessionId
        self.passwd = passwd
        self.readOnly = readOnly
    }

    public init(from r: inout JuteReader) throws {
        protocolVersion = try r.readInt()
        timeOut = try r.readInt()
        sessionId = try r.readLong()
        passwd = try r.readBytes()
        readOnly = r.isAtEnd ? nil : try r.readBool()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeInt(protocolVersion)
        w.writeInt(timeOut)
        w.writeLong(sessionId)
        w.writeBuffer(passwd)
        if let readOnly { w.writeBool(readOnly) }
    }
}

/// Precedes every client frame after the handshake.
public struct RequestHeader: JuteRecord, Sendable, Equatable {
    /// The client's request id, echoed in the reply; negative values are the special ids in `Xid`.
    public var xid: Int32
    /// The raw opcode; see `OpCode`.
    public var type: Int32

    public init(xid: Int32, type: Int32) {
        self.xid = xid
        self.type = type
    }

    public init(xid: Int32, opCode: OpCode) { self.init(xid: xid, type: opCode.rawValue) }

    public var opCode: OpCode? { OpCode(rawValue: type) }

    public init(from r: inout JuteReader) throws {
        xid = try r.readInt()
        type = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeInt(xid)
        w.writeInt(type)
    }
}

/// Precedes every server frame after the handshake.
public struct ReplyHeader: JuteRecord, Sendable, Equatable {
    public var xid: Int32
    /// The last zxid the server has applied (-1 on a notification).
    public var zxid: Int64
    /// The raw error code; see `ErrorCode`. ZooKeeper sends no body after a non-zero code.
    public var err: Int32

    public init(xid: Int32, zxid: Int64, err: Int32) {
        self.xid = xid
        self.zxid = zxid
        self.err = err
    }

    public init(xid: Int32, zxid: Int64, error: ErrorCode) { self.init(xid: xid, zxid: zxid, err: error.rawValue) }

    /// The error code, or nil if the server sent one this library does not know.
    public var errorCode: ErrorCode? { ErrorCode(rawValue: err) }

    public init(from r: inout JuteReader) throws {
        xid = try r.readInt()
        zxid = try r.readLong()
        err = try r.readInt()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeInt(xid)
        w.writeLong(zxid)
        w.writeInt(err)
    }
}

/// A watch notification (sent with `ReplyHeader.xid == Xid.notification`).
public struct WatcherEvent: JuteRecord, Sendable, Equatable {
    /// The raw event type; see `EventType`.
    public var type: Int32
    /// The raw keeper state; see `KeeperState`.
    public var state: Int32
    public var path: String

    public init(type: Int32, state: Int32, path: String) {
        self.type = type
        self.state = state
        self.path = path
    }

    public init(type: EventType, state: KeeperState, path: String) {
        self.init(type: type.rawValue, state: state.rawValue, path: path)
    }

    public var eventType: EventType? { EventType(rawValue: type) }
    public var keeperState: KeeperState? { KeeperState(rawValue: state) }

    public init(from r: inout JuteReader) throws {
        type = try r.readInt()
        state = try r.readInt()
        path = try r.readUString()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeInt(type)
        w.writeInt(state)
        w.writeString(path)
    }
}

/// `addAuth`: credentials in a scheme (sent with `Xid.auth`).
public struct AuthPacket: JuteRecord, Sendable, Equatable {
    /// Unused by ZooKeeper; clients send 0.
    public var type: Int32
    public var scheme: String
    public var auth: [UInt8]

    public init(type: Int32 = 0, scheme: String, auth: [UInt8]) {
        self.type = type
        self.scheme = scheme
        self.auth = auth
    }

    public init(from r: inout JuteReader) throws {
        type = try r.readInt()
        scheme = try r.readUString()
        auth = try r.readBytes()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeInt(type)
        w.writeString(scheme)
        w.writeBuffer(auth)
    }
}

/// Re-registers watches after a reconnect (sent with `Xid.setWatches`). Watches whose node changed after
/// `relativeZxid` fire at once.
public struct SetWatches: JuteRecord, Sendable, Equatable {
    public var relativeZxid: Int64
    public var dataWatches: [String]
    public var existWatches: [String]
    public var childWatches: [String]

    public init(relativeZxid: Int64, dataWatches: [String], existWatches: [String], childWatches: [String]) {
        self.relativeZxid = relativeZxid
        self.dataWatches = dataWatches
        self.existWatches = existWatches
        self.childWatches = childWatches
    }

    public init(from r: inout JuteReader) throws {
        relativeZxid = try r.readLong()
        dataWatches = try r.readStrings()
        existWatches = try r.readStrings()
        childWatches = try r.readStrings()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeLong(relativeZxid)
        w.writeStrings(dataWatches)
        w.writeStrings(existWatches)
        w.writeStrings(childWatches)
    }
}

/// `SetWatches` plus persistent watches (ZooKeeper 3.6+).
public struct SetWatches2: JuteRecord, Sendable, Equatable {
    public var relativeZxid: Int64
    public var dataWatches: [String]
    public var existWatches: [String]
    public var childWatches: [String]
    public var persistentWatches: [String]
    public var persistentRecursiveWatches: [String]

    public init(
        relativeZxid: Int64, dataWatches: [String], existWatches: [String], childWatches: [String],
        persistentWatches: [String], persistentRecursiveWatches: [String]
    ) {
        self.relativeZxid = relativeZxid
        self.dataWatches = dataWatches
        self.existWatches = existWatches
        self.childWatches = childWatches
        self.persistentWatches = persistentWatches
        self.persistentRecursiveWatches = persistentRecursiveWatches
    }

    public init(from r: inout JuteReader) throws {
        relativeZxid = try r.readLong()
        dataWatches = try r.readStrings()
        existWatches = try r.readStrings()
        childWatches = try r.readStrings()
        persistentWatches = try r.readStrings()
        persistentRecursiveWatches = try r.readStrings()
    }

    public func encode(to w: inout JuteWriter) {
        w.writeLong(relativeZxid)
        w.writeStrings(dataWatches)
        w.writeStrings(existWatches)
        w.writeStrings(childWatches)
        w.writeStrings(persistentWatches)
        w.writeStrings(persistentRecursiveWatches)
    }
}

/// The body of a SASL request (`GetSASLRequest`) or response (`SetSASLResponse`): one opaque token.
public struct SASLToken: JuteRecord, Sendable, Equatable {
    public var token: [UInt8]

    public init(token: [UInt8]) { self.token = token }

    public init(from r: inout JuteReader) throws { token = try r.readBytes() }

    public func encode(to w: inout JuteWriter) { w.writeBuffer(token) }
}
