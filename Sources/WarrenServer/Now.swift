#if canImport(Glibc)
import WarrenCore
import Glibc
#endif

extension Now {
    /// Both clocks, now. Shell only: the core is handed readings, never reads a clock.
    static func read() -> Now {
        Now(monoMs: Int64(nanoseconds(CLOCK_MONOTONIC) / 1_000_000),
            wallMs: Int64(nanoseconds(CLOCK_REALTIME) / 1_000_000))
    }

    /// `clock`'s reading in nanoseconds (monotonic or wall time, or a thread's or the process's CPU time).
    static func nanoseconds(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
