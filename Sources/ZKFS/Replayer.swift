import CFuse3
import Foundation
import Glibc
import Logging

/// Replays remote changes through the mount so that the kernel raises inotify events for them (`-o inotify`).
///
/// Linux raises no fsnotify event for a change it only learns of through a FUSE invalidation. So a thread of
/// its own makes the matching system call on the mount: `truncate` for a data change
/// (IN_MODIFY), `mknod`/`mkdir` for a creation (IN_CREATE), `unlink`/`rmdir` for a deletion (IN_DELETE). The
/// request handlers recognise these calls by the thread id in the request (`isReplay`) and answer them without
/// touching the server: the change already happened. A dedicated thread, because the kernel may wait for this
/// process to answer other requests before it finishes a replayed call (a request thread would deadlock).
public final class Replayer: @unchecked Sendable {
    public let mountpoint: String
    public let jobsMax: Int
    private let logger: Logger
    /// Called on the replay thread just before a creation is replayed: the kernel must forget whatever it
    /// cached for the name, or it refuses `mknod` itself and raises nothing.
    private let forgetName: (ChangeEvent) -> Void
    /// The role the mount shows `path` as now (its last role), if any.
    private let currentRole: (String) -> NodeRole?
    /// Called on the replay thread when a deletion could not be replayed: the kernel must still drop the name.
    private let removalFailed: (ChangeEvent) -> Void
    private let condition = NSCondition()
    private var queue: [ChangeEvent] = []
    private var dropped = 0
    private var stopped = false
    private var replayTid: pid_t = -1
    private var current: ChangeEvent?

    public init(mountpoint: String, jobsMax: Int = 10_000, logger: Logger,
                forgetName: @escaping (ChangeEvent) -> Void, removalFailed: @escaping (ChangeEvent) -> Void,
                currentRole: @escaping (String) -> NodeRole? = { _ in nil }) {
        self.removalFailed = removalFailed
        self.currentRole = currentRole
        self.mountpoint = mountpoint
        self.jobsMax = jobsMax
        self.logger = logger
        self.forgetName = forgetName
    }

    /// Starts the thread and returns once its id is known.
    public func start() {
        let thread = Thread { [self] in
            condition.withLock {
                replayTid = zkfs_gettid()
                condition.broadcast()
            }
            loop()
        }
        thread.name = "zkfs-replay"
        thread.start()
        condition.withLock { while replayTid < 0 { condition.wait() } }
    }

    /// Stops the thread after the job under way; queued jobs are dropped.
    public func stop() {
        condition.withLock {
            stopped = true
            queue.removeAll()
            condition.broadcast()
        }
    }

    /// Queues a replay; past `jobsMax` queued the oldest is dropped (and counted in the log). A modification
    /// of the name whose modification is last in the queue, not replayed yet, is merged into it: one replay
    /// reports both (inotify itself merges a MODIFY into an identical unread one), which keeps a burst of changes
    /// to one node from costing a replay each.
    public func post(_ event: ChangeEvent) {
        condition.withLock {
            if event.kind == .modify && queue.last == event { return }
            queue.append(event)
            if queue.count > jobsMax {
                queue.removeFirst()
                dropped += 1
            }
            condition.signal()
        }
    }

    /// The change being replayed if the request with this pid comes from the replay thread, else nil.
    public func replaying(pid: pid_t) -> ChangeEvent? {
        condition.withLock { pid == replayTid ? current : nil }
    }

    private func loop() {
        while true {
            let (job, lost): (ChangeEvent?, Int) = condition.withLock {
                while queue.isEmpty && !stopped { condition.wait() }
                defer { dropped = 0 }
                current = stopped ? nil : Self.asShownNow(queue.removeFirst(), role: currentRole)
                return (current, dropped)
            }
            if lost > 0 { logger.warning("zkfs: inotify replay fell behind; \(lost) changes not replayed") }
            guard let job else { return }
            replay(job)
            condition.withLock { current = nil }
        }
    }

    /// A creation replayed as the node is shown now: a file that gained a child since its creation was queued
    /// is a directory by the time it is replayed, and a `mknod` would put a file entry over the kernel's directory
    /// (shown until the entry timed out, with the child's own replay failing on it).
    static func asShownNow(_ event: ChangeEvent, role: (String) -> NodeRole?) -> ChangeEvent {
        guard event.kind == .create, let now = role(event.path), now != .dataFile else { return event }
        var adjusted = event
        adjusted.isDirectory = now == .directory
        return adjusted
    }

    private func replay(_ event: ChangeEvent) {
        let full = event.directory == "/" ? "\(mountpoint)/\(event.name)" : "\(mountpoint)\(event.path)"
        let result: Int32
        switch event.kind {
        case .modify, .attrib:
            // The size asked for does not matter: the handler changes nothing and the kernel takes the size from
            // its reply (the node's), so no lstat (a FUSE round trip and an exists) is needed first.
            result = truncate(full, 0)
        case .create:
            forgetName(event)
            // Judged again at the last moment (the kind of call decides the kernel's entry); the handlers refuse
            // a kind that no longer matches (EEXIST), and then the other kind is tried once.
            var job = Self.asShownNow(event, role: currentRole)
            condition.withLock { current = job }
            result = create(full, job)
            if result != 0 && errno == EEXIST {
                job.isDirectory.toggle()
                condition.withLock { current = job }
                if create(full, job) == 0 { return }
            }
        case .delete:
            result = event.isDirectory ? rmdir(full) : unlink(full)
        }
        if result != 0 {
            failed(event, full, errno)
            if event.kind == .delete { removalFailed(event) }
        }
    }

    private func create(_ full: String, _ job: ChangeEvent) -> Int32 {
        job.isDirectory ? mkdir(full, 0o755) : mknod(full, S_IFREG | 0o644, 0)
    }

    private func failed(_ event: ChangeEvent, _ full: String, _ error: Int32) {
        logger.debug("zkfs: replay of \(event.kind.rawValue) \(full) failed: \(String(cString: strerror(error)))")
    }
}
