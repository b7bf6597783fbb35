#if canImport(Glibc)
import Glibc
#endif
import Foundation
import WarrenClient
import WarrenJute

/// Extended attributes `user.zk.*`: the path, every Stat field (read-only) and the ACL (settable).
extension ZKFilesystem {
    public func getxattr(_ ino: UInt64, name: String) async throws -> [UInt8] {
        let path = try key(ino).path
        if let pending = pendingCreates.entry(path) {
            // Nothing to show before the node exists, but its name: for a sequential file only the create tells
            // it, so asking makes the create now, with what is written so far.
            guard name == ZKXattr.path else { throw FSError(ENODATA, "\(path) is not created yet") }
            guard pending.intent.spec.sequential else { return Array(path.utf8) }
            try await createPendingNow(path)
            return try Array(key(ino).path.utf8)
        }
        if name == ZKXattr.acl {
            let (acl, _) = try await mapErrors { try await self.connection.run { try await $0.getACL(path) } }
            return Array(ACLText.format(acl).utf8)
        }
        guard name.hasPrefix(ZKXattr.prefix) else { throw FSError(ENODATA, name) }
        if let value = try await lockXattr(path: path, name: name) { return value }
        if name == ZKXattr.path { return Array(path.utf8) }
        guard let stat = try await stat(path) else { throw FSError(ENOENT, path) }
        guard let value = ZKXattr.value(of: name, path: path, stat: stat) else { throw FSError(ENODATA, name) }
        return Array(value.utf8)
    }

    public func listxattr(_ ino: UInt64) throws -> [UInt8] {
        _ = try key(ino)
        return ZKXattr.listing()
    }

    /// Setting `user.zk.acl` replaces the node's ACL (any ACL version); the other `user.zk.*` are EPERM and
    /// other names ENOTSUP (zkfs stores nothing but znodes).
    public func setxattr(_ ino: UInt64, name: String, value: [UInt8]) async throws {
        let path = try key(ino).path
        try checkWritable()
        guard name == ZKXattr.acl else {
            throw FSError(ZKXattr.isReadOnly(name) ? EPERM : ENOTSUP, name)
        }
        guard let text = String(validating: value, as: UTF8.self), let acl = try? ACLText.parse(text) else {
            throw FSError(EINVAL, "not an ACL (scheme:id:perms,...): \(String(decoding: value, as: UTF8.self))")
        }
        // An ACL change raises no watch event: the mount's own drop the node's cached data, so that the next open
        // asks the server (and gets EACCES if this mount may no longer read it).
        defer { dataCache.invalidate(path) }
        _ = try await mapErrors { try await self.connection.run { try await $0.setACL(path, acl: acl) } }
    }

    public func removexattr(_ ino: UInt64, name: String) throws {
        _ = try key(ino)
        try checkWritable()
        if name == ZKXattr.acl || ZKXattr.isReadOnly(name) { throw FSError(EPERM, name) }
        throw FSError(ENODATA, name)
    }
}
