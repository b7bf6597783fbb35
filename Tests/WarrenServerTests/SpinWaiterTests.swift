import Atomics
import Foundation
import XCTest

@testable import WarrenCore
@testable import WarrenServer

final class SpinWaiterTests: XCTestCase {
    func testTicksOfOnePacketOpenTheWindow() {
        let spin = SpinWaiter(windowUs: 60_000_000)
        XCTAssertFalse(spin.isWithinWindow, "no activity yet")
        XCTAssertTrue(spin.tick(1))
        XCTAssertTrue(spin.isWithinWindow)
    }

    func testBatchedTicksDoNotPokeUntilTheAverageFallsBack() {
        let spin = SpinWaiter(windowUs: 1000)
        for _ in 0..<32 { XCTAssertFalse(spin.tick(8), "pipelined load must not spin") }
        // The moving average (about 8 ticks) has to come down from 8 packets to 1.5 first: ~20 single-packet ticks.
        var singles = 0
        while !spin.tick(1) {
            singles += 1
            XCTAssertLessThan(singles, 40, "the average never came back down")
            if singles >= 40 { return }
        }
        XCTAssertGreaterThanOrEqual(singles, 10, "one quiet tick right after a burst should not start spinning")
    }

    func testTwoPacketTicksDoNotPokeButSinglesAmongThemDo() {
        let two = SpinWaiter(windowUs: 1000)
        XCTAssertFalse((0..<64).map { _ in two.tick(2) }.suffix(32).contains(true))
        // Ones and twos alternating average 1.5, the boundary: every single-packet tick still pokes.
        let mixed = SpinWaiter(windowUs: 1000)
        let poked = (0..<64).map { i in (packets: 1 + i % 2, poked: mixed.tick(1 + i % 2)) }.suffix(32)
        XCTAssertTrue(poked.filter { $0.packets == 1 }.allSatisfy { $0.poked })
    }

    func testReadsFromMoreThanTwoConnectionsDoNotPoke() {
        let three = SpinWaiter(windowUs: 1000)
        XCTAssertFalse((0..<32).map { i in three.tick(1, from: UInt64(1 + i % 3)) }.suffix(16).contains(true),
                       "three clients taking turns: their requests overlap, the CPUs stay awake")
        let two = SpinWaiter(windowUs: 1000)
        XCTAssertTrue((0..<32).map { i in two.tick(1, from: UInt64(1 + i % 2)) }.suffix(16).allSatisfy { $0 })
        // Once the others stop, it spins again when the last eight reads came from at most two connections.
        XCTAssertEqual((0..<8).map { _ in three.tick(1, from: 9) }, [Bool](repeating: false, count: 6) + [true, true])
    }

    func testSeveralReadsInOneTickCountAsOneTick() {
        let spin = SpinWaiter(windowUs: 1000)
        var poked: [Bool] = []
        for _ in 0..<16 {
            XCTAssertTrue(spin.onRead(packets: 1, connection: 1), "the first read opens the tick")
            XCTAssertFalse(spin.onRead(packets: 1, connection: 1), "the tick is already open")
            XCTAssertFalse(spin.onRead(packets: 1, connection: 1))
            poked.append(spin.onTickEnd())
        }
        XCTAssertFalse(poked.suffix(8).contains(true), "three packets a tick is not one-at-a-time traffic")
    }

    func testSpinsThroughTheWindowThenParksAndAPokeWakesIt() throws {
        let spin = SpinWaiter(windowUs: 5_000)
        spin.start()
        defer { spin.stop() }
        try waitUntil("parked before any activity") { spin.isParked }
        let parks = spin.parkCount.load(ordering: .relaxed)
        let cpu0 = Now.nanoseconds(CLOCK_PROCESS_CPUTIME_ID)
        spin.poke()
        try waitUntil("woken by the poke") { !spin.isParked }
        try waitUntil("parked again after the window") { spin.isParked }
        XCTAssertEqual(spin.parkCount.load(ordering: .relaxed), parks + 1)
        XCTAssertGreaterThan(Now.nanoseconds(CLOCK_PROCESS_CPUTIME_ID) - cpu0, 0, "the spinner ran")
        let parkedParks = spin.parkCount.load(ordering: .relaxed)
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(spin.parkCount.load(ordering: .relaxed), parkedParks, "no activity, so it stays parked")
        XCTAssertTrue(spin.isParked)
    }

    func testStopEndsTheThreadWhetherParkedOrSpinning() throws {
        let parked = SpinWaiter(windowUs: 1000)
        parked.start()
        try waitUntil("parked") { parked.isParked }
        parked.stop()
        try waitUntil("exited from parked") { parked.exited.load(ordering: .relaxed) }

        let spinning = SpinWaiter(windowUs: 60_000_000)
        spinning.start()
        spinning.poke()
        try waitUntil("spinning") { !spinning.isParked && spinning.isWithinWindow }
        spinning.stop()
        try waitUntil("exited from spinning") { spinning.exited.load(ordering: .relaxed) }
    }

    /// With every CPU kept busy by other threads the spinner gets almost no CPU: it must back off, not compete.
    func testBacksOffWhileOtherThreadsKeepTheCPUsBusy() throws {
        let spin = SpinWaiter(windowUs: 60_000_000)
        spin.start()
        defer { spin.stop() }
        let done = ManagedAtomic<Bool>(false)
        let busy = (0..<(2 * ProcessInfo.processInfo.activeProcessorCount)).map { _ in
            Thread {
                var x = 0
                while !done.load(ordering: .relaxed) { for i in 0..<10_000 { x &+= i } }
                _ = x
            }
        }
        busy.forEach { $0.start() }
        defer { done.store(true, ordering: .relaxed) }
        spin.poke()
        try waitUntil("backed off", timeout: 10) { spin.busyBackoffCount.load(ordering: .relaxed) > 0 }
    }

    private func waitUntil(_ what: String, timeout: TimeInterval = 5, _ condition: () -> Bool) throws {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while !condition() {
            if Date() > deadline { throw TimeoutError(what: what) }
            Thread.sleep(forTimeInterval: 0.001)
        }
    }

    private struct TimeoutError: Error { let what: String }
}

extension SpinWaiter {
    /// One event-loop tick with one socket read of `packets` from connection `conn`.
    func tick(_ packets: Int, from conn: UInt64 = 1) -> Bool {
        _ = onRead(packets: packets, connection: conn)
        return onTickEnd()
    }
}
