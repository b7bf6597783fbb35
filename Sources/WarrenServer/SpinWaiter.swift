import WarrenCore
import Atomics
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Keeps a CPU from going idle for a short window after each client request that arrived on its own, so the next
/// one (and the wake-ups inside this one: log thread, peers) is not held up by waking a halted CPU.
///
/// Why: with one request in flight, a request's latency is mostly wake-ups. On virtual machines whose idle vCPUs
/// halt into the hypervisor, each wake-up of a blocked thread costs tens of microseconds (measured on the 2-vCPU
/// benchmark VM: a blocking loopback ping-pong with no work at all takes 81–88 µs at p50, 8 µs while one other
/// thread yields in a loop). SwiftNIO's event loop blocks in `epoll_wait` and cannot spin, so a separate thread does
/// it: it calls `sched_yield` in a loop while the last activity is younger than `windowNs`, which keeps a CPU
/// running and hands it over at once to any thread that wakes there, then parks on a condition until the next
/// `poke`. (An idle-class spinner, SCHED_IDLE, was tried: it bought nothing, 77 µs against 81 µs, because the
/// scheduler treats its CPU as idle and the halted one stays halted.)
///
/// Cost: up to one CPU while single requests keep arriving at gaps shorter than the window, `windowNs` of spinning
/// after the last of them, nothing while idle (timers and quorum traffic do not poke) or under load (`onTickEnd`), and
/// little when other threads keep the CPUs busy (`spinOneSample` backs off). `warren.spinWaitUs=0` turns it off.
final class SpinWaiter: @unchecked Sendable {
    let windowNs: UInt64
    private let lastActivityNs = ManagedAtomic<UInt64>(0)
    private let parked = ManagedAtomic<Bool>(false)
    private let stopped = ManagedAtomic<Bool>(false)
    private let condition = NSCondition()
    /// Times the spinner parked for want of activity (stats and tests).
    let parkCount = ManagedAtomic<Int>(0)

    init(windowUs: Int) {
        precondition(windowUs > 0, "SpinWaiter window must be positive, got \(windowUs) µs")
        windowNs = UInt64(windowUs) * 1000
    }

    static func nowNs() -> UInt64 { Now.nanoseconds(CLOCK_MONOTONIC) }

    func start() {
        let t = Thread { [self] in run() }
        t.stackSize = 64 << 10
        t.start()
    }

    // What the last event-loop ticks brought, under `tickLock` (socket reads can come from several I/O loops).
    private let tickLock = NSLock()
    private var tickPackets = 0
    private var tickOpen = false
    /// Average client packets per tick, in 1/16ths (a moving average over about 8 ticks).
    private var tickAverage16 = 16
    /// The connections of the last 8 socket reads.
    private var recentConnections = [UInt64](repeating: 0, count: 8)
    private var recentNext = 0
    static let tickAverage16Max = 24
    static let recentConnectionsMax = 2

    /// A socket read handed the core `count` packets of `connection`. Returns true for the first read of an
    /// event-loop tick: the caller then schedules `onTickEnd` to run after the tick's I/O.
    func onRead(packets count: Int, connection: UInt64) -> Bool {
        tickLock.lock()
        defer { tickLock.unlock() }
        tickPackets += count
        recentConnections[recentNext] = connection
        recentNext = (recentNext + 1) % recentConnections.count
        if tickOpen { return false }
        tickOpen = true
        return true
    }

    /// The tick's I/O is done. Spinning pays only for one-at-a-time traffic from a client or two, where every
    /// request waits for a wake-up. With more going on, requests overlap, the CPUs stay awake anyway, and a spinner
    /// only takes CPU from the real work (measured on the 2-vCPU VM, 3-server ensemble: always spinning cost
    /// 90 %-read throughput at 16 × 32 about 30 %; spinning whenever ticks were small made an open-loop 7,500
    /// writes/s from 16 sessions 4–8 times worse at p99). So it pokes only while ticks average at most 1.5 packets
    /// and the last reads came from at most two connections. Returns whether it poked.
    @discardableResult
    func onTickEnd() -> Bool {
        tickLock.lock()
        defer { tickLock.unlock() }
        tickOpen = false
        tickAverage16 = tickAverage16 - tickAverage16 / 8 + tickPackets * 2
        tickPackets = 0
        guard tickAverage16 <= Self.tickAverage16Max, distinctRecentConnections() <= Self.recentConnectionsMax else {
            return false
        }
        poke()
        return true
    }

    private func distinctRecentConnections() -> Int {
        var distinct = 0
        for (i, c) in recentConnections.enumerated() where !recentConnections[..<i].contains(c) { distinct += 1 }
        return distinct
    }

    /// Records activity now; wakes the spinner if it parked. Cheap on the hot path: one store and one load unless
    /// the spinner is parked. Callable from any thread.
    func poke() {
        lastActivityNs.store(Self.nowNs(), ordering: .sequentiallyConsistent)
        if parked.load(ordering: .sequentiallyConsistent) { unpark() }
    }

    func stop() {
        stopped.store(true, ordering: .sequentiallyConsistent)
        unpark()
    }

    private func unpark() {
        condition.lock()
        parked.store(false, ordering: .sequentiallyConsistent)
        condition.signal()
        condition.unlock()
    }

    private func recentlyActive() -> Bool {
        Self.nowNs() &- lastActivityNs.load(ordering: .sequentiallyConsistent) < windowNs
    }

    /// Whether the last activity is younger than the window (tests).
    var isWithinWindow: Bool { recentlyActive() }
    /// Whether the spinner is parked waiting for a poke (tests).
    var isParked: Bool { parked.load(ordering: .sequentiallyConsistent) }
    /// Set when the spinner thread has returned after `stop` (tests).
    let exited = ManagedAtomic<Bool>(false)

    private func run() {
        // The name shows in /proc/<pid>/task/*/comm and top -H, where operators see what the CPU is spent on.
        Thread.current.name = "warren-spin"
        defer { exited.store(true, ordering: .sequentiallyConsistent) }
        var backoffMs = 0
        while !stopped.load(ordering: .relaxed) {
            if recentlyActive() {
                if spinOneSample() {
                    backoffMs = 0
                } else {
                    // The other threads keep the CPUs busy: they do not go idle, so spinning saves no wake-ups
                    // and only takes CPU from real work. Stay off, longer each time the CPUs are still busy.
                    backoffMs = min(max(backoffMs * 2, Self.busyBackoffMsMin), Self.busyBackoffMsMax)
                    busyBackoffCount.wrappingIncrement(ordering: .relaxed)
                    sleep(ms: backoffMs)
                }
                continue
            }
            // Publish "parked" before the last look at the clock: a poke after that look sees the flag and wakes
            // us, a poke before it is seen by the look (both sides sequentially consistent).
            parked.store(true, ordering: .sequentiallyConsistent)
            if recentlyActive() || stopped.load(ordering: .sequentiallyConsistent) {
                parked.store(false, ordering: .sequentiallyConsistent)
                continue
            }
            parkCount.wrappingIncrement(ordering: .relaxed)
            condition.lock()
            while parked.load(ordering: .sequentiallyConsistent) && !stopped.load(ordering: .sequentiallyConsistent) {
                condition.wait()
            }
            condition.unlock()
        }
    }

    static let sampleNs: UInt64 = 2_000_000
    static let busyBackoffMsMin = 10
    static let busyBackoffMsMax = 160
    /// Times a sample found the CPUs busy and the spinner backed off (stats and tests).
    let busyBackoffCount = ManagedAtomic<Int>(0)

    /// Spins until activity stops or a sample interval has passed. Returns false when the spinner got less than
    /// a third of a CPU over a long enough sample, i.e. other threads keep the CPUs busy.
    private func spinOneSample() -> Bool {
        let wall0 = Self.nowNs()
        let cpu0 = Now.nanoseconds(CLOCK_THREAD_CPUTIME_ID)
        var wall = wall0
        repeat {
            sched_yield()
            wall = Self.nowNs()
        } while wall &- wall0 < Self.sampleNs && recentlyActive() && !stopped.load(ordering: .relaxed)
        let elapsed = wall &- wall0
        if elapsed < Self.sampleNs / 2 { return true }
        return (Now.nanoseconds(CLOCK_THREAD_CPUTIME_ID) &- cpu0) * 3 >= elapsed
    }

    /// Sleeps `ms`, or less if `stop` is called; pokes do not shorten it. Timed on the monotonic clock, in short
    /// relative sleeps that look at `stopped` between them: a condition wait with a deadline is timed on the wall
    /// clock, and a wall-clock step backwards would stretch it by the step.
    private func sleep(ms: Int) {
        let end = Self.nowNs() + UInt64(ms) * 1_000_000
        while !stopped.load(ordering: .sequentiallyConsistent) {
            let now = Self.nowNs()
            guard now < end else { return }
            usleep(useconds_t(min(end - now, Self.sleepSliceNs) / 1000))
        }
    }

    static let sleepSliceNs: UInt64 = 10_000_000
}
