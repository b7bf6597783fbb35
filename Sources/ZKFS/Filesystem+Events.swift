import Foundation
import WarrenClient
import WarrenJute

/// A watch event on its way to the event consumers, with what had to be captured when it arrived.
struct PendingChange: Sendable {
    var event: WatchEvent
    /// For a deletion: the role the node was shown as (captured before the role is forgotten).
    var roleBefore: NodeRole?
}

/// What a kernel poll on a handle is waiting for.
public enum PollTarget: Hashable, Sendable {
    /// An open file (handle number) whose node may change.
    case file(UInt64)
    /// A descriptor of the event-stream file (handle number in `eventReaders`).
    case events(UInt64)
}

/// Turning watch events into change events for the event-stream readers, poll wake-ups of open files and
/// (with `-o inotify`) replays through the mount. Watch events are handled one at a time in arrival order.
extension ZKFilesystem {
    /// Starts the consumer of `changes`; events are handled in order, each after the previous one.
    func startChangeConsumer(_ stream: AsyncStream<PendingChange>) {
        Task.detached { [weak self] in
            for await change in stream {
                guard let self else { return }
                await self.handle(change)
            }
        }
    }

    private func handle(_ change: PendingChange) async {
        let type = change.event.type
        if isLockContenderOfFile(change.event.path) { return }
        guard eventReaders.count > 0 || replaySink != nil else {
            // Nobody follows the stream: only pollers of open files, which need no role (so no round trip).
            if type == .nodeDataChanged || type == .nodeDeleted { markFilesChanged(change.event.path) }
            return
        }
        guard let event = await changeEvent(for: change) else { return }
        let line = event.inotifyLine(mountpoint: options.mountpoint)
        // Every append wakes the reader's pollers (a no-op if none wait): a wake skipped because the queue
        // looked non-empty could be lost to a read emptying it meanwhile.
        var wakes: [Notice] = []
        for (fh, reader) in eventReaders.allWithNumbers() {
            reader.append(line)
            wakes.append(.poll(.events(fh)))
        }
        invalidator?.post(wakes)
        if event.kind == .modify || event.kind == .delete { markFilesChanged(change.event.path) }
        if let replay = replaySink {
            let kind = change.event.type
            if ownChanges.consume(path: change.event.path, type: kind) {
                logger.trace("zkfs: \(kind) of \(change.event.path) is this mount's own; not replayed")
            } else {
                replay(event)
            }
        }
    }

    /// The filesystem view of a watch event; nil for events that name no single change.
    func changeEvent(for change: PendingChange) async -> ChangeEvent? {
        let path = change.event.path
        switch change.event.type {
        case .nodeDataChanged:
            guard await role(of: path) == .directory else {
                return path == "/" ? nil : ChangeEvent(node: path, kind: .modify, isDirectory: false)
            }
            return ChangeEvent(directory: path, name: options.dataName, kind: .modify, isDirectory: false)
        case .nodeCreated:
            guard path != "/" else { return nil }
            let role = await role(of: path)
            eventRoles.set(path, role)
            return ChangeEvent(node: path, kind: .create, isDirectory: role == .directory)
        case .nodeDeleted:
            guard path != "/" else { return nil }
            let role = eventRoles.remove(path) ?? change.roleBefore
            return ChangeEvent(node: path, kind: .delete, isDirectory: role == .directory)
        case .nodeChildrenChanged, .none, .dataWatchRemoved, .childWatchRemoved, .persistentWatchRemoved:
            return nil
        }
    }

    /// How `path` is shown now: its remembered role, else the rule applied to a fresh `Stat` (a file if the node
    /// is already gone). Nothing is remembered here: the roles are the mount's, set by what the kernel is told.
    private func role(of path: String) async -> NodeRole {
        if path == "/" { return .directory }
        if let known = inodes.lastRole(of: path) ?? ownChanges.announcedRole(of: path) { return known }
        guard let stat = try? await connection.run({ try await $0.exists(path) }) else { return .file }
        return await shownRole(path, stat: stat, previous: nil)
    }

    /// Open handles of `path` see that their snapshot is stale, and pollers of them wake up.
    func markFilesChanged(_ path: String) {
        var notices: [Notice] = []
        for (fh, handle) in files.allWithNumbers() where handle.path == path {
            if handle.markChanged() { notices.append(.poll(.file(fh))) }
        }
        invalidator?.post(notices)
    }

    /// After a disconnection or a session expiry: watch events may have been missed. Every reader of the event
    /// stream gets an overflow line without a count, and every open file counts as changed (its pollers wake
    /// and re-read).
    func changesMayBeMissed() {
        let line = ChangeEvent.overflowLine(mountpoint: options.mountpoint, dropped: nil)
        var notices: [Notice] = []
        for (fh, reader) in eventReaders.allWithNumbers() {
            reader.append(line)
            notices.append(.poll(.events(fh)))
        }
        for (fh, handle) in files.allWithNumbers() where handle.readable && handle.markChanged() {
            notices.append(.poll(.file(fh)))
        }
        invalidator?.post(notices)
        logger.notice("zkfs: changes made while disconnected are not reported; readers of the event stream get Q_OVERFLOW")
    }

    // MARK: - Poll

    /// What a poll of the open file `fh` reports now: readable (POLLIN|POLLRDNORM|POLLPRI) once its node changed
    /// (or was deleted) after the handle's snapshot was taken, writable (POLLOUT|POLLWRNORM) always for a
    /// writable handle, nothing else.
    public func pollFile(_ fh: UInt64) throws -> Int16 {
        guard let handle = files.get(fh) else { throw FSError(EBADF) }
        var events: Int16 = 0
        if handle.readable && handle.changedSinceSnapshot { events |= Int16(POLLIN | POLLRDNORM | POLLPRI) }
        if handle.writable { events |= Int16(POLLOUT | POLLWRNORM) }
        return events
    }

    /// Whether a read of `fh` at `offset` must first take a new snapshot: a read-only handle whose node changed,
    /// read from the start (the `poll`, `lseek(fd, 0)`, `read` loop).
    public func readNeedsRefresh(_ fh: UInt64, offset: Int) -> Bool {
        guard offset == 0, let handle = files.get(fh) else { return false }
        return handle.readable && !handle.writable && handle.changedSinceSnapshot
    }

    /// Replaces the snapshot of the read-only handle `fh` with the node's current data (the node being gone
    /// leaves the old snapshot, and the handle stays ready).
    public func refreshSnapshot(_ fh: UInt64) async throws {
        guard let handle = files.get(fh) else { throw FSError(EBADF) }
        handle.clearChanged()
        let watch = oneShotWatches
        do {
            let (data, stat) = try await mapErrors {
                try await self.connection.run { try await $0.getData(handle.path, watch: watch) }
            }
            handle.replaceSnapshot(data ?? [], version: stat.version)
        } catch let error as FSError where error.errno == ENOENT {
            _ = handle.markChanged()
        }
    }

    // MARK: - The event-stream file

    /// The inode of the event-stream file (never a znode's).
    public static let eventsIno = InodeTable.eventsIno

    /// Whether `name` in the directory `parent` is the event-stream file.
    public func isEventsFile(parent: UInt64, name: String) -> Bool {
        parent == InodeTable.rootIno && options.eventsName == name
    }

    public func eventsEntry() -> EntryReply {
        EntryReply(attributes: eventsAttributes(), entryTimeout: options.entryTimeoutSeconds,
                   attrTimeout: options.attrTimeoutSeconds)
    }

    public func eventsAttributes() -> NodeAttributes {
        var stat = Stat()
        // A date shown to `stat`, so the wall clock.
        let wallMs = Int64(Date().timeIntervalSince1970 * 1000)
        stat.mtime = wallMs
        stat.ctime = wallMs
        var attributes = NodeAttributes.make(ino: Self.eventsIno, role: .file, stat: stat, options: options)
        attributes.mode = NodeAttributes.typeRegular | (0o444 & ~options.umask)
        return attributes
    }

    /// A new reader of the event stream (only changes from now on); returns its handle number.
    public func openEvents(flags: Int32) throws -> UInt64 {
        guard flags & O_ACCMODE == O_RDONLY else { throw FSError(EACCES, "the event stream is read-only") }
        let mountpoint = options.mountpoint
        let reader = EventReader(linesMax: options.eventsQueueLines) {
            ChangeEvent.overflowLine(mountpoint: mountpoint, dropped: $0)
        }
        return eventReaders.insert(reader)
    }

    public func eventReader(_ fh: UInt64) throws -> EventReader {
        guard let reader = eventReaders.get(fh) else { throw FSError(EBADF) }
        return reader
    }

    public func releaseEvents(_ fh: UInt64) { eventReaders.remove(fh) }
}

// MARK: - Replays

extension ZKFilesystem {
    /// The entry a replayed `mknod`/`mkdir`, or a replayed lookup, is answered with: the node at `path` shown as
    /// `role` (`.dataFile`: the data file of the directory `path`), with its current `Stat` if it still exists
    /// (a zero one if not).
    public func replayEntry(path: String, role: NodeRole) async -> EntryReply {
        let stat = (try? await self.stat(path)) ?? nil
        return entry(InodeKey(path: path, role: role), stat ?? Stat())
    }

    /// Attributes for the replay thread's path walk: the node's, or made up (uncached) if it is gone by now, so
    /// that replays of the changes before its deletion still find their way (the deletion is replayed later).
    public func replayGetattr(_ ino: UInt64) async throws -> (NodeAttributes, timeout: Double) {
        let key = try key(ino)
        if let stat = try await stat(key.path) {
            return (NodeAttributes.make(ino: ino, role: key.role, stat: stat, options: options), options.attrTimeoutSeconds)
        }
        return (NodeAttributes.make(ino: ino, role: key.role, stat: Stat(), options: options), 0)
    }

    /// The znode path of `name` in the directory inode `parent`, nil if the inode is unknown.
    public func childPath(parent: UInt64, name: String) -> String? {
        guard let key = inodes.key(of: parent), key.role == .directory else { return nil }
        return ZPath.join(key.path, name)
    }

    /// Runs `body`, a request that makes the change `type` on `path`, expecting its watch event (so it is not
    /// replayed) when replay is on.
    func expectingOwn<T>(_ type: EventType, _ paths: [String], _ body: () async throws -> T) async throws -> T {
        // Dropped after the change too, so that an open after this returns cannot be served the old data (the
        // change's watch event may come later); a read under way meanwhile does not store (see DataCache).
        for path in paths { dataCache.invalidate(path) }
        defer { for path in paths { dataCache.invalidate(path) } }
        guard replaySink != nil else { return try await body() }
        for path in paths { ownChanges.expect(path: path, type: type) }
        do {
            return try await body()
        } catch {
            for path in paths { ownChanges.cancel(path: path, type: type) }
            throw error
        }
    }
}
