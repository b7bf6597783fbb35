#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#else
import Darwin
#endif
import WarrenClient
import WarrenJute

/// The errno a ZooKeeper error code becomes in a reply to the kernel. See the table in Docs/zkfs.md.
public enum ErrnoMap {
    public static func errno(for code: ErrorCode) -> Int32 {
        switch code {
        case .ok: return 0
        case .noNode: return ENOENT
        case .nodeExists: return EEXIST
        case .notEmpty: return ENOTEMPTY
        case .noAuth, .authFailed: return EACCES
        case .badVersion: return ESTALE
        case .noChildrenForEphemerals: return ENOTDIR
        case .invalidACL, .badArguments: return EINVAL
        case .unimplemented: return EOPNOTSUPP
        case .quotaExceeded: return EDQUOT
        case .notReadOnly: return EROFS
        case .connectionLoss, .sessionExpired, .sessionMoved, .operationTimeout, .requestTimeout,
             .marshallingError, .systemError, .runtimeInconsistency, .dataInconsistency, .throttledOp,
             .unknownSession, .apiError, .invalidCallback, .ephemeralOnLocalSession, .noWatcher,
             .newConfigNoQuorum, .reconfigInProgress, .reconfigDisabled, .sessionClosedRequireSaslAuth:
            return EIO
        }
    }
}

/// A failure of a filesystem operation, carrying the errno the kernel gets.
public struct FSError: Error, Equatable, Sendable, CustomStringConvertible {
    public var errno: Int32
    public var reason: String

    public init(_ errno: Int32, _ reason: String = "") {
        self.errno = errno
        self.reason = reason
    }

    public init(_ error: ZooKeeperError) {
        self.init(ErrnoMap.errno(for: error.code), error.description)
    }

    /// `error` as an `FSError`: ZooKeeper errors by the table, anything else EIO.
    public static func from(_ error: Error) -> FSError {
        if let e = error as? FSError { return e }
        if let e = error as? ZooKeeperError { return FSError(e) }
        return FSError(EIO, "\(error)")
    }

    public var description: String { "errno \(errno)\(reason.isEmpty ? "" : ": " + reason)" }
}
