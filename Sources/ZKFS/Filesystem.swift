#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import WarrenClient
import WarrenJute

/// What a lookup-like reply tells the kernel.
public struct EntryReply: Sendable {
    public var attributes: NodeAttributes
    /// Seconds the kernel may keep the name; 0 for magic names, which must never stay visible.
    public var entryTimeout: Double
    public var attrTimeout: Double
}

/// The filesystem's operations in terms of znodes, independent of libfuse: each takes inode and handle numbers
/// and returns what the reply needs, or throws `FSError` carrying the errno. The FUSE bridge calls these from
/// request threads; they are safe to call concurrently.
public final class ZKFilesystem: @unchecked Sendable {
    public let options: MountOptions
    public let inodes = InodeTable()
    let files = HandleTable<OpenFile>()
    let directories = HandleTable<DirectoryHandle>()
    let logger: Logger
    /// Set once, before the session starts serving.
    public private(set) var connection: ZooKeeperConnection!
    /// Where kernel cache invalidations go; set by the mount before the first request.
    public var invalidator: Invalidator?
    /// Open descriptors of the event-stream file.
    let eventReaders = HandleTable<EventReader>()
    /// Where remote changes go to be replayed through the mount (`-o inotify`); set by the mount before the
    /// first request, nil when replay is off.
    public var replaySink: ((ChangeEvent) -> Void)?
    /// This mount's own changes whose watch events must not be replayed.
    let ownChanges = OwnChanges()
    /// The roles events gave to paths (for ISDIR on deletion).
    let eventRoles = EventRoles()
    /// Watch events in arrival order, consumed by one task (see `Filesystem+Events`).
    let changes: AsyncStream<PendingChange>.Continuation
    /// Data of recently read nodes, served to read-only opens while the recursive watch is healthy.
    public let dataCache = DataCache()
    /// Cluster-wide flock/fcntl locks (see `Locks.swift`).
    public let fileLocks = FileLocks()
    /// Files created through this mount whose node is not created yet (see `Filesystem+Create`).
    let pendingCreates = PendingCreates()

    public init(options: MountOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        let (stream, continuation) = AsyncStream<PendingChange>.makeStream()
        changes = continuation
        startChangeConsumer(stream)
    }

    deinit { changes.finish() }

    /// Opens the session (throws if the servers, credentials or chroot are wrong).
    public func connect() async throws {
        let connection = ZooKeeperConnection(
            options: options, logger: logger,
            onWatchEvent: { [weak self] event in self?.watchEventArrived(event) },
            onNewSession: { [weak self] in
                self?.dataCache.invalidateAll()
                self?.invalidateEverything()
                self?.changesMayBeMissed()
                self?.locksLostToExpiry()
            },
            onReconnected: { [weak self] in self?.changesMayBeMissed() },
            onWatchHealth: { [weak self] healthy in
                guard let self else { return }
                self.dataCache.setLive(healthy && self.options.dataCache)
            })
        self.connection = connection
        try await connection.start()
    }

    /// Ends the session (ephemerals and `@held` locks of this mount are deleted by the server).
    public func disconnect() async {
        await connection?.stop()
    }

    var oneShotWatches: Bool { connection.needsOneShotWatches }

    // MARK: - Resolving

    func key(_ ino: UInt64) throws -> InodeKey {
        guard let key = inodes.key(of: ino) else { throw FSError(ESTALE, "unknown inode \(ino)") }
        return key
    }

    func directoryPath(_ ino: UInt64) throws -> String {
        let key = try key(ino)
        guard key.role == .directory else { throw FSError(ENOTDIR, key.path) }
        return key.path
    }

    /// The bytes a server path takes, for the data size limit.
    func serverPathBytes(_ path: String) -> Int { options.chroot.utf8.count + path.utf8.count }

    /// Throws EROFS on a read-only mount. Every request that would change the tree calls it: the kernel does not
    /// refuse writes itself while remote changes are replayed (see `MountOptions.kernelReadOnly`).
    func checkWritable() throws {
        if options.readOnly { throw FSError(EROFS) }
    }

    /// The `Stat` of `path`, nil if there is no such node (or the name cannot be a znode name).
    func stat(_ path: String) async throws -> Stat? {
        let watch = oneShotWatches
        do {
            return try await connection.run { try await $0.exists(path, watch: watch) }
        } catch let error as ZooKeeperError where error.code == .badArguments {
            return nil
        }
    }

    func entry(_ key: InodeKey, _ stat: Stat, entryTimeout: Double? = nil) -> EntryReply {
        let ino = inodes.remember(key)
        return EntryReply(attributes: NodeAttributes.make(ino: ino, role: key.role, stat: stat, options: options),
                          entryTimeout: entryTimeout ?? options.entryTimeoutSeconds,
                          attrTimeout: options.attrTimeoutSeconds)
    }

    // MARK: - Names and attributes

    /// Resolves `name` in the directory `parent` and adds a kernel reference to its inode.
    /// Magic names (with `@` suffixes) never resolve: the kernel then calls create/mkdir, which handle them.
    public func lookup(parent: UInt64, name: String) async throws -> EntryReply {
        let dir = try directoryPath(parent)
        if name == options.dataName {
            guard let stat = try await stat(dir) else { throw FSError(ENOENT, dir) }
            return entry(InodeKey(path: dir, role: .dataFile), stat)
        }
        guard let spec = try? NameSpec.parse(name), !spec.hasSuffixes else { throw FSError(ENOENT) }
        let path = ZPath.join(dir, name)
        let previous = inodes.lastRole(of: path)
        guard var stat = try await stat(path) else {
            guard let pending = pendingCreates.entry(path) else { throw FSError(ENOENT) }
            return pendingEntry(pending)
        }
        var role = await shownRole(path, stat: stat, previous: previous)
        if let changed = inodes.lastRole(of: path), changed != previous, changed != role {
            // A watch event gave the node another role while this lookup was under way (a file that gained a
            // child): its Stat predates that change, and its entry, installed after the event's invalidation, would
            // show the old role until the entry timeout. Judge the node again as it is now.
            guard let fresh = try await self.stat(path) else { throw FSError(ENOENT, path) }
            stat = fresh
            role = await shownRole(path, stat: fresh, previous: changed)
        }
        return entry(InodeKey(path: path, role: role), stat)
    }

    /// Fresh attributes of `ino`. If the node's role changed under this inode (a file that gained children),
    /// the old attributes come back uncacheable and the kernel is told to look the name up again.
    public func getattr(_ ino: UInt64) async throws -> (NodeAttributes, timeout: Double) {
        let key = try key(ino)
        if let pending = pendingCreates.entry(key.path) { return (pendingAttributes(ino, pending), 0) }
        guard let stat = try await stat(key.path) else {
            invalidator?.post(entryGoneNotices(key.path))
            throw FSError(ENOENT, key.path)
        }
        let attributes = NodeAttributes.make(ino: ino, role: key.role, stat: stat, options: options)
        if key.role != .dataFile, await shownRole(key.path, stat: stat, previous: key.role) != key.role {
            invalidator?.post(entryChangedNotices(key.path))
            return (attributes, 0)
        }
        return (attributes, options.attrTimeoutSeconds)
    }

    /// Applies a truncate (`size`); mode, owner and time changes are accepted and ignored (they come from the
    /// server), except on a read-only mount, where any change (`changes`) is EROFS. With an open write handle the
    /// truncate changes its buffer; without, it is a versioned setData.
    public func setattr(_ ino: UInt64, size: Int?, fh: UInt64?, changes: Bool = true) async throws
        -> (NodeAttributes, timeout: Double)
    {
        if changes || size != nil { try checkWritable() }
        if let size {
            let key = try key(ino)
            guard key.role != .directory else { throw FSError(EISDIR, key.path) }
            let limit = options.dataBytesMax(serverPathBytes: serverPathBytes(key.path))
            guard size <= limit else { throw FSError(EFBIG, "\(key.path): \(size) bytes > \(limit)") }
            if let fh, let handle = files.get(fh), handle.writable {
                handle.truncate(to: size)
                var (attributes, timeout) = try await getattr(ino)
                attributes.size = Int64(size)
                return (attributes, timeout)
            }
            try await truncate(path: key.path, to: size)
        }
        return try await getattr(ino)
    }

    private func truncate(path: String, to size: Int) async throws {
        let (data, stat) = try await mapErrors { try await self.connection.run { try await $0.getData(path) } }
        var bytes = data ?? []
        guard bytes.count != size else { return }
        if size < bytes.count { bytes.removeSubrange(size...) } else {
            bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
        }
        _ = try await setData(path, bytes, version: stat.version)
    }

    // MARK: - Directories

    /// Lists the directory once (children sorted by name, plus the data file if the node has data).
    public func opendir(_ ino: UInt64) async throws -> UInt64 {
        let path = try directoryPath(ino)
        let watch = oneShotWatches
        let (children, stat) = try await mapErrors {
            try await self.connection.run { try await $0.getChildrenWithStat(path, watch: watch) }
        }
        let parentIno = path == "/" ? ino : inodes.ino(of: InodeKey(path: ZPath.parent(of: path), role: .directory)) ?? ino
        let dirType = NodeAttributes.typeDirectory
        var items = [DirectoryHandle.Item(name: ".", ino: ino, type: dirType),
                     DirectoryHandle.Item(name: "..", ino: parentIno, type: dirType)]
        if stat.dataLength > 0 {
            let dataIno = inodes.peekNumber(of: InodeKey(path: path, role: .dataFile))
            items.append(.init(name: options.dataName, ino: dataIno, type: NodeAttributes.typeRegular))
        }
        // The event-stream file is never listed, and a real child of its name in the root is shadowed.
        let hidden = path == "/" ? options.eventsName : nil
        // Files created through this mount and not created on the server yet are listed too.
        let names = Set(children).union(pendingCreates.names(in: path))
        for name in names.sorted() where name != options.dataName && name != hidden {
            let child = ZPath.join(path, name)
            let role = inodes.lastRole(of: child)
            let number = inodes.peekNumber(of: InodeKey(path: child, role: role ?? .file))
            // Without a Stat per child the type is only known for names the kernel already looked up.
            let type = role == .directory ? dirType : role == .file ? NodeAttributes.typeRegular : 0
            items.append(.init(name: name, ino: number, type: type))
        }
        return directories.insert(DirectoryHandle(items: items))
    }

    /// The listing of an open directory.
    public func directory(_ fh: UInt64) throws -> DirectoryHandle {
        guard let handle = directories.get(fh) else { throw FSError(EBADF) }
        return handle
    }

    public func releasedir(_ fh: UInt64) { directories.remove(fh) }

    /// Drops kernel references (forget, forget_multi).
    public func forget(_ ino: UInt64, count: UInt64) { inodes.forget(ino, count: count) }

    // MARK: - Errors

    /// Runs `body`, turning ZooKeeper errors into `FSError`s by the errno table.
    func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw FSError.from(error)
        }
    }
}
