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

        /// Whether a flush with nothing written makes a new file's deferred create (an empty file: `touch`). Not
        /// when the open may be the shell's: `>` (O_TRUNC), `>>` (O_APPEND) and `>` under `set -C` (O_EXCL
        /// without O_TRUNC) close a duplicate of the descriptor before writing, and creating the empty node
        /// then would show other clients an empty file (and other mounts an empty node, a directory).
        var createsEmptyAtFlush: Bool { !truncate && !append && !exclusive }
    }

    /// Opens `ino` (a file or a directory's data file) and returns the handle number.
    public func open(_ ino: UInt64, flags: Int32) async throws -> UInt64 {
        let key = try key(ino)
        guard key.role != .directory else { throw FSError(EISDIR, key.path) }
        let mode = AccessMode(flags: flags)
        if mode.writable { try checkWritable() }
        var path = key.path
        if let pending = pendingCreates.entry(path) {
            guard mode.writable else { return files.insert(openPending(ino, pending, mode: mode)) }
            // A writer of a file still pending here (`: > f; echo x >> f`, whose first close is still on its
            // way) has it created first, with what was written to it so far, then opens the node.
            try? await createPendingNow(path)
            path = try self.key(ino).path
            if let stillPending = pendingCreates.entry(path) {
                return files.insert(openPending(ino, stillPending, mode: mode))
            }
        }
        let handle = try await openHandle(ino: ino, path: path, mode: mode, expectedVersion: nil)
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

    /// Bytes from the handle's snapshot (or its write buffer).
    public func read(_ fh: UInt64, offset: Int, size: Int) throws -> [UInt8] {
        guard let handle = files.get(fh) else { throw FSError(EBADF) }
        return handle.read(offset: offset, size: size)
    }

    /// Writes into the handle's buffer; nothing reaches the server before flush or fsync.
    /// - Throws: EFBIG if the data would not fit in one request (`jute.maxbuffer`).
    public func write(_ fh: UInt64, bytes: UnsafeRawBufferPointer, offset: Int) throws -> Int {
        guard let handle = files.get(fh), handle.writable else { throw FSError(EBADF) }
        let limit = options.dataBytesMax(serverPathBytes: serverPathBytes(handle.pendingCreate?.longestServerPath ?? handle.path))
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

    func commit(_ handle: OpenFile, at point: OpenFile.CommitPoint) async throws {
        try await handle.commits.run { try await self.commitNow(handle, at: point) }
    }

    private func commitNow(_ handle: OpenFile, at point: OpenFile.CommitPoint) async throws {
        guard let pending = handle.pendingCommit(at: point) else { return }
        do {
            if let intent = pending.create {
                try await createDeferred(handle, intent, pending)
                return
            }
            let stat = try await setData(handle.path, pending.data, version: pending.version)
            handle.committed(generation: pending.generation, newVersion: stat.version)
            invalidator?.post([.inode(handle.ino)])
        } catch {
            handle.commitDidFail()
            throw error
        }
    }

    /// Closes a handle that has nothing to commit or release on the server (read-only, not `@held`, no create
    /// pending) at once; false, leaving it open, for any other (it needs `release`).
    public func releaseNow(_ fh: UInt64) -> Bool {
        guard let handle = files.get(fh), !handle.writable, handle.heldBySession == nil,
              handle.pendingCreate == nil else { return false }
        files.remove(fh)
        return true
    }

    /// Closes the handle: commits a truncation, or makes a create, that no flush committed (errors can only be
    /// logged here), and deletes a `@held` ephemeral if the session that created it still lives (after an expiry
    /// the server already deleted it, and the name may belong to someone else now).
    public func release(_ fh: UInt64) async {
        // Removed only after the commit, so that a writer opening a still-pending file finds this handle and
        // waits for its create (see `open`).
        guard let handle = files.get(fh) else { return }
        do {
            try await commit(handle, at: .release)
        } catch {
            logger.error("zkfs: \(handle.path): data of a closed file not written: \(error)")
        }
        files.remove(fh)
        if let intent = handle.pendingCreate { pendingHandleClosed(intent) }
        guard let owner = handle.heldBySession else { return }
        guard owner == connection.sessionId else {
            logger.warning("zkfs: \(handle.path) was held by expired session 0x\(String(UInt64(bitPattern: owner), radix: 16)); nothing to release")
            return
        }
        do {
            // Deleted by name, the release could hit a node created under the same name after ours was deleted
            // by another client (a new registration, another mount's @held lock): only the node this handle
            // created goes, at the version just read.
            guard let stat = try await connection.run({ try await $0.exists(handle.path) }),
                  stat.czxid == handle.heldCzxid else {
                logger.info("zkfs: \(handle.path) was already gone at release")
                return
            }
            try await expectingOwn(.nodeDeleted, [handle.path]) {
                try await connection.run(idempotent: true) { try await $0.delete(handle.path, version: stat.version) }
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
