import CFuse3
import Foundation
import Glibc

/// The `fuse_lowlevel_ops` table. Each entry is a plain C function (no captures): it finds the bridge through
/// the request's userdata.
extension FuseBridge {
    static func operations() -> fuse_lowlevel_ops {
        var ops = fuse_lowlevel_ops()
        ops.`init` = { userdata, conn in
            guard let conn else { return }
            // O_TRUNC arrives with open, so a truncating open and its writes are one versioned setData.
            _ = zkfs_conn_want(conn, ZKFS_CAP_ATOMIC_O_TRUNC)
            zkfs_conn_unwant(conn, ZKFS_CAP_WRITEBACK_CACHE)
            // Lock calls come here (cluster-wide locks) instead of staying local to this kernel.
            _ = zkfs_conn_want(conn, ZKFS_CAP_POSIX_LOCKS | ZKFS_CAP_FLOCK_LOCKS)
        }
        ops.lookup = { req, parent, name in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name) else { fuse_reply_err(req, ENOENT); return }
            if b.fs.isEventsFile(parent: parent, name: name) { b.replyEntry(req, b.fs.eventsEntry()); return }
            if b.answerReplayLookup(req, parent: parent, name: name) { return }
            b.answer(req, "lookup \(name)", { try await b.fs.lookup(parent: parent, name: name) },
                     reply: { b.replyEntry($0, $1) })
        }
        ops.forget = { req, ino, nlookup in
            FuseBridge.from(req).fs.forget(ino, count: nlookup)
            fuse_reply_none(req)
        }
        ops.forget_multi = { req, count, forgets in
            let b = FuseBridge.from(req)
            if let forgets {
                for i in 0..<count { b.fs.forget(forgets[i].ino, count: forgets[i].nlookup) }
            }
            fuse_reply_none(req)
        }
        ops.getattr = { req, ino, _ in
            let b = FuseBridge.from(req)
            if ino == ZKFilesystem.eventsIno { b.replyAttr(req, (b.fs.eventsAttributes(), 0)); return }
            if b.replaying(req) != nil {
                b.answer(req, "replay getattr \(ino)", { try await b.fs.replayGetattr(ino) }, reply: { b.replyAttr($0, $1) })
                return
            }
            b.answer(req, "getattr \(ino)", { try await b.fs.getattr(ino) }, reply: { b.replyAttr($0, $1) })
        }
        ops.setattr = { req, ino, attr, toSet, fi in
            let b = FuseBridge.from(req)
            if ino == ZKFilesystem.eventsIno {
                if toSet & ZKFS_SET_ATTR_SIZE != 0 { fuse_reply_err(req, EACCES) } else {
                    b.replyAttr(req, (b.fs.eventsAttributes(), 0))
                }
                return
            }
            if b.replaying(req) != nil {  // a replayed truncate: the data already changed on the server
                b.answer(req, "replay setattr \(ino)", { try await b.fs.replayGetattr(ino) }, reply: { b.replyAttr($0, $1) })
                return
            }
            let size: Int? = toSet & ZKFS_SET_ATTR_SIZE != 0 ? attr.map { Int($0.pointee.st_size) } : nil
            let fh = fi?.pointee.fh
            let changes = toSet != 0
            b.answer(req, "setattr \(ino)", { try await b.fs.setattr(ino, size: size, fh: fh, changes: changes) },
                     reply: { b.replyAttr($0, $1) })
        }
        ops.mknod = { req, parent, name, mode, _ in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name) else { fuse_reply_err(req, EINVAL); return }
            if let job = b.replaying(req), job.kind == .create {
                // A node shown as a directory by now must not get a file entry from a late replay.
                if b.fs.inodes.lastRole(of: job.path) == .directory { fuse_reply_err(req, EEXIST); return }
                b.answerReplayEntry(req, path: job.path, role: .file)
                return
            }
            b.answer(req, "mknod \(name)", { try await b.fs.mknod(parent: parent, name: name, mode: mode) },
                     reply: { b.replyEntry($0, $1) })
        }
        ops.mkdir = { req, parent, name, _ in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name) else { fuse_reply_err(req, EINVAL); return }
            if let job = b.replaying(req), job.kind == .create {
                if b.fs.inodes.lastRole(of: job.path) == .file { fuse_reply_err(req, EEXIST); return }
                b.answerReplayEntry(req, path: job.path, role: .directory)
                return
            }
            b.answer(req, "mkdir \(name)", { try await b.fs.mkdir(parent: parent, name: name) },
                     reply: { b.replyEntry($0, $1) })
        }
        ops.unlink = { req, parent, name in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name) else { fuse_reply_err(req, ENOENT); return }
            if b.fs.isEventsFile(parent: parent, name: name) { fuse_reply_err(req, EPERM); return }
            if b.answerReplayRemoval(req, parent: parent, name: name) { return }
            b.answer(req, "unlink \(name)", { try await b.fs.unlink(parent: parent, name: name) },
                     reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.rmdir = { req, parent, name in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name) else { fuse_reply_err(req, ENOENT); return }
            if b.answerReplayRemoval(req, parent: parent, name: name) { return }
            b.answer(req, "rmdir \(name)", { try await b.fs.rmdir(parent: parent, name: name) },
                     reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.rename = { req, parent, name, newParent, newName, flags in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name), let newName = decodeName(newName) else {
                fuse_reply_err(req, EINVAL)
                return
            }
            b.answer(req, "rename \(name) -> \(newName)", {
                try await b.fs.rename(parent: parent, name: name, newParent: newParent, newName: newName, flags: flags)
            }, reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.open = { req, ino, fi in
            let b = FuseBridge.from(req)
            guard let fi else { fuse_reply_err(req, EINVAL); return }
            let info = FileInfo(fi.pointee)
            if ino == ZKFilesystem.eventsIno {
                b.answerNow(req, "open events") {
                    var reply = info.value
                    reply.fh = try b.fs.openEvents(flags: info.value.flags)
                    zkfs_fi_set_open_bits(&reply, 1, 0, 1)
                    zkfs_fi_set_nonseekable(&reply)
                    if fuse_reply_open(req, &reply) != 0 { b.fs.releaseEvents(reply.fh) }
                }
                return
            }
            let replyOpen: @Sendable (fuse_req_t?, UInt64) -> Void = { req, fh in
                var reply = info.value
                reply.fh = fh
                // Every read goes to the handle's snapshot: the page cache could mix versions of two handles.
                // A read-only handle has nothing to commit, so its close needs no flush round trip.
                zkfs_fi_set_open_bits(&reply, 1, 0, info.value.flags & O_ACCMODE == O_RDONLY ? 1 : 0)
                if fuse_reply_open(req, &reply) != 0 { Task { await b.fs.release(fh) } }
            }
            // A cache hit is answered on this thread: no task, no round trip.
            if let fh = b.fs.openFromCache(ino, flags: info.value.flags) {
                replyOpen(req, fh)
                return
            }
            b.answer(req, "open \(ino)", { try await b.fs.open(ino, flags: info.value.flags) }, reply: replyOpen)
        }
        ops.create = { req, parent, name, _, fi in
            let b = FuseBridge.from(req)
            guard let fi, let name = decodeName(name) else { fuse_reply_err(req, EINVAL); return }
            let info = FileInfo(fi.pointee)
            b.answer(req, "create \(name)", { try await b.fs.create(parent: parent, name: name, flags: info.value.flags) },
                     reply: { req, result in
                var reply = info.value
                reply.fh = result.1
                zkfs_fi_set_open_bits(&reply, 1, 0, 0)
                var param = FuseBridge.entryParam(result.0)
                if fuse_reply_create(req, &param, &reply) != 0 {
                    b.fs.forget(result.0.attributes.ino, count: 1)
                    Task { await b.fs.release(result.1) }
                }
            })
        }
        ops.read = { req, ino, size, offset, fi in
            let b = FuseBridge.from(req)
            guard let fh = fi?.pointee.fh else { fuse_reply_err(req, EBADF); return }
            if ino == ZKFilesystem.eventsIno {
                b.readEvents(req, fh: fh, size: size, flags: fi?.pointee.flags ?? 0)
                return
            }
            if b.fs.readNeedsRefresh(fh, offset: Int(offset)) {
                b.answer(req, "read", {
                    try await b.fs.refreshSnapshot(fh)
                    return try b.fs.read(fh, offset: Int(offset), size: size)
                }, reply: { b.replyBytes($0, $1) })
                return
            }
            b.answerNow(req, "read") { b.replyBytes(req, try b.fs.read(fh, offset: Int(offset), size: size)) }
        }
        ops.write = { req, _, buf, size, offset, fi in
            let b = FuseBridge.from(req)
            guard let fh = fi?.pointee.fh else { fuse_reply_err(req, EBADF); return }
            b.answerNow(req, "write") {
                let bytes = UnsafeRawBufferPointer(start: buf, count: size)
                fuse_reply_write(req, try b.fs.write(fh, bytes: bytes, offset: Int(offset)))
            }
        }
        ops.flush = { req, ino, fi in
            let b = FuseBridge.from(req)
            guard let fh = fi?.pointee.fh, ino != ZKFilesystem.eventsIno else { fuse_reply_err(req, 0); return }
            let owner = fi?.pointee.lock_owner ?? 0
            b.answer(req, "flush \(ino)", {
                await b.fs.releasePosixLocks(owner: owner, ino: ino)  // a close drops the owner's record locks
                try await b.fs.flush(fh)
            }, reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.fsync = { req, ino, _, fi in
            let b = FuseBridge.from(req)
            guard let fh = fi?.pointee.fh else { fuse_reply_err(req, EBADF); return }
            b.answer(req, "fsync \(ino)", { try await b.fs.flush(fh, at: .fsync) }, reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.release = { req, ino, fi in
            let b = FuseBridge.from(req)
            guard let fh = fi?.pointee.fh else { fuse_reply_err(req, 0); return }
            if ino == ZKFilesystem.eventsIno {
                b.fs.releaseEvents(fh)
                b.polls.drop(.events(fh))
                fuse_reply_err(req, 0)
                return
            }
            b.polls.drop(.file(fh))
            b.releaseLocks(fh: fh)
            if b.fs.releaseNow(fh) {
                fuse_reply_err(req, 0)
                return
            }
            b.answer(req, "release", { await b.fs.release(fh) }, reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.opendir = { req, ino, fi in
            let b = FuseBridge.from(req)
            guard let fi else { fuse_reply_err(req, EINVAL); return }
            let info = FileInfo(fi.pointee)
            b.answer(req, "opendir \(ino)", { try await b.fs.opendir(ino) }, reply: { req, fh in
                var reply = info.value
                reply.fh = fh
                if fuse_reply_open(req, &reply) != 0 { b.fs.releasedir(fh) }
            })
        }
        ops.readdir = { req, _, size, offset, fi in
            let b = FuseBridge.from(req)
            guard let fh = fi?.pointee.fh else { fuse_reply_err(req, EBADF); return }
            b.answerNow(req, "readdir") { b.replyDirectory(req, try b.fs.directory(fh), size: size, offset: Int(offset)) }
        }
        ops.releasedir = { req, _, fi in
            let b = FuseBridge.from(req)
            if let fh = fi?.pointee.fh { b.fs.releasedir(fh) }
            fuse_reply_err(req, 0)
        }
        ops.statfs = { req, _ in
            var st = statvfs()
            st.f_bsize = 4096
            st.f_frsize = 4096
            st.f_namemax = 1024
            fuse_reply_statfs(req, &st)
        }
        ops.poll = { req, ino, fi, ph in FuseBridge.poll(req, ino, fi, ph) }
        ops.getxattr = { req, ino, name, size in
            let b = FuseBridge.from(req)
            if ino == ZKFilesystem.eventsIno { fuse_reply_err(req, ENODATA); return }
            guard let name = decodeName(name) else { fuse_reply_err(req, ENODATA); return }
            b.answer(req, "getxattr \(name)", { try await b.fs.getxattr(ino, name: name) },
                     reply: { b.replyXattr($0, $1, size: size) })
        }
        ops.listxattr = { req, ino, size in
            let b = FuseBridge.from(req)
            if ino == ZKFilesystem.eventsIno { b.replyXattr(req, [], size: size); return }
            b.answerNow(req, "listxattr") { b.replyXattr(req, try b.fs.listxattr(ino), size: size) }
        }
        ops.setxattr = { req, ino, name, value, size, _ in
            let b = FuseBridge.from(req)
            if ino == ZKFilesystem.eventsIno { fuse_reply_err(req, ENOTSUP); return }
            guard let name = decodeName(name) else { fuse_reply_err(req, EINVAL); return }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            b.answer(req, "setxattr \(name)", { try await b.fs.setxattr(ino, name: name, value: bytes) },
                     reply: { req, _ in fuse_reply_err(req, 0) })
        }
        ops.removexattr = { req, ino, name in
            let b = FuseBridge.from(req)
            guard let name = decodeName(name) else { fuse_reply_err(req, ENODATA); return }
            b.answerNow(req, "removexattr \(name)") {
                try b.fs.removexattr(ino, name: name)
                fuse_reply_err(req, 0)
            }
        }
        installLockOperations(&ops)
        return ops
    }

    /// Packs directory entries from `offset` into at most `size` bytes; an entry's offset is its index + 1.
    func replyDirectory(_ req: fuse_req_t?, _ handle: DirectoryHandle, size: Int, offset: Int) {
        var buffer = [CChar](repeating: 0, count: max(size, 1))
        var used = 0
        buffer.withUnsafeMutableBufferPointer { out in
            var index = offset
            while index < handle.items.count {
                let item = handle.items[index]
                var st = stat()
                st.st_ino = UInt(item.ino)
                st.st_mode = item.type
                let needed = fuse_add_direntry(req, out.baseAddress! + used, size - used, item.name, &st,
                                               off_t(index + 1))
                if needed > size - used { break }
                used += needed
                index += 1
            }
        }
        buffer.withUnsafeBufferPointer { fuse_reply_buf(req, $0.baseAddress, used) }
    }
}

/// A copy of a request's `fuse_file_info`, carried into a task (the original lives only during the callback).
struct FileInfo: @unchecked Sendable {
    var value: fuse_file_info
    init(_ value: fuse_file_info) { self.value = value }
}
