#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WarrenClient
import WarrenJute

/// Creating files. A new file's node is created by its first commit, with its first content in one `create`
/// (see `CreateIntent`); until then the file is pending: this mount shows it (empty), the server does not.
extension ZKFilesystem {
    /// Creates and opens `name` in `parent` (open with O_CREAT after a failed lookup).
    ///
    /// A plain name opens the existing node (EEXIST with O_EXCL) or defers the create of a new one to the first
    /// commit; the existence check is made here, so O_EXCL fails at open. Suffixes choose the mode (`@e`, `@s`,
    /// `@container`, `@ttl=`: deferred too, an existing non-sequential name is EEXIST); `@held` creates the
    /// ephemeral now (it exists while open); `@v=N` opens the existing node for a write that only succeeds at
    /// version N. Magic names are not cached by the kernel (entry timeout 0).
    public func create(parent: UInt64, name: String, flags: Int32) async throws -> (EntryReply, UInt64) {
        let dir = try directoryPath(parent)
        try checkWritable()
        let mode = AccessMode(flags: flags)
        if name == options.dataName {
            guard let stat = try await stat(dir) else { throw FSError(ENOENT, dir) }
            let reply = entry(InodeKey(path: dir, role: .dataFile), stat)
            return try await (reply, openExisting(reply, path: dir, mode: mode, expectedVersion: nil))
        }
        let spec: NameSpec
        do { spec = try NameSpec.parse(name) } catch { throw FSError(EINVAL, "\(name): \(error)") }
        let path = ZPath.join(dir, spec.base)
        let timeout: Double? = spec.hasSuffixes ? 0 : nil
        if let version = spec.expectedVersion {
            guard let stat = try await stat(path) else { throw FSError(ENOENT, path) }
            return try await openExistingFile(path, stat: stat, mode: mode, expectedVersion: version, entryTimeout: 0)
        }
        if spec.held { return try await createHeld(path, spec: spec, mode: mode) }
        if !spec.sequential {
            if let stat = try await stat(path) {
                guard !spec.hasSuffixes && !mode.exclusive else { throw FSError(EEXIST, path) }
                return try await openExistingFile(path, stat: stat, mode: mode, expectedVersion: nil,
                                                  entryTimeout: timeout)
            }
            if pendingCreates.entry(path) != nil && (spec.hasSuffixes || mode.exclusive) {
                throw FSError(EEXIST, "\(path) is being created through this mount")
            }
        }
        let inodePath = spec.sequential ? pendingCreates.placeholder(for: path) : path
        let intent = CreateIntent(serverPath: path, spec: spec, inodePath: inodePath)
        let reply = pendingEntry(pendingCreates.add(intent), entryTimeout: timeout)
        let handle = OpenFile(ino: reply.attributes.ino, creating: intent, readable: mode.readable,
                              writable: mode.writable, append: mode.append,
                              createsEmptyAtFlush: mode.createsEmptyAtFlush)
        return (reply, files.insert(handle))
    }

    /// `@held`: the ephemeral is created at open, empty, and deleted by the last close of the handle.
    private func createHeld(_ path: String, spec: NameSpec, mode: AccessMode) async throws -> (EntryReply, UInt64) {
        let (actual, stat) = try await createNode(path, spec: spec, role: .file)
        inodes.setRole(.file, of: actual)
        let reply = entry(InodeKey(path: actual, role: .file), stat, entryTimeout: 0)
        let held = connection.sessionId
        let handle = OpenFile(ino: reply.attributes.ino, path: actual, readable: mode.readable,
                              writable: mode.writable, append: mode.append, data: [], version: stat.version,
                              dirty: false, heldBySession: held, heldCzxid: stat.czxid)
        logger.info("zkfs: holding \(actual) (ephemeral of session 0x\(String(UInt64(bitPattern: held), radix: 16)))")
        return (reply, files.insert(handle))
    }

    private func openExistingFile(_ path: String, stat: Stat, mode: AccessMode, expectedVersion: Int32?,
                                  entryTimeout: Double?) async throws -> (EntryReply, UInt64) {
        let role = await shownRole(path, stat: stat, previous: inodes.lastRole(of: path))
        guard role == .file else { throw FSError(EISDIR, path) }
        let reply = entry(InodeKey(path: path, role: .file), stat, entryTimeout: entryTimeout)
        return try await (reply, openExisting(reply, path: path, mode: mode, expectedVersion: expectedVersion))
    }

    func openExisting(_ reply: EntryReply, path: String, mode: AccessMode, expectedVersion: Int32?)
        async throws -> UInt64
    {
        do {
            let handle = try await openHandle(ino: reply.attributes.ino, path: path, mode: mode,
                                              expectedVersion: expectedVersion)
            return files.insert(handle)
        } catch {
            // The kernel drops its reference only for a successful create reply.
            inodes.forget(reply.attributes.ino, count: 1)
            throw error
        }
    }

    // MARK: - Pending files

    /// The entry of a pending file (adds a kernel reference): an empty file, timed at its open, whose attributes
    /// the kernel must not cache (they change when the node is created).
    func pendingEntry(_ pending: PendingCreates.Entry, entryTimeout: Double? = nil) -> EntryReply {
        var reply = entry(InodeKey(path: pending.intent.inodePath, role: .file), Self.pendingStat(pending),
                          entryTimeout: entryTimeout)
        reply.attrTimeout = 0
        return reply
    }

    func pendingAttributes(_ ino: UInt64, _ pending: PendingCreates.Entry) -> NodeAttributes {
        NodeAttributes.make(ino: ino, role: .file, stat: Self.pendingStat(pending), options: options)
    }

    private static func pendingStat(_ pending: PendingCreates.Entry) -> Stat {
        var stat = Stat()
        stat.ctime = pending.openedAtMs
        stat.mtime = pending.openedAtMs
        return stat
    }

    /// Another open of a pending file: a reader gets it empty (nothing is committed yet); a writer (when the
    /// create could not be made first, see `open`) gets a handle of its own that also creates the node at its
    /// first commit (the later of two creates gets EEXIST).
    func openPending(_ ino: UInt64, _ pending: PendingCreates.Entry, mode: AccessMode) -> OpenFile {
        guard mode.writable else {
            return OpenFile(ino: ino, path: pending.intent.inodePath, readable: true, writable: false,
                            append: mode.append, data: [], version: -1, dirty: false)
        }
        pendingCreates.add(pending.intent)
        return OpenFile(ino: ino, creating: pending.intent, readable: mode.readable, writable: true,
                        append: mode.append, createsEmptyAtFlush: mode.createsEmptyAtFlush)
    }

    /// Makes the deferred create of `handle` with `commit`'s data. Afterwards the handle and its inode stand
    /// for the real node (renamed from the placeholder, for a sequential name).
    /// - Throws: EEXIST if the node was created by someone else since the open.
    func createDeferred(_ handle: OpenFile, _ intent: CreateIntent, _ commit: OpenFile.Commit) async throws {
        let actual: String
        let stat: Stat
        do {
            (actual, stat) = try await createNode(intent.serverPath, spec: intent.spec, role: .file, data: commit.data)
        } catch let error as FSError where error.errno == EEXIST {
            logger.warning("zkfs: create of \(intent.serverPath) refused: created by someone else since it was opened (EEXIST)")
            throw error
        }
        if actual != intent.inodePath { inodes.rename(from: intent.inodePath, to: actual) }
        inodes.setRole(.file, of: actual)
        pendingCreates.created(intent.inodePath)
        handle.created(path: actual, generation: commit.generation, version: stat.version)
        invalidator?.post([.inode(handle.ino)])
    }

    /// The handle closed without making its create: the file stops being pending with its last handle.
    func pendingHandleClosed(_ intent: CreateIntent) {
        if pendingCreates.handleClosed(intent.inodePath) { inodes.clearRole(of: intent.inodePath) }
    }

    /// Creates the pending file `inodePath` now, with what its first writable handle holds (the real name of a
    /// sequential file is only known once created). - Throws: ENODATA if no handle of it is open.
    func createPendingNow(_ inodePath: String) async throws {
        guard let handle = files.all().first(where: { $0.pendingCreate?.inodePath == inodePath }) else {
            throw FSError(ENODATA, "\(inodePath) is not created yet")
        }
        try await commit(handle, at: .fsync)
    }

    // MARK: - The create request

    /// Creates the node `spec` asks for at `path` with `data`, to be shown as `role` (the caller remembers
    /// that role once this returns; the creation's watch event may be handled before); returns its real path and
    /// `Stat`.
    func createNode(_ path: String, spec: NameSpec, role: NodeRole, data: [UInt8] = []) async throws -> (String, Stat) {
        let mode = spec.createMode
        ownChanges.announceRole(role, of: path, sequential: mode.isSequential)
        let ttl = spec.ttlMs
        let sessionId = connection.sessionId
        // A create whose reply was lost may have happened: the node is then there with our data, unchanged (and
        // ours, if ephemeral). A sequential create cannot be recognised, so it is not retried.
        var reconcile: (@Sendable (ZooKeeperError, ZooKeeperClient) async throws -> Created?)?
        if !mode.isSequential {
            reconcile = { (error: ZooKeeperError, client: ZooKeeperClient) async throws -> Created? in
                guard error.code == .nodeExists else { return nil }
                guard let stat = try await client.exists(path), stat.version == 0,
                      stat.dataLength == data.count else { return nil }
                if mode.isEphemeral && stat.ephemeralOwner != sessionId { return nil }
                if !data.isEmpty, (try await client.getData(path).0 ?? []) != data { return nil }
                return Created(path: path, stat: stat)
            }
        }
        let created = try await mapErrors {
            try await self.expectingOwn(.nodeCreated, mode.isSequential ? [] : [path]) {
                try await self.connection.run(idempotent: false, reconcile: reconcile) { client -> Created in
                    let (actual, stat) = try await client.createWithStat(path, data: data, acl: ACL.openUnsafe,
                                                                         mode: mode, ttl: ttl)
                    return Created(path: actual, stat: stat)
                }
            }
        }
        return (created.path, created.stat)
    }

    struct Created: Sendable {
        var path: String
        var stat: Stat
    }
}
