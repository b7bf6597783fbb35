#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Test seam: an in-memory file system that the storage code runs on instead of the kernel's when a
/// `FaultInjector` carries one, so a simulation drives the real log, snapshot and recovery code and decides what a
/// crash leaves on disk. Production code never creates one.
///
/// What it models, as a Linux file system with a volatile page cache does:
/// - a file's bytes are durable once `fdatasync`ed (`dataSync`), and only then; its size with them;
/// - a directory's entries (creations, renames, removals) are durable once the directory is fsynced; directories
///   themselves are created durably (`ensure`), which the storage code never relies on beyond start-up;
/// - a crash (`crash(under:random:)`) puts each directory back to its last synced entries and each file's bytes
///   back to its last synced bytes (a file cut shorter since is cut or not as a whole: its size is metadata),
///   except for part of what was written since, in 512-byte sectors: with
///   `Writeback.inOrder` the sectors written since persist as a prefix in file order (a random number of them, the
///   last possibly torn at its sector boundary), with `.anyOrder` each one independently — the kernel's flusher may
///   write a file's dirty pages in any order. Lost unsynced data and torn writes either way.
///
/// File descriptors are numbers from `fdBase` up, so one never reaches a real system call by mistake.
// Sendable: every member is read and written only under `lock`.
public final class SimulatedDisk: @unchecked Sendable {
    static let fdBase: Int32 = 1 << 24
    static let sectorBytes = 512

    final class Inode {
        var data: [UInt8] = []
        /// The bytes as of the last `dataSync`.
        var durable: [UInt8] = []
    }

    private let lock = NSLock()
    /// Every directory's entries as they are now, and as of its last fsync.
    private var entries: [String: [String: Inode]] = [:]
    private var durableEntries: [String: [String: Inode]] = [:]
    private var open: [Int32: (inode: Inode, path: String, position: Int)] = [:]
    private var nextFd = SimulatedDisk.fdBase
    /// Bytes the disk may still take before writes fail with ENOSPC; nil: unlimited.
    public var freeBytes: Int? {
        get { lock.locked { free } }
        set { lock.locked { free = newValue } }
    }
    private var free: Int?

    public enum Writeback: Sendable {
        /// The unsynced sectors of a file persist as a prefix in file order (what the log's torn-tail repair
        /// assumes).
        case inOrder
        /// Each unsynced sector persists or not, independently.
        case anyOrder
    }

    public let writeback: Writeback

    public init(writeback: Writeback = .inOrder) { self.writeback = writeback }

    // MARK: crashes

    /// Power loss for every file under `prefix` (a server's data directories): what was not synced is lost,
    /// sector by sector at random; open descriptors there are gone.
    public func crash<R: RandomNumberGenerator>(under prefix: String, random: inout R) {
        lock.locked {
            for (fd, o) in open where o.path.hasPrefix(prefix) { open[fd] = nil }
            // Every file there, now or as of the last directory sync, in a stable order (so one seed replays
            // one crash): directories by path, names in order.
            var ordered: [Inode] = []
            var seen: Set<ObjectIdentifier> = []
            for dir in entries.keys.sorted() where dir.hasPrefix(prefix) {
                let now = entries[dir] ?? [:], synced = durableEntries[dir] ?? [:]
                for (_, inode) in now.sorted(by: { $0.key < $1.key }) + synced.sorted(by: { $0.key < $1.key })
                where seen.insert(ObjectIdentifier(inode)).inserted {
                    ordered.append(inode)
                }
                entries[dir] = synced
            }
            for inode in ordered where inode.data != inode.durable {
                inode.data = Self.torn(inode.durable, inode.data, writeback: writeback, random: &random)
                inode.durable = inode.data
            }
        }
    }

    /// One line per file under `prefix` whose written bytes differ from its synced ones (for a simulation's trace):
    /// the path, both lengths and the first offset that differs.
    public func unsynced(under prefix: String) -> [String] {
        lock.locked {
            var lines: [String] = []
            for dir in entries.keys.sorted() where dir.hasPrefix(prefix) {
                for (name, inode) in entries[dir]!.sorted(by: { $0.key < $1.key }) where inode.data != inode.durable {
                    let first = (0..<min(inode.data.count, inode.durable.count)).first { inode.data[$0] != inode.durable[$0] } ?? min(inode.data.count, inode.durable.count)
                    lines.append("\(dir)/\(name): \(inode.durable.count) synced, \(inode.data.count) written, differ from \(first)")
                }
                let synced = Set(durableEntries[dir]?.keys ?? [:].keys), now = Set(entries[dir]!.keys)
                if synced != now { lines.append("\(dir): entries \(now.sorted()) not synced (synced: \(synced.sorted()))") }
            }
            return lines
        }
    }

    /// Removes everything under `prefix`, as an operator wiping a server's data directory.
    public func wipe(under prefix: String) {
        lock.locked {
            for (fd, o) in open where o.path.hasPrefix(prefix) { open[fd] = nil }
            for dir in entries.keys where dir.hasPrefix(prefix) {
                entries[dir] = [:]
                durableEntries[dir] = [:]
            }
        }
    }

    /// The bytes after a crash, from the synced and the written ones: see `Writeback`. A file cut shorter since its
    /// last sync (ftruncate) is cut or not as a whole — the size is metadata the file system changes atomically — and
    /// the written sectors below the new end then persist as for any file; a file that grew ends after the last
    /// written sector that persisted.
    static func torn<R: RandomNumberGenerator>(_ synced: [UInt8], _ written: [UInt8], writeback: Writeback,
                                               random: inout R) -> [UInt8] {
        if written.count < synced.count && Bool.random(using: &random) { return synced }  // the cut did not happen
        let sectors = (max(synced.count, written.count) + sectorBytes - 1) / sectorBytes
        let changed = (0..<sectors).filter { i in
            let r = i * sectorBytes..<(i + 1) * sectorBytes
            return r.clamped(to: 0..<synced.count) != r.clamped(to: 0..<written.count)
                || synced[r.clamped(to: 0..<synced.count)] != written[r.clamped(to: 0..<written.count)]
        }
        let persisted: Set<Int>
        switch writeback {
        case .inOrder: persisted = Set(changed.prefix(Int.random(in: 0...changed.count, using: &random)))
        case .anyOrder: persisted = Set(changed.filter { _ in Bool.random(using: &random) })
        }
        let length: Int
        if written.count < synced.count {
            length = written.count
        } else {
            let lastPersistedEnd = persisted.max().map { min(written.count, ($0 + 1) * sectorBytes) } ?? 0
            length = max(synced.count, lastPersistedEnd)
        }
        var out = [UInt8](repeating: 0, count: length)
        for i in 0..<(length + sectorBytes - 1) / sectorBytes {
            let source = persisted.contains(i) ? written : synced
            let r = (i * sectorBytes..<min((i + 1) * sectorBytes, length)).clamped(to: 0..<source.count)
            if !r.isEmpty { out.replaceSubrange(r, with: source[r]) }
        }
        return out
    }

    // MARK: files (called by PosixFile when its injector carries this disk)

    func create(_ path: String) throws -> Int32 {
        try lock.locked {
            let (dir, name) = try split(path)
            guard entries[dir]![name] == nil else { throw StorageError.io(op: "open", path: path, errno: EEXIST) }
            let inode = Inode()
            entries[dir]![name] = inode
            return descriptor(inode, path)
        }
    }

    func open(_ path: String) throws -> Int32 {
        try lock.locked {
            let (dir, name) = try split(path)
            guard let inode = entries[dir]![name] else { throw StorageError.io(op: "open", path: path, errno: ENOENT) }
            return descriptor(inode, path)
        }
    }

    private func descriptor(_ inode: Inode, _ path: String) -> Int32 {
        let fd = nextFd
        nextFd += 1
        open[fd] = (inode, path, 0)
        return fd
    }

    func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws {
        try lock.locked {
            let o = try file(fd)
            try put(o.inode, bytes, at: o.position, path: o.path)
            open[fd]!.position += bytes.count
        }
    }

    func pwrite(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
        try lock.locked {
            let o = try file(fd)
            try put(o.inode, bytes, at: offset, path: o.path)
        }
    }

    private func put(_ inode: Inode, _ bytes: UnsafeRawBufferPointer, at offset: Int, path: String) throws {
        let growth = max(0, offset + bytes.count - inode.data.count)
        if let free {
            guard growth <= free else { throw StorageError.io(op: "write", path: path, errno: ENOSPC) }
            self.free = free - growth
        }
        if growth > 0 { inode.data.append(contentsOf: repeatElement(0, count: growth)) }
        inode.data.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    func read(_ fd: Int32, at offset: Int, count: Int) throws -> [UInt8] {
        try lock.locked {
            let data = try file(fd).inode.data
            guard offset < data.count else { return [] }
            return Array(data[offset..<min(data.count, offset + count)])
        }
    }

    func size(_ fd: Int32) throws -> Int64 { try lock.locked { Int64(try file(fd).inode.data.count) } }

    func dataSync(_ fd: Int32) throws {
        try lock.locked {
            let inode = try file(fd).inode
            inode.durable = inode.data
        }
    }

    func truncate(_ fd: Int32, to length: Int) throws {
        try lock.locked {
            let inode = try file(fd).inode
            if length < inode.data.count {
                free = free.map { $0 + inode.data.count - length }
                inode.data.removeLast(inode.data.count - length)
            } else if length > inode.data.count {
                inode.data.append(contentsOf: repeatElement(0, count: length - inode.data.count))
            }
        }
    }

    func close(_ fd: Int32) { lock.locked { open[fd] = nil } }

    private func file(_ fd: Int32) throws -> (inode: Inode, path: String, position: Int) {
        guard let o = open[fd] else { throw StorageError.io(op: "write", path: "fd \(fd)", errno: EBADF) }
        return o
    }

    // MARK: directories

    func ensure(_ path: String) {
        lock.locked {
            var dir = path
            while !dir.isEmpty && dir != "/" {
                if entries[dir] == nil {
                    entries[dir] = [:]
                    durableEntries[dir] = [:]
                }
                dir = (dir as NSString).deletingLastPathComponent
            }
        }
    }

    func list(_ path: String) throws -> [String] {
        try lock.locked {
            guard let names = entries[path] else { throw StorageError.io(op: "opendir", path: path, errno: ENOENT) }
            return names.keys.sorted()
        }
    }

    func syncDirectory(_ path: String) throws {
        try lock.locked {
            guard let names = entries[path] else { throw StorageError.io(op: "open", path: path, errno: ENOENT) }
            durableEntries[path] = names
        }
    }

    func rename(_ from: String, to: String) throws {
        try lock.locked {
            let (fromDir, fromName) = try split(from)
            let (toDir, toName) = try split(to)
            guard let inode = entries[fromDir]![fromName] else { throw StorageError.io(op: "rename", path: from, errno: ENOENT) }
            entries[fromDir]![fromName] = nil
            entries[toDir]![toName] = inode
        }
    }

    func remove(_ path: String) throws {
        try lock.locked {
            let (dir, name) = try split(path)
            guard let inode = entries[dir]!.removeValue(forKey: name) else {
                throw StorageError.io(op: "unlink", path: path, errno: ENOENT)
            }
            free = free.map { $0 + inode.data.count }
        }
    }

    private func split(_ path: String) throws -> (dir: String, name: String) {
        let dir = (path as NSString).deletingLastPathComponent
        guard entries[dir] != nil else { throw StorageError.io(op: "open", path: path, errno: ENOENT) }
        return (dir, (path as NSString).lastPathComponent)
    }
}
