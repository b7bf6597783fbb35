import CFuse3
import Foundation
import Glibc
import Logging

/// Mounting and serving: one libfuse low-level session with a multi-threaded loop.
public enum ZKFSMount {
    public struct MountError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Signals that end the session loop; they are blocked in every thread but the loop's (see `serve`).
    static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Blocks the stop signals in the calling thread and every thread it starts from now on. Call first thing
    /// in `main`, before any thread exists, so that only `serve`'s thread takes them and can leave the loop.
    public static func blockStopSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        for s in stopSignals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Mounts `fs` (already connected) at `options.mountpoint` and serves until unmounted or signalled.
    /// `ready` is called once the mount is in place (or with the reason it could not be made).
    /// - Returns: the loop's result (0 for a clean unmount).
    public static func serve(_ fs: ZKFilesystem, logger: Logger, ready: (Result<Void, MountError>) -> Void) -> Int32 {
        let bridge = FuseBridge(fs: fs, logger: logger)
        var ops = FuseBridge.operations()
        var arguments = ["zkfs", "-o", fs.options.fuseOptionList]
        if fs.options.debug { arguments.append("-d") }
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let userdata = Unmanaged.passRetained(bridge)
        defer { userdata.release() }

        return argv.withUnsafeBufferPointer { argvBuffer -> Int32 in
            var args = fuse_args(argc: Int32(arguments.count),
                                 argv: UnsafeMutablePointer(mutating: argvBuffer.baseAddress), allocated: 0)
            guard let session = fuse_session_new(&args, &ops, MemoryLayout<fuse_lowlevel_ops>.size,
                                                 userdata.toOpaque()) else {
                ready(.failure(MountError(description: "fuse_session_new failed (bad options: \(fs.options.fuseOptionList))")))
                return 1
            }
            defer { fuse_session_destroy(session) }
            guard fuse_set_signal_handlers(session) == 0 else {
                ready(.failure(MountError(description: "cannot install signal handlers")))
                return 1
            }
            defer { fuse_remove_signal_handlers(session) }
            guard fuse_session_mount(session, fs.options.mountpoint) == 0 else {
                ready(.failure(MountError(description: "cannot mount at \(fs.options.mountpoint) (is it an existing directory, and is /dev/fuse usable?)")))
                return 1
            }
            defer { fuse_session_unmount(session) }

            let sessionBox = SessionPointer(raw: session)
            let invalidator = Invalidator { notice in deliver(notice, to: sessionBox, polls: bridge.polls, logger: logger) }
            invalidator.start()
            fs.invalidator = invalidator
            defer { invalidator.stop() }
            let replayer = startReplayer(fs, bridge: bridge, session: sessionBox, logger: logger)
            defer { replayer?.stop() }

            logger.notice("zkfs: mounted \(fs.options.connectString) at \(fs.options.mountpoint)\(fs.options.readOnly ? " (read-only)" : "")")
            ready(.success(()))
            var set = sigset_t()
            sigemptyset(&set)
            for s in stopSignals { sigaddset(&set, s) }
            pthread_sigmask(SIG_UNBLOCK, &set, nil)
            let result = zkfs_session_loop_mt(session, 10)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            logger.notice("zkfs: unmounting \(fs.options.mountpoint) (loop ended with \(result))")
            return result
        }
    }

    /// Unless `-o noinotify`: the thread that replays remote changes through the mount. A read-only mount is
    /// read-write for the kernel then (`MountOptions.kernelReadOnly`), so the replays pass the VFS.
    static func startReplayer(_ fs: ZKFilesystem, bridge: FuseBridge, session: SessionPointer, logger: Logger)
        -> Replayer?
    {
        guard fs.options.inotify else { return nil }
        if fs.options.readOnly && geteuid() != 0 {
            // The kernel checks the mode bits (default_permissions) before a replayed call reaches zkfs, and a
            // read-only mount shows none: only root's replays pass.
            logger.warning("zkfs: read-only mount run by a non-root user: remote changes raise no inotify events")
        }
        let inodes = fs.inodes
        let replayer = Replayer(mountpoint: fs.options.mountpoint, logger: logger, forgetName: { event in
            guard let parent = inodes.ino(of: InodeKey(path: event.directory, role: .directory)) else { return }
            deliver(.entry(parent: parent, name: event.name), to: session, polls: bridge.polls, logger: logger)
        }, removalFailed: { [weak fs] event in
            for notice in fs?.entryGoneNotices(event.path) ?? [] {
                deliver(notice, to: session, polls: bridge.polls, logger: logger)
            }
        }, currentRole: { path in inodes.lastRole(of: path) })
        replayer.start()
        bridge.replayer = replayer
        fs.replaySink = { [weak replayer] event in replayer?.post(event) }
        return replayer
    }

    static func deliver(_ notice: Notice, to session: SessionPointer, polls: PollHandles, logger: Logger) {
        let result: Int32
        switch notice {
        case let .poll(target):
            polls.wake(target)
            return
        case let .inode(ino):
            result = fuse_lowlevel_notify_inval_inode(session.raw, ino, 0, 0)
        case let .entry(parent, name):
            result = name.withCString { fuse_lowlevel_notify_inval_entry(session.raw, parent, $0, name.utf8.count) }
        case let .delete(parent, child, name):
            result = name.withCString {
                fuse_lowlevel_notify_delete(session.raw, parent, child, $0, name.utf8.count)
            }
        }
        // ENOENT: the kernel no longer has it, which is what we wanted.
        if result != 0 && result != -ENOENT { logger.debug("zkfs: invalidation \(notice) answered \(result)") }
    }
}

// Sendable: libfuse's session calls used through it (notify, exit) may be made from any thread.
struct SessionPointer: @unchecked Sendable {
    let raw: OpaquePointer
}
