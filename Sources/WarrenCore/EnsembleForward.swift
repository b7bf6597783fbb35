import WarrenJute
import WarrenTree

/// What a follower hands its leader inside `ZabMessage.forward(payload:)`, Jute-encoded.
///
/// Every kind except `touch` comes back to the follower as a txn in the committed stream whose header carries the
/// same `sessionId` and `cxid`, which is how the follower finds the local request to answer. A request the leader
/// cannot prepare becomes a txn with an `.error` body, so the follower still gets its answer in order.
package enum ForwardedWrite: Equatable {
    /// A write of a session on the follower: the leader prepares `op` with these credentials and `cxid`.
    case write(sessionId: Int64, authIds: [Id], cxid: Int32, op: WriteOp)
    /// Sessions with client activity on the follower since the last report: the leader refreshes their expiry.
    case touch([Int64])

    func encode() -> [UInt8] {
        var w = JuteWriter()
        switch self {
        case let .write(sid, authIds, cxid, op):
            w.writeInt(1)
            w.writeLong(sid)
            w.writeVector(authIds) { w, id in id.encode(to: &w) }
            w.writeInt(cxid)
            op.encode(to: &w)
        case let .touch(ids):
            w.writeInt(3)
            w.writeVector(ids) { w, id in w.writeLong(id) }
        }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> ForwardedWrite {
        var r = JuteReader(bytes)
        switch try r.readInt() {
        case 1:
            let sid = try r.readLong()
            let ids = try r.readVector { try Id(from: &$0) } ?? []
            return .write(sessionId: sid, authIds: ids, cxid: try r.readInt(), op: try WriteOp(from: &r))
        case 3: return .touch(try r.readVector { try $0.readLong() } ?? [])
        case let k: throw JuteError.badValue("forwarded write kind \(k)")
        }
    }
}

/// A Jute encoding of `WriteOp` for forwarding (Warren's own layout; it never reaches disk or clients).
package extension WriteOp {
    func encode(to w: inout JuteWriter) {
        func acl(_ list: [ACL]) { w.writeVector(list) { w, a in a.encode(to: &w) } }
        switch self {
        case let .create(path, data, list, mode, ttlMs):
            w.writeInt(1)
            w.writeString(path)
            w.writeBuffer(data)
            acl(list)
            w.writeInt(mode.rawValue)
            w.writeBool(ttlMs != nil)
            w.writeLong(ttlMs ?? 0)
        case let .delete(path, version):
            w.writeInt(2)
            w.writeString(path)
            w.writeInt(version)
        case let .setData(path, data, version):
            w.writeInt(3)
            w.writeString(path)
            w.writeBuffer(data)
            w.writeInt(version)
        case let .setACL(path, list, version):
            w.writeInt(4)
            w.writeString(path)
            acl(list)
            w.writeInt(version)
        case let .check(path, version):
            w.writeInt(5)
            w.writeString(path)
            w.writeInt(version)
        case let .multi(ops):
            w.writeInt(6)
            w.writeVector(ops) { w, op in op.encode(to: &w) }
        case let .createSession(sid, timeoutMs):
            w.writeInt(7)
            w.writeLong(sid)
            w.writeInt(timeoutMs)
        case let .closeSession(sid):
            w.writeInt(8)
            w.writeLong(sid)
        case let .deleteContainer(path):
            w.writeInt(9)
            w.writeString(path)
        case let .reconfig(joining, leaving, newMembers, fromConfig):
            w.writeInt(10)
            w.writeString(joining)
            w.writeString(leaving)
            w.writeString(newMembers)
            w.writeLong(fromConfig)
        }
    }

    init(from r: inout JuteReader) throws {
        func string() throws -> String { try r.readString() ?? "" }
        func acl() throws -> [ACL] { try r.readVector { try ACL(from: &$0) } ?? [] }
        switch try r.readInt() {
        case 1:
            let path = try string()
            let data = try r.readBuffer()
            let list = try acl()
            let rawMode = try r.readInt()
            guard let mode = CreateMode(rawValue: rawMode) else { throw JuteError.badValue("create mode \(rawMode)") }
            let hasTTL = try r.readBool()
            let ttl = try r.readLong()
            self = .create(path: path, data: data, acl: list, mode: mode, ttlMs: hasTTL ? ttl : nil)
        case 2: self = .delete(path: try string(), version: try r.readInt())
        case 3: self = .setData(path: try string(), data: try r.readBuffer(), version: try r.readInt())
        case 4: self = .setACL(path: try string(), acl: try acl(), version: try r.readInt())
        case 5: self = .check(path: try string(), version: try r.readInt())
        case 6: self = .multi(try r.readVector { try WriteOp(from: &$0) } ?? [])
        case 7: self = .createSession(sessionId: try r.readLong(), timeoutMs: try r.readInt())
        case 8: self = .closeSession(sessionId: try r.readLong())
        case 9: self = .deleteContainer(path: try string())
        case 10:
            self = .reconfig(joining: try r.readString(), leaving: try r.readString(), newMembers: try r.readString(),
                             fromConfig: try r.readLong())
        case let k: throw JuteError.badValue("write op kind \(k)")
        }
    }
}

/// Names a follower's forwarded `sync` in `ZabEvent.clientSync` and back in `ZabAction.synced`: the session and
/// cxid of the request, as its pipeline entry does.
package struct SyncToken: Equatable, CustomStringConvertible {
    var sessionId: Int64
    var cxid: Int32

    func encode() -> [UInt8] {
        var w = JuteWriter()
        w.writeLong(sessionId)
        w.writeInt(cxid)
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> SyncToken {
        var r = JuteReader(bytes)
        return SyncToken(sessionId: try r.readLong(), cxid: try r.readInt())
    }

    package var description: String { "session 0x\(String(UInt64(bitPattern: sessionId), radix: 16)) cxid \(cxid)" }
}
