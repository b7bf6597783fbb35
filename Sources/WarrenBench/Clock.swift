#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic time and the generator's own CPU usage. The only clocks WarrenBench reads.
enum Clock {
    /// Nanoseconds on the monotonic clock; only differences are meaningful.
    @inline(__always)
    static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    static func ns(seconds: Double) -> UInt64 { UInt64(Swift.max(0, seconds) * 1e9) }
}

/// User and system CPU seconds this process has used so far (all threads), from getrusage.
public struct CPUTime: Sendable, Equatable, Codable {
    public var userSeconds: Double
    public var systemSeconds: Double

    public init(userSeconds: Double, systemSeconds: Double) {
        self.userSeconds = userSeconds
        self.systemSeconds = systemSeconds
    }

    public var totalSeconds: Double { userSeconds + systemSeconds }

    static func now() -> CPUTime {
        var ru = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &ru)
        #else
        getrusage(RUSAGE_SELF, &ru)
        #endif
        func sec(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return CPUTime(userSeconds: sec(ru.ru_utime), systemSeconds: sec(ru.ru_stime))
    }

    static func - (a: CPUTime, b: CPUTime) -> CPUTime {
        CPUTime(userSeconds: a.userSeconds - b.userSeconds, systemSeconds: a.systemSeconds - b.systemSeconds)
    }
}
