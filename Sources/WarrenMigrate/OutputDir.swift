import Foundation

/// The directory a migration writes into: checked before any input is read, replaced only with `force`.
enum OutputDir {
    /// Fails unless `dir` is missing or empty, or `force` is set. With `force`, the old `version-2` folder is
    /// removed first: a snapshot or log left in it with a higher zxid would otherwise win over the migrated one.
    ///
    /// `inputs` are the directories the migration reads: the output may not be one of them, or `force` would
    /// delete the files about to be read.
    static func prepare(_ dir: String, force: Bool, flag: String, inputs: [String]) throws {
        let resolved = URL(fileURLWithPath: dir).resolvingSymlinksInPath().standardizedFileURL.path
        for input in inputs where URL(fileURLWithPath: input).resolvingSymlinksInPath().standardizedFileURL.path == resolved {
            throw MigrationError("\(flag) \(dir) is also an input directory; write to another one")
        }
        let fm = FileManager.default
        let entries = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
        if !entries.isEmpty {
            guard force else {
                throw MigrationError("\(dir) is not empty; pass --force to replace its version-2 folder (\(flag))")
            }
            let versioned = (dir as NSString).appendingPathComponent("version-2")
            if fm.fileExists(atPath: versioned) {
                do { try fm.removeItem(atPath: versioned) } catch { throw MigrationError("cannot clear \(versioned): \(error.localizedDescription)") }
            }
        }
    }

    /// Writes `bytes` as `dir/name` durably: to a temp file, fsynced, renamed into place, and the folder fsynced, so
    /// a crash leaves the complete file or none.
    static func writeDurably(_ bytes: [UInt8], dir: String, name: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw MigrationError("cannot create \(dir): \(error.localizedDescription)")
        }
        let path = (dir as NSString).appendingPathComponent(name)
        let temp = path + ".tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw MigrationError("cannot create \(temp): \(String(cString: strerror(errno)))") }
        var offset = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return false }
                offset += n
            }
            return fsync(fd) == 0
        }
        close(fd)
        guard ok, rename(temp, path) == 0 else {
            unlink(temp)
            throw MigrationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let dirFd = open(dir, O_RDONLY)
        if dirFd >= 0 {
            fsync(dirFd)
            close(dirFd)
        }
    }
}

/// Progress lines for a terminal: carriage-return updates on stderr, only when stderr is a tty, at most a few a
/// second. Silent otherwise, so logs and pipes stay clean.
// Sendable: an import or export runs on one thread, the only one that calls `update` and `finish`.
public final class Progress: @unchecked Sendable {
    private let enabled: Bool
    private var last = ContinuousClock.now - .seconds(1)
    private var shown = false

    public init(enabled: Bool = isatty(2) != 0) { self.enabled = enabled }

    public func update(_ line: @autoclosure () -> String) {
        guard enabled, ContinuousClock.now - last >= .milliseconds(200) else { return }
        last = ContinuousClock.now
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line()).utf8))
        shown = true
    }

    public func finish() {
        if enabled && shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}
