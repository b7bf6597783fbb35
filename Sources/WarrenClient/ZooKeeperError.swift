import WarrenJute

/// A failed operation: the server's (or the client's own) `ErrorCode`, the path it concerned, and for a failed
/// `multi` every op's result.
public struct ZooKeeperError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: ErrorCode
    /// The caller's path (chroot not included), when the operation had one.
    public var path: String?
    /// Extra detail from the client itself (a parse error, a protocol fault); nil for plain server errors.
    public var message: String?
    /// For a failed `multi`: the result of each op, in order (the failing op carries its code, those before it
    /// `ok`, those after it `runtimeInconsistency`).
    public var multiResults: [OpResult]?

    public init(_ code: ErrorCode, path: String? = nil, message: String? = nil, multiResults: [OpResult]? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.multiResults = multiResults
    }

    /// An error for a raw code from the wire; unknown codes become `systemError` with the number in `message`.
    init(raw: Int32, path: String?) {
        if let code = ErrorCode(rawValue: raw) {
            self.init(code, path: path)
        } else {
            self.init(.systemError, path: path, message: "unknown error code \(raw)")
        }
    }

    /// `KeeperErrorCode = NoNode for /a`, as ZooKeeper's Java client words it.
    public var description: String {
        var s = "KeeperErrorCode = \(code.keeperName)"
        if let path { s += " for \(path)" }
        if let message { s += ": \(message)" }
        return s
    }
}

extension ErrorCode {
    /// The name ZooKeeper's `KeeperException` messages use for this code.
    public var keeperName: String {
        switch self {
        case .ok: return "ok"
        case .systemError: return "SystemError"
        case .runtimeInconsistency: return "RuntimeInconsistency"
        case .dataInconsistency: return "DataInconsistency"
        case .connectionLoss: return "ConnectionLoss"
        case .marshallingError: return "MarshallingError"
        case .unimplemented: return "Unimplemented"
        case .operationTimeout: return "OperationTimeout"
        case .badArguments: return "BadArguments"
        case .unknownSession: return "Unknown session"
        case .newConfigNoQuorum: return "New config has no quorum"
        case .reconfigInProgress: return "Reconfig is in progress"
        case .apiError: return "APIError"
        case .noNode: return "NoNode"
        case .noAuth: return "NoAuth"
        case .badVersion: return "BadVersion"
        case .noChildrenForEphemerals: return "NoChildrenForEphemerals"
        case .nodeExists: return "NodeExists"
        case .notEmpty: return "Directory not empty"
        case .sessionExpired: return "Session expired"
        case .invalidCallback: return "Invalid callback"
        case .invalidACL: return "InvalidACL"
        case .authFailed: return "AuthFailed"
        case .sessionMoved: return "Session moved"
        case .notReadOnly: return "Not a read-only call"
        case .ephemeralOnLocalSession: return "Ephemeral node on local session"
        case .noWatcher: return "No such watcher"
        case .requestTimeout: return "Request timeout"
        case .reconfigDisabled: return "Reconfig is disabled"
        case .sessionClosedRequireSaslAuth: return "Session closed because client failed to authenticate"
        case .quotaExceeded: return "Quota has exceeded"
        case .throttledOp: return "Op throttled due to high load"
        }
    }
}
