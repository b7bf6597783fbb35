#if canImport(Glibc)
import Glibc
#endif

/// One reading of the two clocks, the only way time enters `ServerCore` (and through it the session tracker and the
/// data tree). The shell reads it (`Now.read()`); the core never reads a clock.
///
/// Contract — each field has one use, and the two are never mixed:
/// - `monoMs` (CLOCK_MONOTONIC) times every interval and deadline: session expiry and touches, held handshakes,
///   the container-check period, request latencies, uptime. It never jumps when the wall clock is set or stepped;
///   its origin is arbitrary (boot), so only differences between two readings mean anything.
/// - `wallMs` (CLOCK_REALTIME, milliseconds since the Unix epoch) is what people read as a date: a transaction's
///   `timeMs` (znodes' ctime and mtime), the ages of TTL and container nodes (measured against mtime, as ZooKeeper
///   does), connection dates and expiry dates shown by four-letter words, the seed of session ids. It may step
///   backwards or forwards at any moment, so it never times anything.
struct Now: Equatable, Sendable {
    let monoMs: Int64
    let wallMs: Int64

    /// Both clocks, now. Shell only.
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

    /// The wall-clock date at which monotonic instant `monoMs` falls (or fell), as far as the clocks agree now.
    func wallMs(atMono monoMs: Int64) -> Int64 { wallMs + (monoMs - self.monoMs) }
}
