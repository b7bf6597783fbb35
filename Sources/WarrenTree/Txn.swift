import WarrenJute

/// `TxnHeader`: who issued a transaction, its request id, its zxid and the leader's wall-clock time.
public struct TxnHeader: Hashable, Sendable {
    public var sessionId: Int64
    public var cxid: Int32
    public var zxid: Int64
    public var timeMs: Int64

    public init(sessionId: Int64, cxid: Int32, zxid: Int64, timeMs: Int64) {
        self.sessionId = sessionId
        self.cxid = cxid
        self.zxid = zxid
        self.timeMs = timeMs
    }
}

/// A fully determined change to the tree: sequential names resolved, `auth` ACLs expanded, versions computed.
/// Applying the same bodies in the same order always yields the same tree. The encodings are ZooKeeper's txn
/// records (`CreateTxn`, `DeleteTxn`, ... in `zookeeper.jute`), so `type` values are ZooKeeper opcodes. `data` nil is
/// null data, encoded as buffer length -1 like ZooKeeper does, so it survives the log.
public indirect enum TxnBody: Hashable, Sendable {
    /// A persistent or ephemeral node; an ephemeral's owner is the header's session.
    case create(path: String, data: [UInt8]?, acl: [ACL], ephemeral: Bool, parentCVersion: Int32)
    case createContainer(path: String, data: [UInt8]?, acl: [ACL], parentCVersion: Int32)
    case createTTL(path: String, data: [UInt8]?, acl: [ACL], parentCVersion: Int32, ttlMs: Int64)
    case delete(path: String)
    /// A delete issued by the server for an empty container or an expired TTL node.
    case deleteContainer(path: String)
    /// `version` is the node's new version.
    case setData(path: String, data: [UInt8]?, version: Int32)
    /// `version` is the node's new ACL version.
    case setACL(path: String, acl: [ACL], version: Int32)
    /// `version` is the checked version plus one, as ZooKeeper records it.
    case check(path: String, version: Int32)
    case error(ErrorCode)
    case createSession(timeoutMs: Int32)
    /// `paths` are the session's ephemerals known at prepare time, sorted; apply also deletes any others it still owns.
    case closeSession(paths: [String])
    case multi([TxnBody])

    /// The ZooKeeper opcode recorded in the txn header.
    public var type: OpCode {
        switch self {
        case .create: return .create
        case .createContainer: return .createContainer
        case .createTTL: return .createTTL
        case .delete: return .delete
        case .deleteContainer: return .deleteContainer
        case .setData: return .setData
        case .setACL: return .setACL
        case .check: return .check
        case .error: return .error
        case .createSession: return .createSession
        case .closeSession: return .closeSession
        case .multi: return .multi
        }
    }

    public func encode(to w: inout JuteWriter) {
        switch self {
        case let .create(path, data, acl, ephemeral, parentCVersion):
            w.writeString(path)
            w.writeBuffer(data)
            w.writeVector(acl) { $0.write($1) }
            w.writeBool(ephemeral)
            w.writeInt(parentCVersion)
        case let .createContainer(path, data, acl, parentCVersion):
            w.writeString(path)
            w.writeBuffer(data)
            w.writeVector(acl) { $0.write($1) }
            w.writeInt(parentCVersion)
        case let .createTTL(path, data, acl, parentCVersion, ttlMs):
            w.writeString(path)
            w.writeBuffer(data)
            w.writeVector(acl) { $0.write($1) }
            w.writeInt(parentCVersion)
            w.writeLong(ttlMs)
        case let .delete(path), let .deleteContainer(path):
            w.writeString(path)
        case let .setData(path, data, version):
            w.writeString(path)
            w.writeBuffer(data)
            w.writeInt(version)
        case let .setACL(path, acl, version):
            w.writeString(path)
            w.writeVector(acl) { $0.write($1) }
            w.writeInt(version)
        case let .check(path, version):
            w.writeString(path)
            w.writeInt(version)
        case let .error(code):
            w.writeInt(code.rawValue)
        case let .createSession(timeoutMs):
            w.writeInt(timeoutMs)
        case let .closeSession(paths):
            w.writeVector(paths) { $0.writeString($1) }
        case let .multi(bodies):
            // MultiTxn: vector<Txn{int type, buffer data}>.
            w.writeVector(bodies) { w, body in
                w.writeInt(body.type.rawValue)
                var inner = JuteWriter()
                body.encode(to: &inner)
                w.writeBuffer(inner.bytes)
            }
        }
    }

    /// Decodes the body of a txn whose header says `type`. Throws `JuteError` for malformed bytes, an unknown
    /// type, an unknown error code, or a type not allowed inside a multi.
    public static func decode(type: OpCode, from r: inout JuteReader, insideMulti: Bool = false) throws -> TxnBody {
        func string() throws -> String { try r.readString() ?? "" }
        func acl() throws -> [ACL] { try r.readVector { try ACL(from: &$0) } ?? [] }
        if insideMulti && ![.create, .create2, .createContainer, .createTTL, .delete, .deleteContainer, .setData, .check, .error].contains(type) {
            throw JuteError.badValue("txn type \(type) inside multi")
        }
        switch type {
        case .create, .create2:
            return .create(path: try string(), data: try r.readBuffer(), acl: try acl(), ephemeral: try r.readBool(),
                           parentCVersion: try r.readInt())
        case .createContainer:
            return .createContainer(path: try string(), data: try r.readBuffer(), acl: try acl(), parentCVersion: try r.readInt())
        case .createTTL:
            return .createTTL(path: try string(), data: try r.readBuffer(), acl: try acl(), parentCVersion: try r.readInt(),
                              ttlMs: try r.readLong())
        case .delete: return .delete(path: try string())
        case .deleteContainer: return .deleteContainer(path: try string())
        case .setData: return .setData(path: try string(), data: try r.readBuffer(), version: try r.readInt())
        case .setACL: return .setACL(path: try string(), acl: try acl(), version: try r.readInt())
        case .check: return .check(path: try string(), version: try r.readInt())
        case .error:
            let raw = try r.readInt()
            guard let code = ErrorCode(rawValue: raw) else { throw JuteError.badValue("error code \(raw)") }
            return .error(code)
        case .createSession: return .createSession(timeoutMs: try r.readInt())
        case .closeSession:
            return .closeSession(paths: try r.readVector { try $0.readString() ?? "" } ?? [])
        case .multi:
            let bodies = try r.readVector { r -> TxnBody in
                let rawType = try r.readInt()
                guard let subType = OpCode(rawValue: rawType) else { throw JuteError.badValue("txn type \(rawType)") }
                let bytes = try r.readBuffer() ?? []
                var inner = JuteReader(bytes)
                return try TxnBody.decode(type: subType, from: &inner, insideMulti: true)
            }
            return .multi(bodies ?? [])
        default:
            throw JuteError.badValue("txn type \(type)")
        }
    }
}

/// A transaction: header followed by body. The log and replication carry it in the compact encoding
/// (`compactBytes()`, TxnCompact.swift); the Jute form here is ZooKeeper's txn-log entry layout
/// (`TxnHeader{clientId, cxid, zxid, time, type}` then the body record), which version 1 log files hold.
public struct Txn: Hashable, Sendable, JuteRecord {
    public var header: TxnHeader
    public var body: TxnBody

    public init(header: TxnHeader, body: TxnBody) {
        self.header = header
        self.body = body
    }

    public var zxid: Int64 { header.zxid }
    public var type: OpCode { body.type }

    public func encode(to w: inout JuteWriter) {
        w.writeLong(header.sessionId)
        w.writeInt(header.cxid)
        w.writeLong(header.zxid)
        w.writeLong(header.timeMs)
        w.writeInt(body.type.rawValue)
        body.encode(to: &w)
    }

    public init(from r: inout JuteReader) throws {
        let sessionId = try r.readLong()
        let cxid = try r.readInt()
        let zxid = try r.readLong()
        let time = try r.readLong()
        let rawType = try r.readInt()
        guard let type = OpCode(rawValue: rawType) else { throw JuteError.badValue("txn type \(rawType)") }
        header = TxnHeader(sessionId: sessionId, cxid: cxid, zxid: zxid, timeMs: time)
        body = try TxnBody.decode(type: type, from: &r)
    }
}
