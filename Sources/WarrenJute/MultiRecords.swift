/// The framing of `multi` and `multiRead`.
///
/// A multi body is a sequence of (`MultiHeader`, record) pairs ended by a header with `done == true`. In a request
/// each header's `type` names the op and its `err` is -1; in a response each header's `type` names the result and
/// its `err` is 0, or the op's error code when `type` is `OpCode.error`. Both end with
/// `MultiHeader(type: -1, done: true, err: -1)`. `MultiOp` and `MultiResult` are coded by hand: each record's type
/// comes from the header before it, and the list ends at a header rather than after a count.

public struct MultiHeader: JuteFields, Sendable, Equatable {
    public var type: Int32 = 0
    public var done = false
    public var err: Int32 = 0

    public init() {}
    public init(type: Int32, done: Bool, err: Int32) {
        self.type = type
        self.done = done
        self.err = err
    }

    /// The header that ends every multi request and response.
    public static let end = MultiHeader(type: -1, done: true, err: -1)

    @inlinable public mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure) {
        try v.field(&type)
        try v.field(&done)
        try v.field(&err)
    }
}

/// One operation of a `multi` (writes and `check`) or `multiRead` (`getData`, `getChildren`).
public enum MultiOp: Sendable, Equatable {
    case create(CreateRequest)
    case create2(CreateRequest)
    case createContainer(CreateRequest)
    case createTTL(CreateTTLRequest)
    case delete(DeleteRequest)
    case setData(SetDataRequest)
    case check(CheckVersionRequest)
    case getData(GetDataRequest)
    case getChildren(GetChildrenRequest)

    public var opCode: OpCode {
        switch self {
        case .create: return .create
        case .create2: return .create2
        case .createContainer: return .createContainer
        case .createTTL: return .createTTL
        case .delete: return .delete
        case .setData: return .setData
        case .check: return .check
        case .getData: return .getData
        case .getChildren: return .getChildren
        }
    }

    /// True for the ops allowed in `multiRead`; ZooKeeper rejects a multi that mixes reads and writes.
    public var isRead: Bool {
        switch self {
        case .getData, .getChildren: return true
        default: return false
        }
    }

    /// The path the op acts on.
    public var path: String {
        switch self {
        case let .create(r), let .create2(r), let .createContainer(r): return r.path
        case let .createTTL(r): return r.path
        case let .delete(r): return r.path
        case let .setData(r): return r.path
        case let .check(r): return r.path
        case let .getData(r): return r.path
        case let .getChildren(r): return r.path
        }
    }

    func encodeRecord(to w: inout JuteWriter) {
        switch self {
        case let .create(r), let .create2(r), let .createContainer(r): w.write(r)
        case let .createTTL(r): w.write(r)
        case let .delete(r): w.write(r)
        case let .setData(r): w.write(r)
        case let .check(r): w.write(r)
        case let .getData(r): w.write(r)
        case let .getChildren(r): w.write(r)
        }
    }

    static func decodeRecord(type: Int32, from r: inout JuteReader) throws -> MultiOp {
        switch OpCode(rawValue: type) {
        case .create: return .create(try r.read())
        case .create2: return .create2(try r.read())
        case .createContainer: return .createContainer(try r.read())
        case .createTTL: return .createTTL(try r.read())
        case .delete: return .delete(try r.read())
        case .setData: return .setData(try r.read())
        case .check: return .check(try r.read())
        case .getData: return .getData(try r.read())
        case .getChildren: return .getChildren(try r.read())
        default: throw JuteError.badValue("op type \(type) in a multi request")
        }
    }

    /// Writes the ops as a multi request body, terminator included.
    public static func encode(_ ops: [MultiOp], to w: inout JuteWriter) {
        for op in ops {
            w.write(MultiHeader(type: op.opCode.rawValue, done: false, err: -1))
            op.encodeRecord(to: &w)
        }
        w.write(MultiHeader.end)
    }

    /// Reads a multi request body up to and including its terminating header. Throws `JuteError.badValue` for an
    /// op type a multi may not contain.
    public static func decodeAll(from r: inout JuteReader) throws -> [MultiOp] {
        var ops: [MultiOp] = []
        var header: MultiHeader = try r.read()
        while !header.done {
            ops.append(try decodeRecord(type: header.type, from: &r))
            header = try r.read()
        }
        return ops
    }
}

/// The outcome of one op in a multi response.
public enum MultiResult: Sendable, Equatable {
    case create(CreateResponse)
    /// Also the result of `createContainer` and `createTTL`.
    case create2(Create2Response)
    case delete
    case setData(SetDataResponse)
    case check
    case getData(GetDataResponse)
    case getChildren(GetChildrenResponse)
    /// In a failed `multi` every op gets an error: the failing one its own code, those before it `ok` (0) and those
    /// after it `runtimeInconsistency`. In `multiRead` only the failing reads are errors.
    case error(ErrorResponse)

    /// The `type` of this result's `MultiHeader`.
    public var type: Int32 {
        switch self {
        case .create: return OpCode.create.rawValue
        case .create2: return OpCode.create2.rawValue
        case .delete: return OpCode.delete.rawValue
        case .setData: return OpCode.setData.rawValue
        case .check: return OpCode.check.rawValue
        case .getData: return OpCode.getData.rawValue
        case .getChildren: return OpCode.getChildren.rawValue
        case .error: return OpCode.error.rawValue
        }
    }

    /// Writes the results as a multi response body, terminator included.
    public static func encode(_ results: [MultiResult], to w: inout JuteWriter) {
        for result in results {
            var err: Int32 = 0
            if case let .error(e) = result { err = e.err }
            w.write(MultiHeader(type: result.type, done: false, err: err))
            switch result {
            case let .create(r): w.write(r)
            case let .create2(r): w.write(r)
            case .delete, .check: break
            case let .setData(r): w.write(r)
            case let .getData(r): w.write(r)
            case let .getChildren(r): w.write(r)
            case let .error(r): w.write(r)
            }
        }
        w.write(MultiHeader.end)
    }

    /// Reads a multi response body up to and including its terminating header. Throws `JuteError.badValue` for a
    /// result type a multi response may not contain.
    public static func decodeAll(from r: inout JuteReader) throws -> [MultiResult] {
        var results: [MultiResult] = []
        var header: MultiHeader = try r.read()
        while !header.done {
            switch OpCode(rawValue: header.type) {
            case .create: results.append(.create(try r.read()))
            case .create2: results.append(.create2(try r.read()))
            case .delete: results.append(.delete)
            case .setData: results.append(.setData(try r.read()))
            case .check: results.append(.check)
            case .getData: results.append(.getData(try r.read()))
            case .getChildren: results.append(.getChildren(try r.read()))
            case .error: results.append(.error(try r.read()))
            default: throw JuteError.badValue("result type \(header.type) in a multi response")
            }
            header = try r.read()
        }
        return results
    }
}
