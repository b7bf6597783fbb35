import ArgumentParser
import Foundation
import Glibc
import Logging
import ZKFS

/// `zkfs <hosts[/chroot]> <mountpoint> [-o options]`: mounts a ZooKeeper (or Warren) znode tree.
struct ZKFSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zkfs",
        abstract: "Mount a ZooKeeper znode tree as a filesystem (FUSE).",
        discussion: """
            Reads are getData; writes are versioned setData committed on close; a new
            file is created with its first content in one create. See Docs/zkfs.md.

            Mount options (-o, comma-separated; the same in fstab):
              ro                   read-only: any change gets EROFS
              rw                   read-write (default)
              allow_other          other users may use the mount
              uid=N, gid=N         owner of every inode (default: mounting user)
              umask=OCTAL          bits removed from 0666/0777 (default 022)
              session_timeout=MS   session timeout asked for (default 30000)
              credentials=FILE     user:password on its first line (digest auth)
              tls                  TLS to the servers' secureClientPort
              tls_ca=FILE          PEM CA certificates for the server's (implies tls;
                                   default: the system's roots)
              tls_cert=FILE        this client's PEM certificate chain (implies tls)
              tls_key=FILE         its PEM private key (default: in tls_cert)
              data_name=NAME       a directory's own data file (default .data)
              attr_timeout=S       kernel attribute cache time (default 1)
              entry_timeout=S      kernel name cache time (default 1)
              jute_maxbuffer=BYTES the servers' jute.maxbuffer (default 1048575)
              retries=N            ConnectionLoss retries (default 3)
              oneshot_watches      one-shot watches instead of a recursive one
              no_data_cache        every open reads the server
              events_name=NAME     event-stream file in the root (default .events)
              noevents             no event-stream file
              events_queue=N       unread lines per stream reader (default 4096)
              inotify              remote changes raise inotify events (default,
                                   read-only mounts too)
              noinotify            inotify sees only this mount's own changes
              foreground           stay in the foreground, log to stderr (-f)
              debug                libfuse's request trace (-d)
            Ignored (for mount(8)): defaults, auto, noauto, user, users, nouser,
            owner, group, _netdev, nofail, exec, noexec, suid, nosuid, dev, nodev,
            atime, noatime, relatime, norelatime, strictatime, diratime,
            nodiratime, sync, async, dirsync, silent, loud, nomand, x-*, comment=*.
            Unmount with `fusermount3 -u MOUNTPOINT` (or `umount`).
            """)

    @Argument(help: "host:port[,host:port...][/chroot]")
    var connectString: String

    @Argument(help: "An existing directory to mount on.")
    var mountpoint: String

    @Option(name: .shortAndLong, help: "Mount options, comma-separated (may be repeated).")
    var options: [String] = []

    @Flag(name: .shortAndLong, help: "Stay in the foreground, logging to stderr.")
    var foreground = false

    @Flag(name: [.customLong("ro")], help: "Mount read-only (same as -o ro).")
    var readOnly = false

    @Option(help: "Session timeout in milliseconds (same as -o session_timeout=).")
    var sessionTimeout: Int32?

    @Flag(name: .shortAndLong, help: "libfuse request trace and debug logging (implies --foreground).")
    var debug = false

    @Option(help: .hidden)
    var readyFd: Int32?

    mutating func run() throws {
        var mount = MountOptions()
        mount.connectString = connectString
        do {
            for list in options { try mount.apply(mountOptions: list) }
        } catch {
            throw ValidationError("\(error)")
        }
        if readOnly { mount.readOnly = true }
        if let sessionTimeout { mount.sessionTimeoutMs = sessionTimeout }
        if foreground { mount.foreground = true }
        if debug { mount.debug = true; mount.foreground = true }
        guard let resolved = realpath(mountpoint, nil) else {
            throw ValidationError("mount point \(mountpoint): \(String(cString: strerror(errno)))")
        }
        mount.mountpoint = String(cString: resolved)
        free(resolved)
        if mount.uid == 0 && mount.gid == 0 && !options.joined().contains("uid=") {
            mount.uid = getuid()
            mount.gid = getgid()
        }

        if !mount.foreground && readyFd == nil {
            throw ExitCode(Daemon.spawnAndWait(arguments: Array(CommandLine.arguments.dropFirst())))
        }
        let logger = makeLogger(mount)
        let report = ReadyReport(fd: readyFd)
        let fs = ZKFilesystem(options: mount, logger: logger)
        do {
            try blocking { try await fs.connect() }
        } catch {
            report.send("cannot connect to \(mount.connectString): \(error)")
            throw ExitCode(1)
        }
        let result = ZKFSMount.serve(fs, logger: logger) { outcome in
            switch outcome {
            case .success: report.send(nil)
            case let .failure(error): report.send("\(error)")
            }
        }
        try? blocking { await fs.disconnect() }
        if result != 0 && result != -SIGTERM && result != SIGTERM && result != SIGINT && result != SIGHUP {
            throw ExitCode(1)
        }
    }

    private func makeLogger(_ mount: MountOptions) -> Logger {
        let daemon = readyFd != nil && !foreground && !debug
        var logger = Logger(label: "zkfs") { label in
            daemon ? SyslogLogHandler() as LogHandler : StreamLogHandler.standardError(label: label)
        }
        logger.logLevel = mount.debug ? .debug : .info
        return logger
    }
}

/// Runs `body` on a task and waits for it on this (non-pool) thread.
func blocking<T>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let semaphore = DispatchSemaphore(value: 0)
    let box = ResultBox<T>()
    Task.detached {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        semaphore.signal()
    }
    semaphore.wait()
    return try box.result!.get()
}

final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
}
