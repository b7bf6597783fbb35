import Foundation

/// The state of one open file: a consistent snapshot for reading, and for writing a whole-file buffer that is
/// committed with a versioned setData (the version the buffer was based on).
// Sendable: the lets are immutable, `commits` serializes itself, every var is behind `lock`.
public final class OpenFile: @unchecked Sendable {
    public let ino: UInt64
    /// The znode whose data this is (the directory's own node for a `.data` file). For a file whose create is
    /// deferred, the inode's path (see `CreateIntent.inodePath`) until the create names the real node.
    public var path: String { lock.withLock { currentPath } }
    public let readable: Bool
    public let writable: Bool
    /// O_APPEND: every write goes to the end of the buffer, whatever offset the kernel sends.
    public let append: Bool
    /// For `@held`: the session that owns the ephemeral; it is deleted on release if that session still lives.
    public let heldBySession: Int64?
    /// For `@held`: the czxid of the ephemeral the handle created, so that its release deletes that node only,
    /// never one created under the same name after it was deleted.
    public let heldCzxid: Int64?
    /// Runs the handle's commits one after the other: two at once could both make its deferred create (the
    /// later then failing with EEXIST) or send setData at the same version.
    let commits = SerialTasks()

    private let lock = NSLock()
    private var currentPath: String
    /// The create still to be made (nil once the node exists); the buffer is then its first content.
    private var intent: CreateIntent?
    /// Whether a flush with nothing written makes the deferred create (an empty file: `touch`). Not after an
    /// open the shell may have made (see `AccessMode.createsEmptyAtFlush`).
    private let createsEmptyAtFlush: Bool
    private var buffer: [UInt8]
    private var baseVersion: Int32
    private var dirty: Bool
    /// Whether write or ftruncate changed the buffer (a handle dirty only from O_TRUNC has not).
    private var written = false
    /// Whether the last commit failed (the error went to that flush; release does not repeat it).
    private var commitFailed = false
    /// Bumped by every change of the buffer, so a commit knows whether writes raced with it.
    private var generation: UInt64 = 0
    /// Whether the node changed (or was deleted) after the snapshot was taken: what poll reports.
    private var changed = false

    public init(ino: UInt64, path: String, readable: Bool, writable: Bool, append: Bool, data: [UInt8],
                version: Int32, dirty: Bool, heldBySession: Int64? = nil, heldCzxid: Int64? = nil) {
        self.ino = ino
        self.currentPath = path
        self.intent = nil
        self.createsEmptyAtFlush = false
        self.readable = readable
        self.writable = writable
        self.append = append
        self.buffer = data
        self.baseVersion = version
        self.dirty = dirty
        self.heldBySession = heldBySession
        self.heldCzxid = heldCzxid
    }

    /// A new file whose node is created by the first commit, with the buffer as its data (see `CreateIntent`).
    public init(ino: UInt64, creating intent: CreateIntent, readable: Bool, writable: Bool, append: Bool,
                createsEmptyAtFlush: Bool) {
        self.ino = ino
        self.currentPath = intent.inodePath
        self.intent = intent
        self.createsEmptyAtFlush = createsEmptyAtFlush
        self.readable = readable
        self.writable = writable
        self.append = append
        self.buffer = []
        self.baseVersion = -1
        self.dirty = true
        self.heldBySession = nil
        self.heldCzxid = nil
    }

    /// The create this handle still has to make, nil once its node exists.
    public var pendingCreate: CreateIntent? { lock.withLock { intent } }

    /// Up to `size` bytes from `offset` of the snapshot (or of the buffer being written).
    public func read(offset: Int, size: Int) -> [UInt8] {
        lock.withLock {
            guard offset < buffer.count, offset >= 0 else { return [] }
            return Array(buffer[offset..<min(buffer.count, offset + size)])
        }
    }

    /// Writes `bytes` at `offset` (at the end for O_APPEND), zero-filling any gap.
    /// - Returns: false, changing nothing, if the result would exceed `limit` bytes.
    public func write(_ bytes: UnsafeRawBufferPointer, offset: Int, limit: Int) -> Bool {
        lock.withLock {
            let start = append ? buffer.count : offset
            let end = start + bytes.count
            guard end <= limit else { return false }
            if start > buffer.count { buffer.append(contentsOf: repeatElement(0, count: start - buffer.count)) }
            let overlap = min(end, buffer.count) - start
            if overlap > 0 { buffer.replaceSubrange(start..<start + overlap, with: bytes.prefix(overlap)) }
            if overlap < bytes.count { buffer.append(contentsOf: bytes.dropFirst(max(overlap, 0))) }
            dirty = true
            written = true
            generation += 1
            return true
        }
    }

    /// Cuts or zero-extends the buffer to `size` bytes.
    public func truncate(to size: Int) {
        lock.withLock {
            if size < buffer.count {
                buffer.removeSubrange(size...)
            } else if size > buffer.count {
                buffer.append(contentsOf: repeatElement(0, count: size - buffer.count))
            }
            dirty = true
            written = true
            generation += 1
        }
    }

    public var size: Int { lock.withLock { buffer.count } }

    /// Whether the node changed since the snapshot was taken (see `markChanged`).
    public var changedSinceSnapshot: Bool { lock.withLock { changed } }

    /// Records that the node changed remotely; returns true if the handle was not marked yet (pollers must be
    /// woken).
    public func markChanged() -> Bool {
        lock.withLock {
            defer { changed = true }
            return !changed
        }
    }

    public func clearChanged() { lock.withLock { changed = false } }

    /// A new snapshot for a read-only handle (after its node changed).
    public func replaceSnapshot(_ data: [UInt8], version: Int32) {
        lock.withLock {
            precondition(!dirty, "replaceSnapshot of \(path) with uncommitted writes (version \(baseVersion))")
            buffer = data
            baseVersion = version
        }
    }
    public var version: Int32 { lock.withLock { baseVersion } }

    /// When a commit happens.
    public enum CommitPoint: Sendable {
        /// close() of one descriptor: commits written data, but not a truncation alone, since the shell's
        /// `> file` closes a duplicate of the descriptor before writing, and committing the empty file then
        /// would make two versions (and show readers an empty node in between).
        case flush
        /// fsync: commits whatever changed.
        case fsync
        /// The last close: commits what no flush did (a truncation alone), unless a commit already failed.
        case release
    }

    /// What a commit must send.
    public struct Commit {
        public var data: [UInt8]
        /// The version the buffer is based on (meaningless with `create`).
        public var version: Int32
        public var generation: UInt64
        /// The create to make instead of a setData.
        public var create: CreateIntent?
    }

    /// What a commit at `point` must send; nil if there is nothing to commit there.
    public func pendingCommit(at point: CommitPoint) -> Commit? {
        lock.withLock {
            guard dirty else { return nil }
            switch point {
            case .flush where !written && !(intent != nil && createsEmptyAtFlush): return nil
            case .release where commitFailed: return nil
            default: return Commit(data: buffer, version: baseVersion, generation: generation, create: intent)
            }
        }
    }

    /// Records a successful deferred create of the buffer at `generation`: the handle now stands for the node
    /// at `path` (the real name, for a sequential create) at `version`.
    public func created(path: String, generation committedGeneration: UInt64, version: Int32) {
        lock.withLock {
            currentPath = path
            intent = nil
        }
        committed(generation: committedGeneration, newVersion: version)
    }

    /// Records a successful setData of the buffer at `generation`: later commits are based on `newVersion`, and
    /// the buffer is clean unless it changed while the commit was under way.
    public func committed(generation committedGeneration: UInt64, newVersion: Int32) {
        lock.withLock {
            baseVersion = newVersion
            commitFailed = false
            if generation == committedGeneration { dirty = false }
        }
    }

    /// Records a failed commit (its error was reported to the caller).
    public func commitDidFail() {
        lock.withLock { commitFailed = true }
    }
}

/// The entries of an open directory, listed once at opendir so readdir's offsets stay consistent.
public final class DirectoryHandle: @unchecked Sendable {
    public struct Item: Sendable {
        public var name: String
        public var ino: UInt64
        /// `S_IFDIR`, `S_IFREG`, or 0 (unknown: the kernel asks getattr).
        public var type: UInt32
    }

    public let items: [Item]
    public init(items: [Item]) { self.items = items }
}

/// Open handles by number (`fuse_file_info.fh`). Thread-safe.
public final class HandleTable<Handle>: @unchecked Sendable {
    private let lock = NSLock()
    private var next: UInt64 = 1
    private var handles: [UInt64: Handle] = [:]

    public init() {}

    public func insert(_ handle: Handle) -> UInt64 {
        lock.withLock {
            let fh = next
            next += 1
            handles[fh] = handle
            return fh
        }
    }

    public func get(_ fh: UInt64) -> Handle? { lock.withLock { handles[fh] } }

    @discardableResult
    public func remove(_ fh: UInt64) -> Handle? { lock.withLock { handles.removeValue(forKey: fh) } }

    public var count: Int { lock.withLock { handles.count } }

    public func all() -> [Handle] { lock.withLock { Array(handles.values) } }

    public func allWithNumbers() -> [(UInt64, Handle)] { lock.withLock { handles.map { ($0.key, $0.value) } } }
}
