#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WarrenClient
import WarrenJute

/// Open, read, write, commit and close. A handle reads one consistent snapshot (the data at open); writes go
/// to a whole-file buffer committed by flush/fsync with setData at the version seen at open.
extension ZKFilesystem {
    struct AccessMode {
        var readable: Bool
        var writable: Bool
        var truncate: Bool
        var append: Bool
        var exclusive: Bool

        init(flags: Int32) {
            let access = flags & O_ACCMODE
            readable = access != O_WRONLY
            writable = access != O_RDONLY
            truncate = writable && flags & O_TRUNC != 0
            append = flags & O_APPEND != 0
            exclusive = flags & O_EXCL != 0
        }
    }

    /// Opens `ino` (a file or a directory's data file) and returns the handle number.
    public func open(_ ino: UInt64, flags: Int32) async throws -> UInt64 {
        let key = try key(ino)
        guard key.role != .directory else { throw FSError(EISDIR, key.path) }
        let mode = AccessMode(flags: flags)
        if mode.writable { try checkWritable() }
        let handle = try await openHandle(ino: ino, path: key.path, mode: mode, expectedVersion: nil)
        return files.insert(handle)
    }

    /// Opens `ino` read-only from the data cache without waiting, if it can; nil if the open needs the server.
    public func openFromCache(_ ino: UInt64, flags: Int32) -> UInt64? {
        let mode = AccessMode(flags: flags)
        guard !mode.writable, !mode.truncate, let key = inodes.key(of: ino), key.role != .directory,
              let (data, stat) = dataCache.lookup(key.path)
        else { return nil }
        return files.insert(OpenFile(ino: ino, path: key.path, readable: true, writable: false, append: mode.append,
                                     data: data, version: stat.version, dirty: false))
    }

    /// Reads the node (or, for a write-only truncating open, only its version) into a new handle. A read-only
    /// open may be served from `dataCache`, and any read of the node refills it.
    /// - Throws: ENOENT if the node is gone; ESTALE if `expectedVersion` is given and the node has another.
    func openHandle(ino: UInt64, path: String, mode: AccessMode, expectedVersion: Int32?) async throws
        -> OpenFile
    {
        let watch = oneShotWatches
        let data: [UInt8]
        let stat: Stat
        if mode.truncate && !mode.readable {
            guard let s = try await self.stat(path) else { throw FSError(ENOENT, path) }
            (data, stat) = ([], s)
        } else if !mode.writable, let cached = dataCache.lookup(path) {
            (data, stat) = cached
        } else {
            let ticket = dataCache.ticket()
            let (d, s) = try await mapErrors { try await self.connection.run { try await $0.getData(path, watch: watch) } }
            (data, stat) = (d ?? [], s)
            if let ticket { dataCache.store(path, data: data, stat: stat, ticket: ticket) }
        }
        if let expectedVersion, stat.version != expectedVersion {
            logger.warning("zkfs: \(path)@v=\(expectedVersion) refused: the node is at version \(stat.version) (ESTALE)")
            throw FSError(ESTALE, "\(path) is at version \(stat.version), not \(expectedVersion)")
        }
        return OpenFile(ino: ino, path: path, readable: mode.readable, writable: mode.writable,
                          append: mode.append, data: mode.truncate ? [] : data, version: stat.version,
                          dirty: mode.truncate)
    }

    /// Creates and opens `name` in `parent` (open with O_CREAT after a failed lookup).
    ///
    /// A plain name creates an empty persistent node (or opens the existing one, unless O_EXCL). Suffixes
    /// choose the mode (`@e`, `@s`, `@container`, `@ttl=`, `@held`); `@v=N` instead opens the existing node for
    /// a write that only succeeds at version N. The reply names the real node; magic names are not cached.
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
        if let version = spec.expectedVersion {
            guard let stat = try await stat(path) else { throw FSError(ENOENT, path) }
            let role = NodeKindRule.role(for: stat, previous: inodes.lastRole(of: path))
            guard role == .file else { throw FSError(EISDIR, path) }
            let reply = entry(InodeKey(path: path, role: .file), stat, entryTimeout: 0)
            return try await (reply, openExisting(reply, path: path, mode: mode, expectedVersion: version))
        }
        do {
            let (actual, stat) = try await createNode(path, spec: spec, role: .file)
            inodes.setRole(.file, of: actual)
            let reply = entry(InodeKey(path: actual, role: .file), stat, entryTimeout: spec.hasSuffixes ? 0 : nil)
            let held: Int64? = spec.held ? connection.sessionId : nil
            let handle = OpenFile(ino: reply.attributes.ino, path: actual, readable: mode.readable,
                                    writable: mode.writable, append: mode.append, data: [], version: stat.version,
                                    dirty: false, heldBySession: held)
            if spec.held { logger.info("zkfs: holding \(actual) (ephemeral of session 0x\(String(UInt64(bitPattern: held ?? 0), radix: 16)))") }
            return (reply, files.insert(handle))
        } catch let error as FSError where error.errno == EEXIST && !spec.hasSuffixes && !mode.exclusive {
            // Someone created it between the lookup and now: open it like an existing file.
            guard let stat = try await stat(path) else { throw error }
            let role = NodeKindRule.role(for: stat, previous: inodes.lastRole(of: path))
            guard role == .file else { throw FSError(EISDIR, path) }
            let reply = entry(InodeKey(path: path, role: .file), stat)
            return try await (reply, openExisting(reply, path: path, mode: mode, expectedVersion: nil))
        }
    }

    private func openExisting(_ reply: EntryReply, path: String, mode: AccessMode, expectedVersion: Int32?)
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

    /// Creates the node `spec` asks for at `path` with empty data, to be shown as `role` (the caller remembers
    /// that role once this returns; the creation's watch event may be handled before); returns its real path and
    /// `Stat`.
    func createNode(_ path: String, spec: NameSpec, role: NodeRole) async throws -> (String, Stat) {
        let mode = spec.createMode
        ownChanges.announceRole(role, of: path, sequential: mode.isSequential)
        let ttl = spec.ttlMs
        let sessionId = connection.sessionId
        // A create whose reply was lost may have happened: the node is then there (and ours, if ephemeral).
        // A sequential create cannot be recognised, so it is not retried.
        var reconcile: (@Sendable (ZooKeeperError, ZooKeeperClient) async throws -> Created?)?
        if !mode.isSequential {
            reconcile = { (error: ZooKeeperError, client: ZooKeeperClient) async throws -> Created? in
                guard error.code == .nodeExists else { return nil }
                guard let stat = try await client.exists(path) else { return nil }
                if mode.isEphemeral && stat.ephemeralOwner != sessionId { return nil }
                return Created(path: path, stat: stat)
            }
        }
        let created = try await mapErrors {
            try await self.expectingOwn(.nodeCreated, mode.isSequential ? [] : [path]) {
                try await self.connection.run(idempotent: false, reconcile: reconcile) { client -> Created in
                    let (actual, stat) = try await client.createWithStat(path, data: [], acl: ACL.openUnsafe,
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

    /// Bytes from the handle's snapshot (or its write buffer).
    public func read(_ fh: UInt64, offset: Int, size: Int) throws -> [UInt8] {
        guard let handle = files.get(fh) else { throw FSError(EBADF) }
        return handle.read(offset: offset, size: size)
    }

    /// Writes into the handle's buffer; nothing reaches the server before flush or fsync.
    /// - Throws: EFBIG if the data would not fit in one request (`jute.maxbuffer`).
    public func write(_ fh: UInt64, bytes: UnsafeRawBufferPointer, offset: Int) throws -> Int {
        guard let handle = files.get(fh), handle.writable else { throw FSError(EBADF) }
        let limit = options.dataBytesMax(serverPathBytes: serverPathBytes(handle.path))
        guard handle.write(bytes, offset: offset, limit: limit) else {
            logger.warning("zkfs: write to \(handle.path) refused: data would exceed \(limit) bytes (EFBIG)")
            throw FSError(EFBIG, "\(handle.path): more than \(limit) bytes")
        }
        return bytes.count
    }

    /// Commits the handle's buffer if it changed (see `OpenFile.CommitPoint` for what each point commits):
    /// setData at the version the buffer is based on.
    /// - Throws: ESTALE if someone else changed the node since (logged), ENOENT if it was deleted.
    public func flush(_ fh: UInt64, at point: OpenFile.CommitPoint = .flush) async throws {
        guard let handle = files.get(fh) else { throw FSError(EBADF) }
        try await commit(handle, at: point)
    }

    private func commit(_ handle: OpenFile, at point: OpenFile.CommitPoint) async throws {
        guard let pending = handle.pendingCommit(at: point) else { return }
        do {
            let stat = try await setData(handle.path, pending.data, version: pending.version)
            handle.committed(generation: pending.generation, newVersion: stat.version)
            invalidator?.post([.inode(handle.ino)])
        } catch {
            handle.commitDidFail()
            throw error
        }
    }

    /// Closes the handle: commits a truncation no flush committed (errors can only be logged here), and
    /// deletes a `@held` ephemeral if the session that created it still lives (after an expiry the server
    /// already deleted it, and the name may belong to someone else now).
    /// Closes a handle that has nothing to commit or release on the server (read-only, not `@held`) at once;
    /// false, leaving it open, for any other (it needs `release`).
    public func releaseNow(_ fh: UInt64) -> Bool {
        guard let handle = files.get(fh), !handle.writable, handle.heldBySession == nil else { return false }
        files.remove(fh)
        return true
    }

    public func release(_ fh: UInt64) async {
        guard let handle = files.remove(fh) else { return }
        do {
            try await commit(handle, at: .release)
        } catch {
            logger.error("zkfs: \(handle.path): data of a closed file not written: \(error)")
        }
        guard let owner = handle.heldBySession else { return }
        guard owner == connection.sessionId else {
            logger.warning("zkfs: \(handle.path) was held by expired session 0x\(String(UInt64(bitPattern: owner), radix: 16)); nothing to release")
            return
        }
        do {
            try await expectingOwn(.nodeDeleted, [handle.path]) {
                try await connection.run(idempotent: true) { try await $0.delete(handle.path) }
            }
            logger.info("zkfs: released \(handle.path)")
        } catch let error as ZooKeeperError where error.code == .noNode {
            logger.info("zkfs: \(handle.path) was already gone at release")
        } catch {
            logger.error("zkfs: could not release \(handle.path): \(error)")
        }
    }

    /// setData with the version check; a conflict is logged and becomes ESTALE.
    func setData(_ path: String, _ data: [UInt8], version: Int32) async throws -> Stat {
        do {
            return try await expectingOwn(.nodeDataChanged, [path]) {
                try await connection.run(idempotent: false, reconcile: { error, client in
                    // A lost reply may hide our own success: the node then holds exactly our data.
                    guard error.code == .badVersion else { return nil }
                    let (current, stat) = try await client.getData(path)
                    return (current ?? []) == data && stat.version == version &+ 1 ? stat : nil
                }) { try await $0.setData(path, data: data, version: version) }
            }
        } catch let error as ZooKeeperError where error.code == .badVersion {
            let now = (try? await connection.current.exists(path))?.map { "version \($0.version)" } ?? "deleted"
            logger.warning("zkfs: write to \(path) rejected: it changed since it was opened (opened at version \(version), now \(now)) (ESTALE)")
            throw FSError(ESTALE, "\(path) changed since open")
        } catch {
            throw FSError.from(error)
        }
    }
}
