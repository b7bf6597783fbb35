/// Records of the session layer: the connect handshake, packet headers, watch notifications, authentication and
/// watch re-registration after a reconnect.

/// The first frame a client sends. It has no `RequestHeader`.
public struct ConnectRequest: JuteFields, Sendable, Equatable {
    public var protocolVersion: Int32 = 0
    public var lastZxidSeen: Int64 = 0
    /// Requested session timeout in milliseconds.
    public var timeOut: Int32 = 0
    /// 0 for a new session, or the id of the session to resume.
    public var sessionId: Int64 = 0
    public var passwd: [UInt8] = []
    /// Absent on the wire from clients older than 3.3; decoded only if a byte remains, encoded only if non-nil.
    public var readOnly: Bool?

    public init() {}
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

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&protocolVersion)
        try v.field(&lastZxidSeen)
        try v.field(&timeOut)
        try v.field(&sessionId)
        try v.field(&passwd)
        try v.trailing(&readOnly)
    }
}

/// The server's answer to `ConnectRequest`; it has no `ReplyHeader`. A `timeOut` of 0 or less means the session
/// was rejected (expired or unknown).
public struct ConnectResponse: JuteFields, Sendable, Equatable {
    public var protocolVersion: Int32 = 0
    /// Negotiated session timeout in milliseconds.
    public var timeOut: Int32 = 0
    public var sessionId: Int64 = 0
    public var passwd: [UInt8] = []
    /// Whether the server is read-only; decoded only if a byte remains, encoded only if non-nil.
    public var readOnly: Bool?

    public init() {}
    public init(protocolVersion: Int32 = 0, timeOut: Int32, sessionId: Int64, passwd: [UInt8], readOnly: Bool? = false) {
        self.protocolVersion = protocolVersion
        self.timeOut = timeOut
        self.sessionId = sessionId
        self.passwd = passwd
        self.readOnly = readOnly
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&protocolVersion)
        try v.field(&timeOut)
        try v.field(&sessionId)
        try v.field(&passwd)
        try v.trailing(&readOnly)
    }
}

/// Precedes every client frame after the handshake.
public struct RequestHeader: JuteFields, Sendable, Equatable {
    /// The client's request id, echoed in the reply; negative values are the special ids in `Xid`.
    public var xid: Int32 = 0
    /// The raw opcode; see `OpCode`.
    public var type: Int32 = 0

    public init() {}
    public init(xid: Int32, type: Int32) {
        self.xid = xid
        self.type = type
    }

    public init(xid: Int32, opCode: OpCode) { self.init(xid: xid, type: opCode.rawValue) }

    public var opCode: OpCode? { OpCode(rawValue: type) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&xid)
        try v.field(&type)
    }
}

/// Precedes every server frame after the handshake.
public struct ReplyHeader: JuteFields, Sendable, Equatable {
    public var xid: Int32 = 0
    /// The last zxid the server has applied (-1 on a notification).
    public var zxid: Int64 = 0
    /// The raw error code; see `ErrorCode`. ZooKeeper sends no body after a non-zero code.
    public var err: Int32 = 0

    public init() {}
    public init(xid: Int32, zxid: Int64, err: Int32) {
        self.xid = xid
        self.zxid = zxid
        self.err = err
    }

    public init(xid: Int32, zxid: Int64, error: ErrorCode) { self.init(xid: xid, zxid: zxid, err: error.rawValue) }

    /// The error code, or nil if the server sent one this library does not know.
    public var errorCode: ErrorCode? { ErrorCode(rawValue: err) }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&xid)
        try v.field(&zxid)
        try v.field(&err)
    }
}

/// A watch notification (sent with `ReplyHeader.xid == Xid.notification`).
public struct WatcherEvent: JuteFields, Sendable, Equatable {
    /// The raw event type; see `EventType`.
    public var type: Int32 = 0
    /// The raw keeper state; see `KeeperState`.
    public var state: Int32 = 0
    public var path = ""

    public init() {}
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

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&type)
        try v.field(&state)
        try v.field(&path)
    }
}

/// `addAuth`: credentials in a scheme (sent with `Xid.auth`).
public struct AuthPacket: JuteFields, Sendable, Equatable {
    /// Unused by ZooKeeper; clients send 0.
    public var type: Int32 = 0
    public var scheme = ""
    public var auth: [UInt8] = []

    public init() {}
    public init(type: Int32 = 0, scheme: String, auth: [UInt8]) {
        self.type = type
        self.scheme = scheme
        self.auth = auth
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&type)
        try v.field(&scheme)
        try v.field(&auth)
    }
}

/// Re-registers watches after a reconnect (sent with `Xid.setWatches`). Watches whose node changed after
/// `relativeZxid` fire at once.
public struct SetWatches: JuteFields, Sendable, Equatable {
    public var relativeZxid: Int64 = 0
    public var dataWatches: [String] = []
    public var existWatches: [String] = []
    public var childWatches: [String] = []

    public init() {}
    public init(relativeZxid: Int64, dataWatches: [String], existWatches: [String], childWatches: [String]) {
        self.relativeZxid = relativeZxid
        self.dataWatches = dataWatches
        self.existWatches = existWatches
        self.childWatches = childWatches
    }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&relativeZxid)
        try v.field(&dataWatches)
        try v.field(&existWatches)
        try v.field(&childWatches)
    }
}

/// `SetWatches` plus persistent watches (ZooKeeper 3.6+).
public struct SetWatches2: JuteFields, Sendable, Equatable {
    public var relativeZxid: Int64 = 0
    public var dataWatches: [String] = []
    public var existWatches: [String] = []
    public var childWatches: [String] = []
    public var persistentWatches: [String] = []
    public var persistentRecursiveWatches: [String] = []

    public init() {}
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

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&relativeZxid)
        try v.field(&dataWatches)
        try v.field(&existWatches)
        try v.field(&childWatches)
        try v.field(&persistentWatches)
        try v.field(&persistentRecursiveWatches)
    }
}

/// The body of a SASL request (`GetSASLRequest`) or response (`SetSASLResponse`): one opaque token.
public struct SASLToken: JuteFields, Sendable, Equatable {
    public var token: [UInt8] = []

    public init() {}
    public init(token: [UInt8]) { self.token = token }

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) { try v.field(&token) }
}
