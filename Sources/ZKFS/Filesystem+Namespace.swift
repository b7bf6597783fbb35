#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WarrenClient
import WarrenJute

/// mkdir, mknod, unlink, rmdir, rename.
extension ZKFilesystem {
    /// Creates a persistent node shown as a directory. `@s`, `@container` and `@ttl=` apply; ephemerals cannot
    /// have children, so `@e`/`@held` (and `@v=`) are EINVAL.
    public func mkdir(parent: UInt64, name: String) async throws -> EntryReply {
        let dir = try directoryPath(parent)
        try checkWritable()
        guard name != options.dataName else { throw FSError(EEXIST, "\(name) is reserved for the node's data") }
        let spec = try parseForCreate(name)
        if spec.ephemeral || spec.held || spec.expectedVersion != nil {
            throw FSError(EINVAL, "\(name): a directory cannot be ephemeral or versioned")
        }
        let (actual, stat) = try await createNode(ZPath.join(dir, spec.base), spec: spec, role: .directory)
        inodes.setRole(.directory, of: actual)
        return entry(InodeKey(path: actual, role: .directory), stat, entryTimeout: spec.hasSuffixes ? 0 : nil)
    }

    /// Creates an empty node shown as a file (mknod of a regular file; other types are EPERM).
    public func mknod(parent: UInt64, name: String, mode: UInt32) async throws -> EntryReply {
        let dir = try directoryPath(parent)
        try checkWritable()
        guard mode & 0o170000 == NodeAttributes.typeRegular else { throw FSError(EPERM, "only regular files") }
        guard name != options.dataName else { throw FSError(EEXIST, "\(name) is reserved for the node's data") }
        let spec = try parseForCreate(name)
        if spec.expectedVersion != nil || spec.held { throw FSError(EINVAL, "\(name): needs an open file") }
        let (actual, stat) = try await createNode(ZPath.join(dir, spec.base), spec: spec, role: .file)
        inodes.setRole(.file, of: actual)
        return entry(InodeKey(path: actual, role: .file), stat, entryTimeout: spec.hasSuffixes ? 0 : nil)
    }

    private func parseForCreate(_ name: String) throws -> NameSpec {
        do { return try NameSpec.parse(name) } catch { throw FSError(EINVAL, "\(name): \(error)") }
    }

    /// Deletes the file's node. Unlinking a directory's data file empties the directory node's data.
    public func unlink(parent: UInt64, name: String) async throws {
        let dir = try directoryPath(parent)
        try checkWritable()
        if name == options.dataName {
            _ = try await mapErrors {
                try await self.expectingOwn(.nodeDataChanged, [dir]) {
                    try await self.connection.run { try await $0.setData(dir, data: []) }
                }
            }
            invalidator?.post(inodeNotices(dir))
            return
        }
        try await deleteNode(ZPath.join(dir, try plainName(name, or: ENOENT)))
    }

    /// Deletes the directory's node, which must have no children (its own data goes with it).
    public func rmdir(parent: UInt64, name: String) async throws {
        let dir = try directoryPath(parent)
        try checkWritable()
        guard name != options.dataName else { throw FSError(ENOTDIR, name) }
        try await deleteNode(ZPath.join(dir, try plainName(name, or: ENOENT)))
    }

    private func plainName(_ name: String, or errno: Int32) throws -> String {
        guard let spec = try? NameSpec.parse(name), !spec.hasSuffixes else { throw FSError(errno, name) }
        return name
    }

    private func deleteNode(_ path: String) async throws {
        try await mapErrors {
            try await self.expectingOwn(.nodeDeleted, [path]) {
                try await self.connection.run(idempotent: false, reconcile: { error, _ in
                    error.code == .noNode ? () : nil  // our lost attempt deleted it
                }) { try await $0.delete(path) }
            }
        }
        inodes.clearRole(of: path)
    }

    /// Renames a node without children atomically: one multi deletes the target if any (at the version read),
    /// creates the new node with the old one's data and ACL, and deletes the old one at the version read. A node
    /// with children gets EXDEV (mv then copies and deletes), another session's ephemeral EPERM.
    public func rename(parent: UInt64, name: String, newParent: UInt64, newName: String, flags: UInt32) async throws {
        let fromDir = try directoryPath(parent)
        let toDir = try directoryPath(newParent)
        try checkWritable()
        let exchange: UInt32 = 2, noReplace: UInt32 = 1  // RENAME_EXCHANGE, RENAME_NOREPLACE
        if flags & exchange != 0 { throw FSError(EINVAL, "RENAME_EXCHANGE is not supported") }
        guard name != options.dataName, newName != options.dataName else {
            throw FSError(EINVAL, "\(options.dataName) cannot be renamed")
        }
        let from = ZPath.join(fromDir, try plainName(name, or: EINVAL))
        let to = ZPath.join(toDir, try plainName(newName, or: EINVAL))
        if from == to { return }
        if ZPath.isWithin(to, from) { throw FSError(EINVAL, "\(to) is inside \(from)") }
        let sessionId = connection.sessionId
        var attempt = 0
        while true {
            attempt += 1
            let (data, stat) = try await mapErrors { try await self.connection.run { try await $0.getData(from) } }
            if stat.numChildren > 0 { throw FSError(EXDEV, "\(from) has children") }
            let ephemeral = stat.ephemeralOwner != 0 && !NodeKindRule.isSpecialOwner(stat.ephemeralOwner)
            if ephemeral && stat.ephemeralOwner != sessionId {
                throw FSError(EPERM, "\(from) is another session's ephemeral")
            }
            let (acl, _) = try await mapErrors { try await self.connection.run { try await $0.getACL(from) } }
            let target = try await self.stat(to)
            if let target {
                if flags & noReplace != 0 { throw FSError(EEXIST, to) }
                if target.numChildren > 0 { throw FSError(ENOTEMPTY, to) }
            }
            var builder = MultiBuilder()
            if let target { builder.delete(to, version: target.version) }
            builder.create(to, data: data, acl: acl, mode: ephemeral ? .ephemeral : .persistent)
            builder.delete(from, version: stat.version)
            let ops = builder.ops
            do {
                let deleted = target == nil ? [from] : [to, from]
                _ = try await expectingOwn(.nodeCreated, [to]) {
                    try await expectingOwn(.nodeDeleted, deleted) {
                        try await connection.run(idempotent: false) { try await $0.multi(ops) }
                    }
                }
                break
            } catch let error as ZooKeeperError
                where attempt < 3 && [.badVersion, .nodeExists, .noNode].contains(error.code)
            {
                logger.info("zkfs: rename \(from) -> \(to) raced with another change (\(error)); retrying")
                continue
            } catch let error as ZooKeeperError where error.code == .badVersion {
                throw FSError(ESTALE, "\(from) kept changing during the rename")
            } catch {
                throw FSError.from(error)
            }
        }
        let role = inodes.lastRole(of: from)
        inodes.clearRole(of: to)
        inodes.rename(from: from, to: to)
        if let role { inodes.setRole(role, of: to) }
    }
}
