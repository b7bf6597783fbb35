#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WarrenJute

/// Counters one engine thread collects; merged across threads at the end.
struct RunStats {
    var histogram = LatencyHistogram()
    /// Successful measured ops completed inside the measurement window.
    var ops: UInt64 = 0
    /// Error replies inside the window, by raw error code.
    var errors: [Int32: UInt64] = [:]
    var connectionErrors = 0
    var connectionErrorSamples: [String] = []
    /// Open loop: scheduled requests inside the window that were not sent (their connection was full).
    var dropped: UInt64 = 0

    mutating func merge(_ o: RunStats) {
        histogram.merge(o.histogram)
        ops += o.ops
        dropped += o.dropped
        for (k, v) in o.errors { errors[k, default: 0] += v }
        connectionErrors += o.connectionErrors
        connectionErrorSamples += o.connectionErrorSamples.prefix(max(0, 5 - connectionErrorSamples.count))
    }

    mutating func noteConnectionError(_ message: String) {
        connectionErrors += 1
        if connectionErrorSamples.count < 5 { connectionErrorSamples.append(message) }
    }
}

/// The phases of a run, on the monotonic clock: ops completing in `measureStartNs...stopNs` are counted; no request
/// is issued after `stopNs`; requests still unanswered at `giveUpNs` are abandoned.
struct Window {
    var measureStartNs: UInt64
    var stopNs: UInt64
    var giveUpNs: UInt64

    /// A window with no measurement that lasts until everything is answered or `limitSeconds` pass (setup, cleanup).
    static func unmeasured(limitSeconds: Double) -> Window {
        let now = Clock.nowNs()
        let end = now + Clock.ns(seconds: limitSeconds)
        return Window(measureStartNs: .max, stopNs: end, giveUpNs: end)
    }
}

/// Issues requests for one workload. All calls come from the engine's thread, in the order events happen.
protocol LoadDriver: AnyObject {
    /// Called once before the loop: issue the first requests.
    func start(_ engine: Engine)
    /// A reply (success or error) to a request this driver issued. Issue follow-ups only if `engine.isIssuing`.
    func replied(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection,
        _ engine: Engine)
    func notified(_ event: WatcherEvent, on conn: BenchConnection, _ engine: Engine)
    /// `conn` is gone, with its requests in flight.
    func lost(_ conn: BenchConnection, _ engine: Engine)
    /// True when the driver will issue nothing more, so the loop may end as soon as nothing is in flight.
    var isFinished: Bool { get }
    /// Open loop: when the next request is due (the loop wakes then), or nil.
    var nextDueNs: UInt64? { get }
    /// Open loop: issue every request due by `engine.nowNs`.
    func issueDue(_ engine: Engine)
}

extension LoadDriver {
    func notified(_ event: WatcherEvent, on conn: BenchConnection, _ engine: Engine) {}
    func lost(_ conn: BenchConnection, _ engine: Engine) {}
    var isFinished: Bool { false }
    var nextDueNs: UInt64? { nil }
    func issueDue(_ engine: Engine) {}
}

/// One thread's poll(2) loop over its connections: reads replies, hands them to the driver, records latency and
/// writes what the driver queued, until the window closes.
final class Engine {
    let connections: [BenchConnection]
    let window: Window
    private(set) var stats = RunStats()
    /// The time of the event being handled (the read that delivered it); drivers stamp new requests with it.
    private(set) var nowNs: UInt64

    init(connections: [BenchConnection], window: Window) {
        self.connections = connections
        self.window = window
        nowNs = Clock.nowNs()
    }

    var isIssuing: Bool { nowNs < window.stopNs }
    var openConnections: [BenchConnection] { connections.filter(\.isOpen) }

    /// Counts a request that was never sent, if it was scheduled inside the measured window.
    func recordDropped(scheduledNs: UInt64) {
        guard scheduledNs >= window.measureStartNs && scheduledNs <= window.stopNs else { return }
        stats.dropped += 1
    }

    func recordOp(latencyNs: UInt64) {
        guard nowNs >= window.measureStartNs && nowNs <= window.stopNs else { return }
        stats.ops += 1
        stats.histogram.record(latencyNs)
    }

    /// Runs `driver` until the window's stop time has passed and nothing is in flight (or the driver is finished
    /// and nothing is in flight), or the give-up time, or every connection is lost.
    func run(_ driver: LoadDriver) {
        nowNs = Clock.nowNs()
        driver.start(self)
        let scratchBytes = 256 * 1024
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: scratchBytes, alignment: 16)
        defer { scratch.deallocate() }
        var fds: [pollfd] = []
        var polled: [BenchConnection] = []
        var lastPingCheckNs = nowNs
        while true {
            nowNs = Clock.nowNs()
            driver.issueDue(self)
            flushAll(driver)
            nowNs = Clock.nowNs()
            let open = connections.filter(\.isOpen)
            let inflight = open.reduce(0) { $0 + $1.inflight.count }
            if open.isEmpty || nowNs >= window.giveUpNs { return }
            if inflight == 0 && (nowNs >= window.stopNs || driver.isFinished) { return }
            if nowNs - lastPingCheckNs > 500_000_000 {
                lastPingCheckNs = nowNs
                pingIdle(open)
            }
            fds.removeAll(keepingCapacity: true)
            polled.removeAll(keepingCapacity: true)
            for c in open {
                let events = POLLIN | (c.hasPendingOutput ? POLLOUT : 0)
                fds.append(pollfd(fd: c.pollDescriptor, events: Int16(events), revents: 0))
                polled.append(c)
            }
            let untilStop = nowNs < window.stopNs ? window.stopNs - nowNs : window.giveUpNs - nowNs
            var waitNs = min(50_000_000, max(1_000_000, untilStop))
            if let due = driver.nextDueNs, nowNs < window.stopNs { waitNs = min(waitNs, due > nowNs ? due - nowNs : 0) }
            // ppoll for sub-millisecond waits: an open-loop schedule must not be quantised to poll's milliseconds.
            var ts = timespec(tv_sec: Int(waitNs / 1_000_000_000), tv_nsec: Int(waitNs % 1_000_000_000))
            let ready = Engine.ppoll(&fds, nfds_t(fds.count), &ts)
            if ready <= 0 { continue }
            for (i, c) in polled.enumerated() where fds[i].revents != 0 && c.isOpen {
                do {
                    try c.receive(scratch: scratch) { incoming, at in
                        self.nowNs = at
                        self.handle(incoming, on: c, driver)
                    }
                } catch {
                    fail(c, error, driver)
                }
            }
        }
    }

    #if canImport(Glibc)
    private typealias PPoll = @convention(c) (
        UnsafeMutablePointer<pollfd>?, nfds_t, UnsafePointer<timespec>?, UnsafeRawPointer?
    ) -> Int32
    /// glibc's ppoll (nanosecond timeout); the Swift Glibc module hides it behind _GNU_SOURCE, so look it up.
    /// Safe to share: written once by the (thread-safe) lazy initialization of a static, never again, and it
    /// points at code.
    private nonisolated(unsafe) static let ppollSymbol: UnsafeMutableRawPointer? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "ppoll")
    #endif

    /// poll(2) with a nanosecond timeout where the platform has one, else rounded up to milliseconds.
    static func ppoll(_ fds: UnsafeMutablePointer<pollfd>, _ count: nfds_t, _ ts: UnsafePointer<timespec>) -> Int32 {
        #if canImport(Glibc)
        if let f = ppollSymbol { return unsafeBitCast(f, to: PPoll.self)(fds, count, ts, nil) }
        #endif
        let ms = ts.pointee.tv_sec * 1000 + (ts.pointee.tv_nsec + 999_999) / 1_000_000
        return poll(fds, count, Int32(ms))
    }

    private func handle(_ incoming: Incoming, on c: BenchConnection, _ driver: LoadDriver) {
        switch incoming {
        case let .reply(request, header, body):
            let inWindow = nowNs >= window.measureStartNs && nowNs <= window.stopNs
            if inWindow {
                if header.err != 0 {
                    stats.errors[header.err, default: 0] += 1
                } else if request.measured {
                    stats.ops += 1
                    stats.histogram.record(nowNs &- request.sentNs)
                }
            }
            var reader = body
            driver.replied(request, header, body: &reader, on: c, self)
        case let .notification(event):
            driver.notified(event, on: c, self)
        }
    }

    private func flushAll(_ driver: LoadDriver) {
        for c in connections where c.isOpen && c.hasPendingOutput {
            do { try c.flush() } catch { fail(c, error, driver) }
        }
    }

    private func pingIdle(_ open: [BenchConnection]) {
        for c in open {
            let idleLimitNs = UInt64(max(1, c.sessionTimeoutMs / 3)) * 1_000_000
            if nowNs &- c.lastSendNs > idleLimitNs { c.sendPing(nowNs: nowNs) }
        }
    }

    private func fail(_ c: BenchConnection, _ error: Error, _ driver: LoadDriver) {
        guard c.isOpen else { return }
        stats.noteConnectionError("\(error)")
        c.close(sayGoodbye: false)
        driver.lost(c, self)
    }

    /// Ends every open session with closeSession, waits up to `limitSeconds` for the answers, then closes the
    /// sockets.
    static func closeSessions(_ connections: [BenchConnection], limitSeconds: Double = 2) {
        let open = connections.filter(\.isOpen)
        guard !open.isEmpty else { return }
        let engine = Engine(connections: open, window: .unmeasured(limitSeconds: limitSeconds))
        engine.run(CloseDriver())
        for c in open { c.close(sayGoodbye: false) }
    }
}

/// Sends one closeSession per connection and is finished.
private final class CloseDriver: LoadDriver {
    func start(_ engine: Engine) {
        for c in engine.openConnections { c.send(.closeSession, tag: 0, measured: false, nowNs: engine.nowNs) }
    }
    func replied(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection,
        _ engine: Engine) {}
    var isFinished: Bool { true }
}
