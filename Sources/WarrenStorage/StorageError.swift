#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Faults that come from the disk or from damaged files. None of them is a programming error.
///
/// The storage layer never repairs damage silently except for a *torn tail* (an incomplete final record left by a
/// crash before the write was synced, hence never acknowledged): that is truncated and reported in a report line.
/// Everything else that does not verify is one of these errors, and the caller must not go on as if it had not
/// happened.
public enum StorageError: Error, Equatable, CustomStringConvertible {
    /// A system call failed. `op` is the call (`write`, `fdatasync`, `open`, ...), `errno` the raw error number.
    case io(op: String, path: String, errno: Int32)
    /// A complete record (or the header of one) whose checksum does not match, or an incomplete record in a place
    /// where a crash cannot have left one. `zxid` is nil when the record's header itself is damaged.
    case corruptRecord(file: String, offset: Int64, zxid: Int64?)
    /// Records are out of order (a zxid not above its predecessor), or there is a gap: within one epoch (the high
    /// 32 bits of the zxid) the counter must advance by exactly one from `previous` to `zxid`.
    case zxidOrder(file: String, offset: Int64, previous: Int64, zxid: Int64)
    /// A log or snapshot file whose header is not ours, has an unknown version, or disagrees with its file name.
    case badFile(file: String, reason: String)
    /// `append` was handed a zxid that is not above the last one in the log (or not positive). Nothing was written.
    case appendOutOfOrder(previous: Int64, zxid: Int64)
    /// A record payload larger than the log format allows. Nothing was written.
    case recordTooLarge(zxid: Int64, bytes: Int)
    /// The log had a failed write, sync or truncate earlier (`cause`). Whether earlier appends are durable is
    /// unknown, so it accepts nothing more until it is reopened, which re-reads and verifies the files.
    indirect case logFailed(cause: StorageError)
    /// The log was closed.
    case closed
    /// Recovery cannot produce a state that is known to hold every acknowledged write (see `Recovery.load`).
    case unrecoverable(reason: String)

    public var description: String {
        switch self {
        case let .io(op, path, code):
            return "\(op) failed on \(path): \(String(cString: strerror(code))) (errno \(code))"
        case let .corruptRecord(file, offset, zxid):
            let which = zxid.map { "record zxid 0x\(String($0, radix: 16))" } ?? "damaged record header"
            return "checksum mismatch in \(file) at offset \(offset): \(which)"
        case let .zxidOrder(file, offset, previous, zxid):
            return "zxid 0x\(String(zxid, radix: 16)) does not follow 0x\(String(previous, radix: 16)) "
                + "in \(file) at offset \(offset)"
        case let .badFile(file, reason):
            return "bad file \(file): \(reason)"
        case let .appendOutOfOrder(previous, zxid):
            return "append of zxid 0x\(String(zxid, radix: 16)) after 0x\(String(previous, radix: 16))"
        case let .recordTooLarge(zxid, bytes):
            return "record zxid 0x\(String(zxid, radix: 16)) has \(bytes) bytes, more than the log format allows"
        case let .logFailed(cause):
            return "transaction log failed earlier and must be reopened: \(cause)"
        case .closed:
            return "transaction log is closed"
        case let .unrecoverable(reason):
            return "cannot recover: \(reason)"
        }
    }
}
