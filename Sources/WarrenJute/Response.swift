/// Server replies as the client sees them after the `ReplyHeader`.

/// Coded by hand: the body's layout depends on the request's opcode, which no field list can say.
public enum Response: Sendable, Equatable {
    /// No body: delete, check, ping, closeSession, auth, setWatches(2), removeWatches, checkWatches.
    case empty
    /// addWatch's success body: an `ErrorResponse` record (err 0). ZooKeeper's Java client reads it and drops the
    /// connection (EOF in `ErrorResponse.deserialize`) when the reply ends after the header.
    case addWatch(ErrorResponse)
    case create(CreateResponse)
    /// The answer to create2, createContainer and createTTL.
    case create2(Create2Response)
    case exists(ExistsResponse)
    case getData(GetDataResponse)
    case setData(SetDataResponse)
    case getACL(GetACLResponse)
    case setACL(SetACLResponse)
    case getChildren(GetChildrenResponse)
    case getChildren2(GetChildren2Response)
    case sync(SyncResponse)
    /// The new configuration's data and stat.
    case reconfig(GetDataResponse)
    case sasl(SASLToken)
    case getEphemerals(GetEphemeralsResponse)
    case getAllChildrenNumber(GetAllChildrenNumberResponse)
    case whoAmI(WhoAmIResponse)
    case multi([MultiResult])
    /// A watch event, sent unasked with `Xid.notification`.
    case notification(WatcherEvent)

    /// Decodes the body that followed a `ReplyHeader` answering a request of type `request` (or, for
    /// `.notification`, a watch event). ZooKeeper sends no body when the header's `err` is non-zero, so call this
    /// only for replies whose `err` is `ok`. Opcodes that have no body (and those that are never requests) decode
    /// as `.empty` without reading.
    /// - Throws: `JuteError` for a malformed body.
    public static func decode(for request: OpCode, body r: inout JuteReader) throws -> Response {
        switch request {
        case .create: return .create(try r.read())
        case .create2, .createContainer, .createTTL: return .create2(try r.read())
        case .exists: return .exists(try r.read())
        case .getData: return .getData(try r.read())
        case .setData: return .setData(try r.read())
        case .getACL: return .getACL(try r.read())
        case .setACL: return .setACL(try r.read())
        case .getChildren: return .getChildren(try r.read())
        case .getChildren2: return .getChildren2(try r.read())
        case .sync: return .sync(try r.read())
        case .reconfig: return .reconfig(try r.read())
        case .sasl: return .sasl(try r.read())
        case .getEphemerals: return .getEphemerals(try r.read())
        case .getAllChildrenNumber: return .getAllChildrenNumber(try r.read())
        case .whoAmI: return .whoAmI(try r.read())
        case .multi, .multiRead: return .multi(try MultiResult.decodeAll(from: &r))
        case .notification: return .notification(try r.read())
        // A server that sends the header alone (Warren before the fix) still answers addWatch successfully.
        case .addWatch: return .addWatch(r.isAtEnd ? ErrorResponse(error: .ok) : try r.read())
        case .delete, .check, .ping, .closeSession, .auth, .setWatches, .setWatches2, .removeWatches,
            .checkWatches, .deleteContainer, .createSession, .error:
            return .empty
        }
    }

    /// Writes the body only (no `ReplyHeader`, no frame length).
    public func encode(to w: inout JuteWriter) {
        switch self {
        case .empty: break
        case let .create(r): w.write(r)
        case let .create2(r): w.write(r)
        case let .exists(r), let .setData(r), let .setACL(r): w.write(r)
        case let .getData(r), let .reconfig(r): w.write(r)
        case let .getACL(r): w.write(r)
        case let .getChildren(r): w.write(r)
        case let .getChildren2(r): w.write(r)
        case let .sync(r): w.write(r)
        case let .sasl(r): w.write(r)
        case let .getEphemerals(r): w.write(r)
        case let .getAllChildrenNumber(r): w.write(r)
        case let .whoAmI(r): w.write(r)
        case let .addWatch(r): w.write(r)
        case let .multi(results): MultiResult.encode(results, to: &w)
        case let .notification(r): w.write(r)
        }
    }

    /// `header` followed by the body: a frame's payload, to be wrapped by `Frame.encode`.
    public func packet(header: ReplyHeader) -> [UInt8] {
        var w = JuteWriter()
        w.write(header)
        encode(to: &w)
        return w.bytes
    }
}
