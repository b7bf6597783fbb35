/// Client requests as the server sees them after the `RequestHeader`: one case per client opcode, with its body.

/// A request body the server cannot dispatch. Malformed bytes inside a known body are reported as `JuteError`.
public enum RequestDecodeError: Error, Equatable, Sendable {
    /// The header's opcode is not one a client may send; ZooKeeper answers such requests with `unimplemented`.
    case unknownOpCode(Int32)
}

/// Coded by hand: the body's layout depends on the header's opcode, which no field list can say.
public enum Request: Sendable, Equatable {
    case create(CreateRequest)
    case create2(CreateRequest)
    case createContainer(CreateRequest)
    case createTTL(CreateTTLRequest)
    case delete(DeleteRequest)
    case exists(ExistsRequest)
    case getData(GetDataRequest)
    case setData(SetDataRequest)
    case getACL(GetACLRequest)
    case setACL(SetACLRequest)
    case getChildren(GetChildrenRequest)
    case getChildren2(GetChildren2Request)
    case sync(SyncRequest)
    case ping
    case check(CheckVersionRequest)
    case multi([MultiOp])
    case multiRead([MultiOp])
    case reconfig(ReconfigRequest)
    case checkWatches(CheckWatchesRequest)
    case removeWatches(RemoveWatchesRequest)
    case auth(AuthPacket)
    case setWatches(SetWatches)
    case sasl(SASLToken)
    case getEphemerals(GetEphemeralsRequest)
    case getAllChildrenNumber(GetAllChildrenNumberRequest)
    case setWatches2(SetWatches2)
    case addWatch(AddWatchRequest)
    case whoAmI
    case closeSession

    public var opCode: OpCode {
        switch self {
        case .create: return .create
        case .create2: return .create2
        case .createContainer: return .createContainer
        case .createTTL: return .createTTL
        case .delete: return .delete
        case .exists: return .exists
        case .getData: return .getData
        case .setData: return .setData
        case .getACL: return .getACL
        case .setACL: return .setACL
        case .getChildren: return .getChildren
        case .getChildren2: return .getChildren2
        case .sync: return .sync
        case .ping: return .ping
        case .check: return .check
        case .multi: return .multi
        case .multiRead: return .multiRead
        case .reconfig: return .reconfig
        case .checkWatches: return .checkWatches
        case .removeWatches: return .removeWatches
        case .auth: return .auth
        case .setWatches: return .setWatches
        case .sasl: return .sasl
        case .getEphemerals: return .getEphemerals
        case .getAllChildrenNumber: return .getAllChildrenNumber
        case .setWatches2: return .setWatches2
        case .addWatch: return .addWatch
        case .whoAmI: return .whoAmI
        case .closeSession: return .closeSession
        }
    }

    /// Decodes the body that followed a `RequestHeader` whose `type` is `opCode`. Trailing bytes are ignored, as
    /// ZooKeeper ignores them.
    /// - Throws: `RequestDecodeError.unknownOpCode` for an opcode no client may send (checked before any byte is
    ///   read), `JuteError` for a malformed body.
    public static func decode(opCode: Int32, body r: inout JuteReader) throws -> Request {
        guard let op = OpCode(rawValue: opCode) else { throw RequestDecodeError.unknownOpCode(opCode) }
        switch op {
        case .create: return .create(try r.read())
        case .create2: return .create2(try r.read())
        case .createContainer: return .createContainer(try r.read())
        case .createTTL: return .createTTL(try r.read())
        case .delete: return .delete(try r.read())
        case .exists: return .exists(try r.read())
        case .getData: return .getData(try r.read())
        case .setData: return .setData(try r.read())
        case .getACL: return .getACL(try r.read())
        case .setACL: return .setACL(try r.read())
        case .getChildren: return .getChildren(try r.read())
        case .getChildren2: return .getChildren2(try r.read())
        case .sync: return .sync(try r.read())
        case .ping: return .ping
        case .check: return .check(try r.read())
        case .multi: return .multi(try MultiOp.decodeAll(from: &r))
        case .multiRead: return .multiRead(try MultiOp.decodeAll(from: &r))
        case .reconfig: return .reconfig(try r.read())
        case .checkWatches: return .checkWatches(try r.read())
        case .removeWatches: return .removeWatches(try r.read())
        case .auth: return .auth(try r.read())
        case .setWatches: return .setWatches(try r.read())
        case .sasl: return .sasl(try r.read())
        case .getEphemerals: return .getEphemerals(try r.read())
        case .getAllChildrenNumber: return .getAllChildrenNumber(try r.read())
        case .setWatches2: return .setWatches2(try r.read())
        case .addWatch: return .addWatch(try r.read())
        case .whoAmI: return .whoAmI
        case .closeSession: return .closeSession
        case .notification, .deleteContainer, .createSession, .error:
            throw RequestDecodeError.unknownOpCode(opCode)
        }
    }

    /// Writes the body only (no `RequestHeader`, no frame length).
    public func encode(to w: inout JuteWriter) {
        switch self {
        case let .create(r), let .create2(r), let .createContainer(r): w.write(r)
        case let .createTTL(r): w.write(r)
        case let .delete(r): w.write(r)
        case let .exists(r): w.write(r)
        case let .getData(r): w.write(r)
        case let .setData(r): w.write(r)
        case let .getACL(r): w.write(r)
        case let .setACL(r): w.write(r)
        case let .getChildren(r), let .getChildren2(r): w.write(r)
        case let .sync(r): w.write(r)
        case .ping, .whoAmI, .closeSession: break
        case let .check(r): w.write(r)
        case let .multi(ops), let .multiRead(ops): MultiOp.encode(ops, to: &w)
        case let .reconfig(r): w.write(r)
        case let .checkWatches(r): w.write(r)
        case let .removeWatches(r): w.write(r)
        case let .auth(r): w.write(r)
        case let .setWatches(r): w.write(r)
        case let .sasl(r): w.write(r)
        case let .getEphemerals(r): w.write(r)
        case let .getAllChildrenNumber(r): w.write(r)
        case let .setWatches2(r): w.write(r)
        case let .addWatch(r): w.write(r)
        }
    }

    /// The `RequestHeader` with `xid` followed by the body: a frame's payload, to be wrapped by `Frame.encode`.
    public func packet(xid: Int32) -> [UInt8] {
        var w = JuteWriter()
        w.write(RequestHeader(xid: xid, opCode: opCode))
        encode(to: &w)
        return w.bytes
    }
}
