#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The open-file limit: every client session holds a socket, so the soft RLIMIT_NOFILE (often 1024) caps the
/// sessions a server can hold. At start-up the soft limit is raised to the hard one, and the result logged, so
/// 10,000 sessions need only a hard limit above that (systemd's default hard limit is 524288).
enum FileLimit {
    static func raise(logger: Logger) {
        var lim = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0 else { return }
        let before = lim.rlim_cur
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) != 0 {
                logger.warning("cannot raise the open-file limit", metadata: ["soft": "\(before)", "hard": "\(lim.rlim_max)"])
                return
            }
            logger.info("raised the open-file limit (RLIMIT_NOFILE) to the hard limit",
                        metadata: ["from": "\(before)", "to": "\(lim.rlim_cur)"])
        } else {
            logger.info("open-file limit (RLIMIT_NOFILE)", metadata: ["soft": "\(before)", "hard": "\(lim.rlim_max)"])
        }
    }
}
