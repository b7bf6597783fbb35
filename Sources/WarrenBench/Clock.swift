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

/// A small seeded generator (SplitMix64): each worker owns one, so key choice needs no locks and a run is
/// repeatable for a given seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
