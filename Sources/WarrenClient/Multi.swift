import WarrenJute

/// Collects the ops of a `multi` (writes and checks) or `multiRead` (reads), with the caller's paths.
public struct MultiBuilder: Sendable {
    public private(set) var ops: [MultiOp] = []

    public init() {}

    /// A create; `ttl` (milliseconds) is required for the TTL modes and ignored otherwise.
    public mutating func create(
        _ path: String, data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent,
        ttl: Int64? = nil
    ) {
        if mode.isTTL {
            ops.append(.createTTL(CreateTTLRequest(path: path, data: data, acl: acl, flags: mode.rawValue,
                                                   ttl: ttl ?? 0)))
        } else if mode.isContainer {
            ops.append(.createContainer(CreateRequest(path: path, data: data, acl: acl, mode: mode)))
        } else {
            ops.append(.create2(CreateRequest(path: path, data: data, acl: acl, mode: mode)))
        }
    }

    public mutating func delete(_ path: String, version: Int32 = -1) {
        ops.append(.delete(DeleteRequest(path: path, version: version)))
    }

    public mutating func setData(_ path: String, data: [UInt8]?, version: Int32 = -1) {
        ops.append(.setData(SetDataRequest(path: path, data: data, version: version)))
    }

    public mutating func check(_ path: String, version: Int32) {
        ops.append(.check(CheckVersionRequest(path: path, version: version)))
    }

    /// For `multiRead` only.
    public mutating func getData(_ path: String) {
        ops.append(.getData(GetDataRequest(path: path, watch: false)))
    }

    /// For `multiRead` only.
    public mutating func getChildren(_ path: String) {
        ops.append(.getChildren(GetChildrenRequest(path: path, watch: false)))
    }
}

/// The outcome of one op of a `multi` or `multiRead`, with the caller's paths.
public enum OpResult: Sendable, Equatable {
    /// A create; `stat` is nil only if the server answered a plain create.
    case create(path: String, stat: Stat?)
    case delete
    case setData(Stat)
    case check
    case getData(data: [UInt8]?, stat: Stat)
    case getChildren([String])
    /// This op failed with the code, or (in a failed `multi`) was rolled back (`ok` before the failing op,
    /// `runtimeInconsistency` after it).
    case error(ErrorCode)

    var errorCode: ErrorCode? {
        if case let .error(code) = self { return code }
        return nil
    }
}

extension MultiOp {
    /// The same op with its path mapped by `transform`.
    func mappingPath(_ transform: (String) -> String) -> MultiOp {
        switch self {
        case var .create(r): r.path = transform(r.path); return .create(r)
        case var .create2(r): r.path = transform(r.path); return .create2(r)
        case var .createContainer(r): r.path = transform(r.path); return .createContainer(r)
        case var .createTTL(r): r.path = transform(r.path); return .createTTL(r)
        case var .delete(r): r.path = transform(r.path); return .delete(r)
        case var .setData(r): r.path = transform(r.path); return .setData(r)
        case var .check(r): r.path = transform(r.path); return .check(r)
        case var .getData(r): r.path = transform(r.path); return .getData(r)
        case var .getChildren(r): r.path = transform(r.path); return .getChildren(r)
        }
    }

    var isSequentialCreate: Bool {
        switch self {
        case let .create(r), let .create2(r), let .createContainer(r): return r.mode?.isSequential ?? false
        case let .createTTL(r): return r.mode?.isSequential ?? false
        default: return false
        }
    }
}

extension OpResult {
    /// The caller's view of a wire result; created paths are mapped by `clientPath`.
    init(_ result: MultiResult, clientPath: (String) -> String) {
        switch result {
        case let .create(r): self = .create(path: clientPath(r.path), stat: nil)
        case let .create2(r): self = .create(path: clientPath(r.path), stat: r.stat)
        case .delete: self = .delete
        case let .setData(r): self = .setData(r.stat)
        case .check: self = .check
        case let .getData(r): self = .getData(data: r.data, stat: r.stat)
        case let .getChildren(r): self = .getChildren(r.children)
        case let .error(e):
            self = .error(ErrorCode(rawValue: e.err) ?? .systemError)
        }
    }
}
