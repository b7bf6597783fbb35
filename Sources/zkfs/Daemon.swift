import Foundation
import Glibc

/// Going to the background without fork (the process already has threads): the command re-runs itself as a
/// new session leader with `--ready-fd`, and waits until that child reports the mount ready or failed.
enum Daemon {
    /// Spawns `zkfs <arguments> --ready-fd 3` detached, waits for its report, and returns the exit code for
    /// this process: 0 once mounted, 1 (after printing why) if the child failed.
    static func spawnAndWait(arguments: [String]) -> Int32 {
        var pipeFds: [Int32] = [0, 0]
        // Close-on-exec: the child must hold only its fd 3 (dup2 clears the flag there), or the read below
        // would never see end-of-file.
        guard pipe(&pipeFds) == 0 else { return fail("pipe: \(String(cString: strerror(errno)))") }
        for fd in pipeFds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFds[1], 3)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        let setsid: Int16 = 0x80  // POSIX_SPAWN_SETSID: leave the caller's session and terminal
        posix_spawnattr_setflags(&attributes, setsid)

        let argv = (["zkfs"] + arguments + ["--ready-fd", "3"]).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, environ)
        close(pipeFds[1])
        guard spawned == 0 else { return fail("cannot start zkfs: \(String(cString: strerror(spawned)))") }

        var report = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(pipeFds[0], &chunk, chunk.count)
            if n > 0 { report += chunk[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        close(pipeFds[0])
        let text = String(decoding: report, as: UTF8.self)
        if text.hasPrefix("ready") { return 0 }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return fail(text.isEmpty ? "zkfs exited before mounting (run with -f to see why)" : text)
    }

    private static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("zkfs: \(message.trimmingCharacters(in: .whitespacesAndNewlines))\n".utf8))
        return 1
    }
}

/// The child's side of the report: "ready" or the reason it failed, once, then the pipe closes.
// Sendable: `fd` is taken under `lock`, so only the first report is written, whichever thread sends it.
final class ReadyReport: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32?

    init(fd: Int32?) { self.fd = fd }

    /// nil means mounted. Only the first call writes to the pipe.
    func send(_ failure: String?) {
        let taken: Int32? = lock.withLock {
            defer { fd = nil }
            return fd
        }
        guard let fd = taken else {
            if let failure { FileHandle.standardError.write(Data("zkfs: \(failure)\n".utf8)) }
            return
        }
        let text = failure.map { "error: \($0)\n" } ?? "ready\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }
}
