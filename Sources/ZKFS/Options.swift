/// Everything a mount is configured with. Built from the command line or from mount(8)'s `-o` list
/// (see `apply(mountOptions:)`); pure data, no I/O.
public struct MountOptions: Equatable, Sendable {
    /// `host:port[,host:port...][/chroot]`.
    public var connectString: String = "127.0.0.1:2181"
    public var mountpoint: String = ""
    public var readOnly = false
    public var allowOther = false
    /// Owner and group every inode shows.
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0
    /// Permission bits removed from 0o666 (files) and 0o777 (directories).
    public var umask: UInt32 = 0o022
    public var sessionTimeoutMs: Int32 = 30_000
    /// A file holding `user:password` for the digest scheme, added to every session.
    public var credentialsFile: String?
    /// TLS to the servers' `secureClientPort` (`tls`, or implied by any `tls_*` option).
    public var tls = false
    /// PEM certificates that must have signed the server's certificate; nil = the system's roots.
    public var tlsCAFile: String?
    /// This client's certificate chain (PEM) and its private key (PEM; may be the same file), for servers that
    /// require one (`ssl.clientAuth=need`, ZooKeeper's default).
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
    /// The reserved name of a directory's own data.
    public var dataName = ".data"
    public var foreground = false
    /// libfuse's request trace on stderr.
    public var debug = false
    /// How long the kernel may cache attributes and names, in seconds. Watches invalidate earlier.
    public var attrTimeoutSeconds: Double = 1.0
    public var entryTimeoutSeconds: Double = 1.0
    /// The server's `jute.maxbuffer`: a request carrying data must fit in it.
    public var juteMaxBufferBytes = 1_048_575
    /// How often a request failing with ConnectionLoss is retried before the kernel gets EIO.
    public var retriesMax = 3
    /// Use one-shot watches left by every read instead of one persistent recursive watch (for servers older
    /// than ZooKeeper 3.6, which zkfs also detects by itself).
    public var oneShotWatches = false
    /// Serve read-only opens from the watch-invalidated data cache (`no_data_cache` turns it off: every open then
    /// reads the server, at a round trip's cost).
    public var dataCache = true
    /// The name of the event-stream file in the mount's root; nil: no event stream (`noevents`).
    public var eventsName: String? = ".events"
    /// Lines an event-stream reader may have unread before the oldest are dropped.
    public var eventsQueueLines = 4096
    /// Replay remote changes through the mount so that inotify watchers see them (on unless `noinotify`; read-only
    /// mounts too, see `kernelReadOnly`).
    public var inotify = true

    public init() {}

    /// The largest data a node at `serverPathBytes` (the path's UTF-8 length, chroot included) can be given:
    /// the request frame (header, path, data and version fields) must fit in `juteMaxBufferBytes`.
    public func dataBytesMax(serverPathBytes: Int) -> Int {
        max(0, juteMaxBufferBytes - 64 - serverPathBytes)
    }

    /// The chroot part of `connectString` ("" if none).
    public var chroot: String {
        guard let slash = connectString.firstIndex(of: "/") else { return "" }
        let root = String(connectString[slash...])
        return root == "/" ? "" : root
    }
}

public struct OptionError: Error, Equatable, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension MountOptions {
    /// Options mount(8) and fstab pass that mean nothing to zkfs (FUSE mounts are already nosuid,nodev).
    static let ignoredOptions: Set<String> = [
        "defaults", "auto", "noauto", "user", "users", "nouser", "owner", "group", "_netdev", "nofail", "rw",
        "exec", "noexec", "suid", "nosuid", "dev", "nodev", "atime", "noatime", "relatime", "norelatime",
        "strictatime", "diratime", "nodiratime", "async", "sync", "dirsync", "silent", "loud", "nomand",
    ]

    /// Applies a mount(8)-style comma-separated list (`ro,uid=1000,session_timeout=10000`). Later options win.
    /// - Throws: `OptionError` naming an unknown option or a bad value.
    public mutating func apply(mountOptions list: String) throws {
        for item in list.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = item.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            let value = parts.count == 2 ? String(parts[1]) : nil
            try apply(key: key, value: value)
        }
    }

    private mutating func apply(key: String, value: String?) throws {
        func required() throws -> String {
            guard let value, !value.isEmpty else { throw OptionError("option \(key) needs a value (\(key)=...)") }
            return value
        }
        func number<T: FixedWidthInteger>(_: T.Type, radix: Int = 10) throws -> T {
            let text = try required()
            guard let n = T(text, radix: radix) else { throw OptionError("option \(key)=\(text): not a number") }
            return n
        }
        func seconds() throws -> Double {
            let text = try required()
            guard let n = Double(text), n >= 0, n.isFinite else {
                throw OptionError("option \(key)=\(text): not a number of seconds")
            }
            return n
        }
        switch key {
        case "ro": readOnly = true
        case "rw": readOnly = false
        case "allow_other": allowOther = true
        case "uid": uid = try number(UInt32.self)
        case "gid": gid = try number(UInt32.self)
        case "umask":
            umask = try number(UInt32.self, radix: 8)
            guard umask <= 0o777 else { throw OptionError("umask=\(value ?? "") is beyond 777") }
        case "session_timeout":
            sessionTimeoutMs = try number(Int32.self)
            guard sessionTimeoutMs > 0 else { throw OptionError("session_timeout must be > 0 milliseconds") }
        case "credentials": credentialsFile = try required()
        case "tls": tls = true
        case "tls_ca": tlsCAFile = try required(); tls = true
        case "tls_cert": tlsCertFile = try required(); tls = true
        case "tls_key": tlsKeyFile = try required(); tls = true
        case "data_name":
            let name = try required()
            guard !name.contains("/"), name != ".", name != ".." else {
                throw OptionError("data_name=\(name) must be a plain file name")
            }
            dataName = name
        case "oneshot_watches": oneShotWatches = true
        case "no_data_cache": dataCache = false
        case "events_name":
            let name = try required()
            guard !name.contains("/"), name != ".", name != "..", !name.contains("@") else {
                throw OptionError("events_name=\(name) must be a plain file name without @")
            }
            eventsName = name
        case "noevents": eventsName = nil
        case "events_queue":
            eventsQueueLines = try number(Int.self)
            guard (1...1_000_000).contains(eventsQueueLines) else { throw OptionError("events_queue must be 1...1000000 lines") }
        case "inotify": inotify = true
        case "noinotify": inotify = false
        case "foreground": foreground = true
        case "debug": debug = true
        case "attr_timeout": attrTimeoutSeconds = try seconds()
        case "entry_timeout": entryTimeoutSeconds = try seconds()
        case "jute_maxbuffer":
            juteMaxBufferBytes = try number(Int.self)
            guard juteMaxBufferBytes > 1024 else { throw OptionError("jute_maxbuffer must be > 1024 bytes") }
        case "retries":
            retriesMax = try number(Int.self)
            guard (0...100).contains(retriesMax) else { throw OptionError("retries must be 0...100") }
        default:
            if Self.ignoredOptions.contains(key) || key.hasPrefix("x-") || key.hasPrefix("comment=") { return }
            throw OptionError("unknown option \(key)")
        }
    }

    /// Whether the kernel itself is told the mount is read-only. Not when remote changes are replayed: the VFS
    /// would refuse the replayed calls with EROFS before they reach zkfs, so zkfs enforces `ro` itself (every
    /// request that would change something gets EROFS, see `ZKFilesystem.checkWritable`).
    public var kernelReadOnly: Bool { readOnly && !inotify }

    /// The `-o` list given to libfuse: the source shown in the mount table, the subtype, kernel-side permission
    /// checks, and `ro` (see `kernelReadOnly`) and `allow_other` when asked for.
    public var fuseOptionList: String {
        // libfuse splits its option list at commas; a backslash keeps one inside a value.
        let source = connectString.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: ",", with: "\\,")
        var list = ["fsname=\(source)", "subtype=zkfs", "default_permissions"]
        if kernelReadOnly { list.append("ro") }
        if allowOther { list.append("allow_other") }
        return list.joined(separator: ",")
    }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Substring(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
