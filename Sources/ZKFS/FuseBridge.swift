import CFuse3
import Foundation
import Glibc
import Logging

/// Connects libfuse's low-level callbacks to `ZKFilesystem`. The bridge is the session's userdata (reached with
/// `fuse_req_userdata`, no globals). A callback copies what it needs out of the request's buffers, then either
/// answers at once (reads and writes of a handle's buffer, readdir, forget) or starts a task that answers when
/// the server has (fuse_reply_* may be called from any thread).
final class FuseBridge: @unchecked Sendable {
    let fs: ZKFilesystem
    let logger: Logger
    /// Poll handles the kernel left for wake-ups.
    let polls = PollHandles()
    /// Reads of the event stream waiting for lines, by the number given to their interrupt callback.
    let waitingReads = WaitingReads()
    /// Set before the session serves when `-o inotify` is on.
    var replayer: Replayer?

    init(fs: ZKFilesystem, logger: Logger) {
        self.fs = fs
        self.logger = logger
    }

    static func from(_ req: fuse_req_t?) -> FuseBridge {
        Unmanaged<FuseBridge>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    /// Runs `operation` on a task and answers with `reply`, or with the error's errno.
    func answer<T: Sendable>(_ req: fuse_req_t?, _ what: String, _ operation: @escaping @Sendable () async throws -> T,
                             reply: @escaping @Sendable (fuse_req_t?, T) -> Void) {
        let request = Request(raw: req)
        Task.detached { [self] in
            do {
                let value = try await operation()
                reply(request.raw, value)
            } catch {
                self.replyError(request.raw, what, error)
            }
        }
    }

    /// Answers at once with `body`'s errno on failure.
    func answerNow(_ req: fuse_req_t?, _ what: String, _ body: () throws -> Void) {
        do { try body() } catch { replyError(req, what, error) }
    }

    func replyError(_ req: fuse_req_t?, _ what: String, _ error: Error) {
        let e = FSError.from(error)
        if e.errno == EIO || e.errno == EACCES {
            logger.warning("zkfs: \(what) failed: \(e)")
        } else {
            logger.debug("zkfs: \(what): \(e)")
        }
        fuse_reply_err(req, e.errno)
    }

    // MARK: - Replies

    /// Sends an entry; if the kernel did not take it (the request was interrupted), drops the reference.
    func replyEntry(_ req: fuse_req_t?, _ entry: EntryReply) {
        var param = Self.entryParam(entry)
        if fuse_reply_entry(req, &param) != 0 { fs.forget(entry.attributes.ino, count: 1) }
    }

    static func entryParam(_ entry: EntryReply) -> fuse_entry_param {
        var param = fuse_entry_param()
        param.ino = entry.attributes.ino
        param.generation = 0
        param.attr = statBuffer(entry.attributes)
        param.attr_timeout = entry.attrTimeout
        param.entry_timeout = entry.entryTimeout
        return param
    }

    static func statBuffer(_ a: NodeAttributes) -> stat {
        var st = stat()
        st.st_ino = UInt(a.ino)
        st.st_mode = a.mode
        st.st_nlink = UInt(a.nlink)
        st.st_uid = a.uid
        st.st_gid = a.gid
        st.st_size = Int(a.size)
        st.st_blksize = 4096
        st.st_blocks = Int((a.size + 511) / 512)
        st.st_mtim = timespec(tv_sec: Int(a.mtime.sec), tv_nsec: Int(a.mtime.nsec))
        st.st_atim = st.st_mtim
        st.st_ctim = timespec(tv_sec: Int(a.ctime.sec), tv_nsec: Int(a.ctime.nsec))
        return st
    }

    func replyAttr(_ req: fuse_req_t?, _ result: (NodeAttributes, timeout: Double)) {
        var st = Self.statBuffer(result.0)
        fuse_reply_attr(req, &st, result.timeout)
    }

    func replyBytes(_ req: fuse_req_t?, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { raw in
            fuse_reply_buf(req, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
    }

    /// getxattr/listxattr: the size when asked for 0 bytes, ERANGE when the caller's buffer is too small.
    func replyXattr(_ req: fuse_req_t?, _ bytes: [UInt8], size: Int) {
        if size == 0 {
            fuse_reply_xattr(req, bytes.count)
        } else if bytes.count > size {
            fuse_reply_err(req, ERANGE)
        } else {
            replyBytes(req, bytes)
        }
    }
}

/// A request pointer carried into a task; libfuse allows answering it from any thread, once.
struct Request: @unchecked Sendable {
    let raw: fuse_req_t?
}

/// A file name from the kernel; nil if it is not UTF-8 (no znode can have it).
func decodeName(_ name: UnsafePointer<CChar>?) -> String? {
    guard let name else { return nil }
    return String(validatingCString: name)
}
