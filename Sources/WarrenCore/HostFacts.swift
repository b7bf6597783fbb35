/// Facts about this process and its directories that the four-letter words and the AdminServer report. The shell
/// reads them (files, `/proc`, the environment: `HostFacts+Gather.swift`) and hands them to the core with the
/// request that reports them, so the core itself reads nothing from the operating system and a simulated server
/// can hand in whatever it likes.
public struct HostFacts: Sendable {
    /// Open file descriptors of this process; -1 when unknown.
    public var openFileDescriptors = -1
    /// The process's soft limit on open files; -1 when unknown.
    public var fileDescriptorLimit: Int64 = -1
    /// Resident set size in bytes; -1 when unknown.
    public var residentBytes = -1
    /// Bytes in regular files under dataDir and under dataLogDir.
    public var dataDirBytes: Int64 = 0
    public var dataLogDirBytes: Int64 = 0
    /// envi's rows after `zookeeper.version` (host, OS, user, process id, cores, memory).
    public var environment: [(String, String)] = []
    /// The newest snapshot file in dataDir: its zxid and modification time (wall clock, seconds); nil if none.
    public var lastSnapshot: (zxid: Int64, timestampSeconds: Int64)?

    public init() {}

    /// Which facts to read: each part costs differently (a directory walk, a few `/proc` reads).
    public struct Parts: OptionSet, Sendable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// File descriptors, their limit, resident memory.
        public static let process = Parts(rawValue: 1)
        /// The sizes of dataDir and dataLogDir.
        public static let directories = Parts(rawValue: 2)
        public static let environment = Parts(rawValue: 4)
        public static let lastSnapshot = Parts(rawValue: 8)
    }

    /// What the four-letter word `word` reports of these facts.
    package static func parts(forFourLetterWord word: String) -> Parts {
        switch word {
        case "mntr": return .process
        case "conf", "dirs": return .directories
        case "envi": return .environment
        default: return []
        }
    }
}
