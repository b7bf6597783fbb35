#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CHotPaths
import Foundation

/// Test seam: lets a test make chosen system calls fail with a chosen errno, to exercise the failure contracts
/// without a full disk, and (`disk`) run the storage code on a `SimulatedDisk` instead of the kernel's file system.
/// Production code never sets one.
// Sendable: `failures` is read and written only under `lock`; `disk` is immutable and Sendable itself.
final class FaultInjector: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String: Int32] = [:]
    /// Every file and directory operation of the code given this injector goes to this disk.
    let disk: SimulatedDisk?

    init(disk: SimulatedDisk? = nil) { self.disk = disk }

    /// The next calls of `op` (e.g. "write", "fdatasync", "open") fail with `errno` until `clear`.
    func fail(_ op: String, errno code: Int32) { locked { failures[op] = code } }

    func clear() { locked { failures.removeAll() } }

    /// Lets calls of `op` succeed again.
    func clear(_ op: String) { _ = locked { failures.removeValue(forKey: op) } }

    func check(_ op: String, _ path: String) throws {
        if let code = locked({ failures[op] }) { throw StorageError.io(op: op, path: path, errno: code) }
    }

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

extension NSLock {
    /// Runs `body` holding the lock.
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// An open file descriptor. Every failure becomes `StorageError.io` naming the call and the path.
struct PosixFile {
    let fd: Int32
    let path: String
    let faults: FaultInjector?

    /// Creates a new file; fails if it exists, so a log file is never overwritten.
    static func create(_ path: String, faults: FaultInjector?) throws -> PosixFile {
        try faults?.check("open", path)
        if let disk = faults?.disk { return PosixFile(fd: try disk.create(path), path: path, faults: faults) }
        let fd = retryingEINTR { systemOpen(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw StorageError.io(op: "open", path: path, errno: errno) }
        return PosixFile(fd: fd, path: path, faults: faults)
    }

    /// Opens an existing file for reading, or for reading and writing.
    static func open(_ path: String, writable: Bool, faults: FaultInjector?) throws -> PosixFile {
        try faults?.check("open", path)
        if let disk = faults?.disk { return PosixFile(fd: try disk.open(path), path: path, faults: faults) }
        let flags = (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC
        let fd = retryingEINTR { systemOpen(path, flags, 0) }
        guard fd >= 0 else { throw StorageError.io(op: "open", path: path, errno: errno) }
        return PosixFile(fd: fd, path: path, faults: faults)
    }

    /// Writes all of `bytes` at the current position, retrying short writes.
    func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        try faults?.check("write", path)
        if let disk = faults?.disk { return try disk.write(fd, bytes) }
        var done = 0
        while done < bytes.count {
            let n = retryingEINTR { write(fd, bytes.baseAddress! + done, bytes.count - done) }
            guard n > 0 else { throw StorageError.io(op: "write", path: path, errno: n < 0 ? errno : EIO) }
            done += n
        }
    }

    func writeAll(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try writeAll($0) } }

    /// Writes all of `bytes` at `offset` without moving the file position.
    func pwriteAll(_ bytes: [UInt8], at offset: Int64) throws {
        try faults?.check("pwrite", path)
        if let disk = faults?.disk { return try bytes.withUnsafeBytes { try disk.pwrite(fd, $0, at: Int(offset)) } }
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = retryingEINTR { pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset) + off_t(done)) }
                guard n > 0 else { throw StorageError.io(op: "pwrite", path: path, errno: n < 0 ? errno : EIO) }
                done += n
            }
        }
    }

    /// The whole file, or its first `limit` bytes.
    func readAll(limit: Int64? = nil) throws -> [UInt8] {
        try faults?.check("read", path)
        let size = try self.size()
        let count = Int(min(size, limit ?? size))
        if let disk = faults?.disk { return try disk.read(fd, at: 0, count: count) }
        // Not zero-filled (a pass over every page for nothing): bytes not read are cut off below.
        var bytes = [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        let got = try bytes.withUnsafeMutableBytes { raw -> Int in
            var done = 0
            while done < count {
                let n = retryingEINTR { systemPread(fd, raw.baseAddress! + done, count - done, off_t(done)) }
                guard n >= 0 else { throw StorageError.io(op: "read", path: path, errno: errno) }
                if n == 0 { break }  // shrank under us; return what is there
                done += n
            }
            return done
        }
        if got < count { bytes.removeLast(count - got) }
        return bytes
    }

    /// Reads up to `into.count` bytes at `offset`; returns how many (0 at the end of the file).
    func pread(into: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        if let disk = faults?.disk {
            let bytes = try disk.read(fd, at: offset, count: into.count)
            bytes.withUnsafeBytes { into.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            return bytes.count
        }
        while true {
            let n = systemPread(fd, into.baseAddress!, into.count, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw StorageError.io(op: "read", path: path, errno: errno) }
            return n
        }
    }

    func size() throws -> Int64 {
        if let disk = faults?.disk { return try disk.size(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StorageError.io(op: "fstat", path: path, errno: errno) }
        return Int64(st.st_size)
    }

    /// Flushes the file's data (and the metadata needed to read it back, such as its size) to stable storage.
    func dataSync() throws {
        try faults?.check("fdatasync", path)
        if let disk = faults?.disk { return try disk.dataSync(fd) }
        #if os(Linux)
        let rc = retryingEINTR { fdatasync(fd) }
        #else
        let rc = retryingEINTR { fsync(fd) }
        #endif
        guard rc == 0 else { throw StorageError.io(op: "fdatasync", path: path, errno: errno) }
    }

    func truncate(to length: Int64) throws {
        try faults?.check("ftruncate", path)
        if let disk = faults?.disk { return try disk.truncate(fd, to: Int(length)) }
        let rc = retryingEINTR { ftruncate(fd, off_t(length)) }
        guard rc == 0 else { throw StorageError.io(op: "ftruncate", path: path, errno: errno) }
    }

    /// Closes the descriptor. Errors from close are ignored: callers that need durability have synced already.
    func close() {
        if let disk = faults?.disk { return disk.close(fd) }
        systemClose(fd)
    }
}

/// Directory operations, with the same error mapping.
enum Directory {
    /// Creates `path` and its missing parents. Fails with ENOTDIR if a component is a regular file.
    static func ensure(_ path: String, faults: FaultInjector? = nil) throws {
        if let disk = faults?.disk { return disk.ensure(path) }
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw StorageError.io(op: "mkdir", path: path, errno: ENOTDIR) }
            return
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, parent != path { try ensure(parent, faults: faults) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw StorageError.io(op: "mkdir", path: path, errno: errno) }
    }

    /// The names in `path`, without "." and "..", in no particular order.
    static func list(_ path: String, faults: FaultInjector? = nil) throws -> [String] {
        if let disk = faults?.disk { return try disk.list(path) }
        guard let dir = opendir(path) else { throw StorageError.io(op: "opendir", path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        errno = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        if errno != 0 { throw StorageError.io(op: "readdir", path: path, errno: errno) }
        return names
    }

    /// Makes creations, renames and removals in `path` durable.
    static func sync(_ path: String, faults: FaultInjector?) throws {
        try faults?.check("fsync-dir", path)
        if let disk = faults?.disk { return try disk.syncDirectory(path) }
        let fd = retryingEINTR { systemOpen(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0) }
        guard fd >= 0 else { throw StorageError.io(op: "open", path: path, errno: errno) }
        defer { systemClose(fd) }
        guard retryingEINTR({ fsync(fd) }) == 0 else { throw StorageError.io(op: "fsync", path: path, errno: errno) }
    }

    static func rename(_ from: String, to: String, faults: FaultInjector? = nil) throws {
        try faults?.check("rename", from)
        if let disk = faults?.disk { return try disk.rename(from, to: to) }
        guard systemRename(from, to) == 0 else { throw StorageError.io(op: "rename", path: from, errno: errno) }
    }

    static func remove(_ path: String, faults: FaultInjector? = nil) throws {
        try faults?.check("unlink", path)
        if let disk = faults?.disk { return try disk.remove(path) }
        guard unlink(path) == 0 else { throw StorageError.io(op: "unlink", path: path, errno: errno) }
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}

private func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let rc = call()
        if rc >= 0 || errno != EINTR { return rc }
    }
}

// File-scope wrappers: inside the types above these names would resolve to the types' own methods.
private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func systemClose(_ fd: Int32) { _ = close(fd) }
private func systemRename(_ from: String, _ to: String) -> Int32 { rename(from, to) }
private func systemPread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int { pread(fd, buffer, count, offset) }

/// Appends a large file's bytes and starts their writeback every `windowBytes`, waiting for the window before:
/// at most about two windows of the file are dirty at any time. Why: on ext4 (data=ordered) the transaction log's
/// fdatasync — many a second — can have to wait for other files' dirty data; a snapshot of a million-node tree
/// (120 MB; 1.2 GB at 10M) left to the kernel's flusher made writes wait hundreds of milliseconds for it while it
/// was written. The final `dataSync` then has little left to do. Not a durability step: only `dataSync` is.
/// Windows of 1 MiB, not 8: with three logs syncing on one disk while a 300 MB file was written at full speed,
/// their fdatasync p99 was 10.6 ms with 8 MiB windows and 2.6 ms with 1 MiB (0.47 ms without the writer;
/// `Tests/bench/fsync_contention.c`, Docs/performance.md §15).
struct WriteBehind {
    static let windowBytes: Int64 = 1 << 20
    let file: PosixFile
    /// File offset of the next byte appended.
    private(set) var offset: Int64
    /// Start of the bytes whose writeback has not been started.
    private var unsubmitted: Int64
    private var previousWindow: (start: Int64, count: Int64)?

    init(file: PosixFile, offset: Int64) {
        self.file = file
        self.offset = offset
        unsubmitted = offset
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try file.writeAll(bytes)
        offset += Int64(bytes.count)
        while offset - unsubmitted >= Self.windowBytes {
            // Hints only: an error (or a platform without sync_file_range) leaves the flusher and fsync to do it.
            if file.faults?.disk == nil {  // a simulated file's descriptor is no kernel's
                _ = warren_writeback(file.fd, unsubmitted, Self.windowBytes, 0)
                if let previous = previousWindow { _ = warren_writeback(file.fd, previous.start, previous.count, 1) }
            }
            previousWindow = (unsubmitted, Self.windowBytes)
            unsubmitted += Self.windowBytes
        }
    }
}
