import WarrenJute
import WarrenTree

/// A ZooKeeper 3.x snapshot (`FileSnap`) decoded or to be encoded. Layout, in Jute (all big-endian):
///
/// `FileHeader{int magic "ZKSN", int version 2, long dbid}`; sessions as `int n` then `{long id, int timeoutMs}`
/// (`SerializeUtils.serializeSnapshot`); the ACL cache as `int n` then `{long id, vector<ACL>}`; nodes as
/// `ustring path` then `DataNode{buffer data, long aclId, StatPersisted}`, parents before children, the root under
/// the empty path, ended by the path "/"; the seal: `long adler32` of every byte before it, then the string "/".
/// ZooKeeper 3.6+ with digests enabled then writes `ZxidDigest{long zxid, int version, long digest}` and a second
/// seal over everything before it. ACL id -1 means `world:anyone` with all rights without a cache entry.
public struct ZooKeeperSnapshot: Equatable, Sendable {
    public static let magic: Int32 = 0x5A4B_534E  // "ZKSN"
    public static let version: Int32 = 2
    /// `ReferenceCountedACLCache.OPEN_UNSAFE_ACL_ID`.
    static let openUnsafeACLId: Int64 = -1

    public var sessions: [(id: Int64, timeoutMs: Int32)]
    /// Parents before children, root first with the path "/".
    public var nodes: [MigratedNode]
    /// The tree digest ZooKeeper recorded (zxid, digest version, digest), when it wrote one.
    public var digest: (zxid: Int64, version: Int32, value: Int64)?

    public init(sessions: [(id: Int64, timeoutMs: Int32)] = [], nodes: [MigratedNode], digest: (Int64, Int32, Int64)? = nil) {
        self.sessions = sessions
        self.nodes = nodes
        self.digest = digest
    }

    public static func == (a: ZooKeeperSnapshot, b: ZooKeeperSnapshot) -> Bool {
        a.nodes == b.nodes && a.sessions.map(\.id) == b.sessions.map(\.id)
            && a.sessions.map(\.timeoutMs) == b.sessions.map(\.timeoutMs)
            && a.digest.map { [$0.zxid, Int64($0.version), $0.value] } == b.digest.map { [$0.zxid, Int64($0.version), $0.value] }
    }

    /// Decodes an uncompressed snapshot stream, verifying its seals. Counts are checked against the bytes left
    /// before anything is allocated for them. Throws `MigrationError` naming `what` (the file) and the offset.
    /// `progress` is told the number of nodes read so far, every 16384 nodes.
    public static func decode(_ bytes: [UInt8], what: String, progress: (Int) -> Void = { _ in }) throws -> ZooKeeperSnapshot {
        var r = JuteReader(bytes)
        func fail(_ why: String) -> MigrationError { MigrationError("\(what): \(why) at byte \(r.offset)") }
        do {
            guard try r.readInt() == magic else { throw fail("not a ZooKeeper snapshot (magic)") }
            let version = try r.readInt()
            guard version == ZooKeeperSnapshot.version else { throw fail("snapshot format version \(version), expected 2") }
            _ = try r.readLong()  // dbid, unused
            let sessionCount = try r.readInt()
            guard sessionCount >= 0 && Int(sessionCount) * 12 <= r.remaining else { throw fail("\(sessionCount) sessions") }
            var sessions: [(id: Int64, timeoutMs: Int32)] = []
            sessions.reserveCapacity(Int(sessionCount))
            for _ in 0..<sessionCount { sessions.append((try r.readLong(), try r.readInt())) }
            let aclCount = try r.readInt()
            guard aclCount >= 0 && Int(aclCount) * 12 <= r.remaining else { throw fail("\(aclCount) ACL lists") }
            var acls: [Int64: [ACL]] = [openUnsafeACLId: ACL.openUnsafe]
            for _ in 0..<aclCount {
                let id = try r.readLong()
                acls[id] = try r.readVector { try ACL(from: &$0) } ?? []
            }
            var nodes: [MigratedNode] = []
            while true {
                guard let path = try r.readString() else { throw fail("null path") }
                if path == "/" { break }
                let data = try r.readBuffer()
                let aclId = try r.readLong()
                let stat = try PersistedStat(from: &r)
                guard let acl = acls[aclId] else { throw fail("node \(path) refers to ACL \(aclId), which is not in the cache") }
                nodes.append(MigratedNode(path: path.isEmpty ? "/" : path, data: data, acl: acl, stat: stat))
                if nodes.count % 16384 == 0 { progress(nodes.count) }
            }
            guard nodes.first?.path == "/" else { throw fail("the first node is not the root") }
            try checkSeal(bytes, &r, what: what)
            var digest: (Int64, Int32, Int64)?
            if !r.isAtEnd {
                digest = (try r.readLong(), try r.readInt(), try r.readLong())
                try checkSeal(bytes, &r, what: what)
            }
            guard r.isAtEnd else { throw fail("\(r.remaining) bytes after the last seal") }
            return ZooKeeperSnapshot(sessions: sessions, nodes: nodes, digest: digest)
        } catch let e as MigrationError {
            throw e
        } catch {
            throw fail("cut off or malformed (\(error))")
        }
    }

    /// `SnapStream.checkSealIntegrity`: the Adler-32 of everything before the seal, then "/".
    private static func checkSeal(_ bytes: [UInt8], _ r: inout JuteReader, what: String) throws {
        let offset = r.offset
        let expected = bytes.withUnsafeBytes { ZooKeeperFiles.adler32(UnsafeRawBufferPointer(rebasing: $0[..<offset])) }
        let stored = try r.readLong()
        guard stored == Int64(expected) else {
            throw MigrationError("\(what): checksum mismatch (stored \(stored), computed \(expected)) at byte \(offset)")
        }
        guard try r.readString() == "/" else { throw MigrationError("\(what): seal without its \"/\" at byte \(offset)") }
    }

    /// The snapshot as ZooKeeper writes it, uncompressed, with the seal and without a digest (ZooKeeper reads a
    /// snapshot without one as written by an older version, and recomputes its digest from the tree). ACL lists get
    /// ids 1, 2, ... by first use, as ZooKeeper's cache numbers them.
    public func encode() -> [UInt8] {
        var table = ACLTable()
        let ids = nodes.map { Int64(table.number($0.acl) + 1) }
        var w = JuteWriter(capacity: nodes.reduce(64) { $0 + $1.path.utf8.count + ($1.data?.count ?? 0) + 96 })
        w.writeInt(Self.magic)
        w.writeInt(Self.version)
        w.writeLong(-1)
        w.writeInt(Int32(sessions.count))
        for s in sessions {
            w.writeLong(s.id)
            w.writeInt(s.timeoutMs)
        }
        w.writeInt(Int32(table.lists.count))
        for (i, list) in table.lists.enumerated() {
            w.writeLong(Int64(i + 1))
            w.writeVector(list) { $0.write($1) }
        }
        for (node, id) in zip(nodes, ids) {
            w.writeString(node.path == "/" ? "" : node.path)
            w.writeBuffer(node.data)
            w.writeLong(id)
            w.write(node.stat)
        }
        w.writeString("/")
        let sum = w.bytes.withUnsafeBytes { ZooKeeperFiles.adler32($0) }
        w.writeLong(Int64(sum))
        w.writeString("/")
        return w.bytes
    }
}
