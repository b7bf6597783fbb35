import WarrenCore
import Foundation
import WarrenStorage

#if canImport(Glibc)
import Glibc
#endif

extension HostFacts {
    /// Reads `parts` from the operating system for the server with these data directories. Call it off the core thread:
    /// `directories` walks both data directories.
    static func gather(_ parts: Parts, dataDir: String, dataLogDir: String) -> HostFacts {
        var f = HostFacts()
        if parts.contains(.process) {
            f.openFileDescriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
            var limit = rlimit()
            if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { f.fileDescriptorLimit = Int64(clamping: limit.rlim_cur) }
            f.residentBytes = residentBytes()
        }
        if parts.contains(.directories) {
            f.dataDirBytes = directoryBytes(dataDir)
            f.dataLogDirBytes = directoryBytes(dataLogDir)
        }
        if parts.contains(.environment) { f.environment = environmentRows }
        if parts.contains(.lastSnapshot) {
            let dir = (dataDir as NSString).appendingPathComponent("version-2")
            if let newest = try? SnapshotStore.newestSnapshotName(in: dir),
               let modified = try? FileManager.default.attributesOfItem(
                   atPath: (dir as NSString).appendingPathComponent(newest.name))[.modificationDate] as? Date {
                f.lastSnapshot = (newest.zxid, Int64(modified.timeIntervalSince1970))
            }
        }
        return f
    }

    /// The process's resident set size in bytes (`/proc/self/statm`); -1 where that file is missing.
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return -1 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Bytes in the regular files under `path` (0 for an empty path or one that cannot be read).
    static func directoryBytes(_ path: String) -> Int64 {
        guard !path.isEmpty, let e = FileManager.default.enumerator(atPath: path) else { return 0 }
        var total: Int64 = 0
        while let f = e.nextObject() as? String {
            let attrs = try? FileManager.default.attributesOfItem(atPath: (path as NSString).appendingPathComponent(f))
            if (attrs?[.type] as? FileAttributeType) == .typeRegular { total += (attrs?[.size] as? Int64) ?? 0 }
        }
        return total
    }

    /// envi's rows after the version, read once: none of them changes while the process runs (the host name
    /// lookup can take a while).
    static let environmentRows: [(String, String)] = {
        let info = ProcessInfo.processInfo
        var uts = utsname()
        uname(&uts)
        let machine = withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return [
            ("host.name", info.hostName),
            ("os.name", "Linux"),
            ("os.arch", machine == "x86_64" ? "amd64" : machine),
            ("user.home", info.environment["HOME"] ?? ""),
            ("os.version", info.operatingSystemVersionString),
            ("user.name", info.environment["USER"] ?? ""),
            ("user.dir", FileManager.default.currentDirectoryPath),
            ("process.id", "\(info.processIdentifier)"),
            ("warren.cores", "\(info.activeProcessorCount)"),
            ("os.memory.total", "\(info.physicalMemory / (1 << 20))MB"),
        ]
    }()
}
