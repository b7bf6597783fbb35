/// One reading of the two clocks, the only way time enters `ServerCore` (and through it the session tracker and the
/// data tree). The shell reads it (`Now.read()`, in WarrenServer); the core never reads a clock.
///
/// Contract — each field has one use, and the two are never mixed:
/// - `monoMs` (CLOCK_MONOTONIC) times every interval and deadline: session expiry and touches, held handshakes,
///   the container-check period, request latencies, uptime. It never jumps when the wall clock is set or stepped;
///   its origin is arbitrary (boot), so only differences between two readings mean anything.
/// - `wallMs` (CLOCK_REALTIME, milliseconds since the Unix epoch) is what people read as a date: a transaction's
///   `timeMs` (znodes' ctime and mtime), the ages of TTL and container nodes (measured against mtime, as ZooKeeper
///   does), connection dates and expiry dates shown by four-letter words, the seed of session ids. It may step
///   backwards or forwards at any moment, so it never times anything.
public struct Now: Equatable, Sendable {
    public let monoMs: Int64
    public let wallMs: Int64

    public init(monoMs: Int64, wallMs: Int64) {
        self.monoMs = monoMs
        self.wallMs = wallMs
    }

    /// The wall-clock date at which monotonic instant `monoMs` falls (or fell), as far as the clocks agree now.
    public func wallMs(atMono monoMs: Int64) -> Int64 { wallMs + (monoMs - self.monoMs) }
}
