import CFuse3
import Foundation
import Glibc

/// flock, setlk and getlk: cluster-wide locks (see `Locks.swift`). With these operations and the capabilities
/// FUSE_CAP_FLOCK_LOCKS/FUSE_CAP_POSIX_LOCKS the kernel sends every lock call here instead of keeping it local
/// to this machine. A waiting lock is answered when granted, from a task: the session loop keeps serving.
extension FuseBridge {
    static func installLockOperations(_ ops: inout fuse_lowlevel_ops) {
        ops.flock = { req, ino, fi, op in
            guard let fi else { fuse_reply_err(req, EBADF); return }
            FuseBridge.from(req).lockCall(req, ino, fi.pointee, .flock, LockRequest(flockOperation: op))
        }
        ops.setlk = { req, ino, fi, lock, sleep in
            guard let fi, let lock else { fuse_reply_err(req, EINVAL); return }
            FuseBridge.from(req).lockCall(req, ino, fi.pointee, .posix,
                                          LockRequest(recordType: Int32(lock.pointee.l_type), wait: sleep != 0))
        }
        ops.getlk = { req, ino, fi, lock in
            guard let fi, let lock else { fuse_reply_err(req, EINVAL); return }
            FuseBridge.from(req).testLockCall(req, ino, owner: fi.pointee.lock_owner, type: Int32(lock.pointee.l_type))
        }
    }

    private func lockKey(_ ino: UInt64, _ style: LockStyle, owner: UInt64) throws -> LockOwnerKey {
        guard ino != ZKFilesystem.eventsIno, let key = fs.inodes.key(of: ino) else { throw FSError(EBADF) }
        return LockOwnerKey(path: key.path, style: style, owner: owner)
    }

    private func lockCall(_ req: fuse_req_t?, _ ino: UInt64, _ fi: fuse_file_info, _ style: LockStyle,
                          _ request: LockRequest?) {
        answerNow(req, "lock \(ino)") {
            guard let request else { throw FSError(EINVAL) }
            let key = try lockKey(ino, style, owner: fi.lock_owner)
            let fh = fi.fh
            guard case let .lock(mode, wait) = request else {
                answer(req, "unlock \(key.path)", { await self.fs.unlock(key) }, reply: { req, _ in fuse_reply_err(req, 0) })
                return
            }
            let locks = fs.fileLocks
            switch locks.table.begin(key, mode: mode, fh: fh) {
            case .alreadyHeld: fuse_reply_err(req, 0)
            case .busy: throw FSError(EDEADLK, "\(key.path): the owner already waits for this lock")
            case .tooMany: throw FSError(ENOLCK, "\(locks.table.waitersMax) lock requests are waiting")
            case let .start(ticket, replacing):
                let pid = fuse_req_ctx(req)?.pointee.pid ?? 0
                locks.register(ticket)
                // Registered before the task starts: once answered, the request may be freed. Called at once if
                // the interrupt already came; the acquisition then ends with EINTR and removes its node.
                fuse_req_interrupt_func(req, { req, data in
                    let id = UInt64(UInt(bitPattern: data))
                    FuseBridge.from(req).fs.fileLocks.waitingTicket(id)?.cancel()
                }, UnsafeMutableRawPointer(bitPattern: UInt(ticket.id)))
                answer(req, "lock \(key.path)", {
                    defer { locks.unregister(ticket) }
                    try await self.fs.lock(key, ticket: ticket, replacing: replacing, wait: wait, fh: fh, pid: pid)
                }, reply: { req, _ in fuse_reply_err(req, 0) })
            }
        }
    }

    /// F_GETLK: the whole file, with a conflicting holder's type and pid (0 if it is not this mount's).
    private func testLockCall(_ req: fuse_req_t?, _ ino: UInt64, owner: UInt64, type: Int32) {
        answerNow(req, "getlk \(ino)") {
            guard case let .lock(mode, _)? = LockRequest(recordType: type, wait: false) else { throw FSError(EINVAL) }
            let key = try lockKey(ino, .posix, owner: owner)
            answer(req, "getlk \(key.path)", { try await self.fs.testLock(key, mode: mode) }, reply: { req, conflict in
                var reply = flock()
                reply.l_whence = Int16(SEEK_SET)
                if let (holder, pid) = conflict {
                    reply.l_type = Int16(holder.mode == .shared ? F_RDLCK : F_WRLCK)
                    reply.l_pid = pid
                } else {
                    reply.l_type = Int16(F_UNLCK)
                }
                fuse_reply_lock(req, &reply)
            })
        }
    }

    /// The last close of `fh`: its locks go (flock's FUSE_RELEASE_FLOCK_UNLOCK, and record locks of a read-only
    /// descriptor, which never gets a flush). Costs nothing when it has none.
    func releaseLocks(fh: UInt64) {
        guard fs.fileLocks.table.hasEntries(fh: fh) else { return }
        Task.detached { [fs] in await fs.releaseLocks(fh: fh) }
    }
}
