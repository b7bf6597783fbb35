import CFuse3
import Foundation
import Glibc

/// The kernel's poll handles by what they wait for. A handle is used for one wake-up, then destroyed: the
/// kernel polls again and leaves a new one. Thread-safe.
final class PollHandles: @unchecked Sendable {
    private let lock = NSLock()
    private var handles: [PollTarget: OpaquePointer] = [:]

    /// Keeps `handle` for `target`, destroying the one it replaces.
    func store(_ handle: OpaquePointer, for target: PollTarget) {
        let old = lock.withLock { handles.updateValue(handle, forKey: target) }
        if let old, old != handle { fuse_pollhandle_destroy(old) }
    }

    /// Wakes the pollers of `target`, if any wait.
    func wake(_ target: PollTarget) {
        guard let handle = lock.withLock({ handles.removeValue(forKey: target) }) else { return }
        _ = fuse_lowlevel_notify_poll(handle)
        fuse_pollhandle_destroy(handle)
    }

    /// The descriptor was closed: nobody waits any more.
    func drop(_ target: PollTarget) {
        if let handle = lock.withLock({ handles.removeValue(forKey: target) }) { fuse_pollhandle_destroy(handle) }
    }
}

/// Event-stream reads waiting for lines, by number, so that an interrupt (the reader got a signal) can find
/// and answer the read. Thread-safe.
final class WaitingReads: @unchecked Sendable {
    struct Waiting {
        var reader: EventReader
        var token: UInt64
    }

    private let lock = NSLock()
    private var next: UInt = 1
    private var waiting: [UInt: Waiting] = [:]

    func reserve() -> UInt { lock.withLock { defer { next += 1 }; return next } }
    func set(_ id: UInt, _ w: Waiting) { lock.withLock { waiting[id] = w } }
    /// Records the wait's token, unless the read was answered meanwhile (and so removed).
    func setToken(_ id: UInt, _ token: UInt64) { lock.withLock { waiting[id]?.token = token } }
    func remove(_ id: UInt) -> Waiting? { lock.withLock { waiting.removeValue(forKey: id) } }
}

/// poll, the event-stream file, and answering the replay thread's calls (`-o inotify`).
extension FuseBridge {
    /// The change the request replays, if it comes from the replay thread.
    func replaying(_ req: fuse_req_t?) -> ChangeEvent? {
        guard let replayer, let ctx = fuse_req_ctx(req) else { return nil }
        return replayer.replaying(pid: ctx.pointee.pid)
    }

    /// A lookup by the replay thread on the way to the name it replays: a creation must find the name absent
    /// (so the kernel calls mknod/mkdir), a deletion or a modification present (so it calls unlink/rmdir or
    /// truncate), and the directories on the way are present. Any of them may be gone from the server by now:
    /// the changes after this one are replayed later, in order. Returns whether it answered.
    func answerReplayLookup(_ req: fuse_req_t?, parent: UInt64, name: String) -> Bool {
        guard let job = replaying(req), let path = fs.childPath(parent: parent, name: name),
              ZPath.isWithin(job.path, path) else { return false }
        guard path == job.path else {
            answerReplayEntry(req, path: path, role: .directory)
            return true
        }
        switch job.kind {
        case .create:
            fuse_reply_err(req, ENOENT)
        case .modify where name == fs.options.dataName:
            answerReplayEntry(req, path: job.directory, role: .dataFile)
        case .modify, .attrib, .delete:
            answerReplayEntry(req, path: path, role: job.isDirectory ? .directory : .file)
        }
        return true
    }

    /// Answers a replayed mknod/mkdir (or a replayed lookup of a deleted name) with the node's entry.
    func answerReplayEntry(_ req: fuse_req_t?, path: String, role: NodeRole) {
        answer(req, "replay entry \(path)", { await self.fs.replayEntry(path: path, role: role) },
               reply: { self.replyEntry($0, $1) })
    }

    /// Answers a replayed unlink/rmdir: the node is already gone; the kernel only needs the success.
    func answerReplayRemoval(_ req: fuse_req_t?, parent: UInt64, name: String) -> Bool {
        guard let job = replaying(req), job.kind == .delete, let path = fs.childPath(parent: parent, name: name),
              path == job.path else { return false }
        fs.inodes.clearRole(of: path)
        fuse_reply_err(req, 0)
        return true
    }

    // MARK: - poll

    static func poll(_ req: fuse_req_t?, _ ino: UInt64, _ fi: UnsafeMutablePointer<fuse_file_info>?,
                     _ ph: OpaquePointer?) {
        let b = FuseBridge.from(req)
        guard let fh = fi?.pointee.fh else { fuse_reply_err(req, EBADF); return }
        let target: PollTarget = ino == ZKFilesystem.eventsIno ? .events(fh) : .file(fh)
        // The handle goes in before the state is read: a change in between then wakes it, and is not lost.
        if let ph { b.polls.store(ph, for: target) }
        b.answerNow(req, "poll") {
            let events: Int16
            switch target {
            case .events: events = try b.fs.eventReader(fh).hasData ? Int16(POLLIN | POLLRDNORM) : 0
            case .file: events = try b.fs.pollFile(fh)
            }
            fuse_reply_poll(req, UInt32(UInt16(bitPattern: events)))
        }
    }

    // MARK: - The event-stream file

    /// Reads lines of the event stream: at once if some are queued, EAGAIN for a non-blocking descriptor,
    /// otherwise when the next change arrives (or EINTR if the reader is interrupted first).
    func readEvents(_ req: fuse_req_t?, fh: UInt64, size: Int, flags: Int32) {
        answerNow(req, "read events") {
            let reader = try fs.eventReader(fh)
            if flags & O_NONBLOCK != 0 {
                let bytes = reader.take(sizeMax: size)
                if bytes.isEmpty { throw FSError(EAGAIN) }
                replyBytes(req, bytes)
                return
            }
            let request = Request(raw: req)
            let id = waitingReads.reserve()
            // Registered before waiting, so that an answer racing with the registration removes it for good.
            waitingReads.set(id, .init(reader: reader, token: 0))
            let token = reader.wait(EventReader.Waiter(sizeMax: size) { [self] bytes in
                _ = waitingReads.remove(id)
                replyBytes(request.raw, bytes)
            })
            guard let token else { return }
            waitingReads.setToken(id, token)
            // Called at once if the interrupt already came.
            fuse_req_interrupt_func(req, { req, data in
                let b = FuseBridge.from(req)
                guard let w = b.waitingReads.remove(UInt(bitPattern: data)) else { return }
                if w.reader.cancelWait(token: w.token) { fuse_reply_err(req, EINTR) }
            }, UnsafeMutableRawPointer(bitPattern: id))
        }
    }
}
