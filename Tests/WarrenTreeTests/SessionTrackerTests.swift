import XCTest

@testable import WarrenTree
import WarrenRandom

final class SessionTrackerTests: XCTestCase {
    private func tracker(
        serverId: Int64 = 0, tick: Int32 = 2000, secret: UInt64 = 0xC0FFEE, start: Int64 = 1_700_000_000_000
    ) throws -> SessionTracker {
        try SessionTracker(serverId: serverId, tickTimeMs: tick, secret: secret, startTimeMs: start)
    }

    // MARK: Configuration and timeouts

    func testNegotiateClampsToDefaultBoundsOfTwoAndTwentyTicks() throws {
        let t = try tracker(tick: 2000)
        XCTAssertEqual(t.minSessionTimeoutMs, 4000)
        XCTAssertEqual(t.maxSessionTimeoutMs, 40000)
        XCTAssertEqual(t.negotiate(1), 4000)
        XCTAssertEqual(t.negotiate(3999), 4000)
        XCTAssertEqual(t.negotiate(4000), 4000)
        XCTAssertEqual(t.negotiate(10000), 10000)
        XCTAssertEqual(t.negotiate(40000), 40000)
        XCTAssertEqual(t.negotiate(40001), 40000)
        XCTAssertEqual(t.negotiate(-5), 4000)
        XCTAssertEqual(t.negotiate(.max), 40000)
    }

    func testNegotiateUsesExplicitBounds() throws {
        let t = try SessionTracker(
            tickTimeMs: 100, minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 1500, secret: 1, startTimeMs: 0)
        XCTAssertEqual(t.negotiate(200), 1000)
        XCTAssertEqual(t.negotiate(1200), 1200)
        XCTAssertEqual(t.negotiate(9000), 1500)
    }

    func testBadConfigurationIsRefused() {
        XCTAssertThrowsError(try tracker(serverId: 255)) {
            XCTAssertEqual($0 as? SessionTrackerError, .serverIdOutOfRange(255))
        }
        XCTAssertThrowsError(try tracker(serverId: -1))
        XCTAssertThrowsError(try tracker(tick: 0)) {
            XCTAssertEqual($0 as? SessionTrackerError, .tickTimeNotPositive(0))
        }
        let minAboveMax = {
            try SessionTracker(tickTimeMs: 2000, minSessionTimeoutMs: 50000, secret: 1, startTimeMs: 0)
        }
        XCTAssertThrowsError(try minAboveMax()) {
            XCTAssertEqual($0 as? SessionTrackerError, .minSessionTimeoutAboveMax(minMs: 50000, maxMs: 40000))
        }
        XCTAssertNoThrow(try tracker(serverId: 254))
    }

    func testExpiryTimeIsTheFirstTickBoundaryStrictlyAfterTheDeadline() throws {
        let t = try tracker(tick: 2000)
        XCTAssertEqual(t.expiryTime(monoMs: 1000, timeoutMs: 4000), 6000)
        XCTAssertEqual(t.expiryTime(monoMs: 0, timeoutMs: 4000), 6000, "a deadline on a boundary rounds to the next")
        XCTAssertEqual(t.expiryTime(monoMs: 1999, timeoutMs: 4000), 6000)
        XCTAssertEqual(t.expiryTime(monoMs: 2000, timeoutMs: 4000), 8000)
        XCTAssertEqual(t.expiryTime(monoMs: -3000, timeoutMs: 1000), 0)
        XCTAssertEqual(t.expiryTime(monoMs: -3000, timeoutMs: 500), -2000)
    }

    // MARK: Ids

    func testSessionIdLayoutFollowsZooKeeper() throws {
        let start: Int64 = 0x12_3456_789A
        var t = try tracker(serverId: 7, start: start)
        let first = t.createSession(timeoutMs: 4000, monoMs: 0).id
        let second = t.createSession(timeoutMs: 4000, monoMs: 0).id
        XCTAssertEqual(first >> 56, 7, "server id in the top byte")
        XCTAssertEqual((first >> 16) & 0xFF_FFFF_FFFF, start & 0xFF_FFFF_FFFF, "low 40 bits of the start time")
        XCTAssertEqual(first & 0xFFFF, 0, "counter starts at zero")
        XCTAssertEqual(second, first + 1)
        XCTAssertEqual(SessionTracker.firstSessionId(serverId: 7, startTimeMs: start), first)
    }

    func testTimeBitsNeverSpillIntoTheServerByte() {
        let id = SessionTracker.firstSessionId(serverId: 0, startTimeMs: -1)
        XCTAssertEqual(id >> 56, 0)
        XCTAssertEqual(id, 0x00FF_FFFF_FFFF_0000)
    }

    func testContainerOwnerIdIsNeverASession() {
        XCTAssertEqual(SessionTracker.firstSessionId(serverId: 128, startTimeMs: 0), Int64.min + 1)
    }

    func testCreateSkipsIdsAlreadyRestored() throws {
        var t = try tracker(start: 5)
        let next = SessionTracker.firstSessionId(serverId: 0, startTimeMs: 5)
        t.addSession(id: next, timeoutMs: 4000, monoMs: 0)
        t.addSession(id: next + 1, timeoutMs: 4000, monoMs: 0)
        XCTAssertEqual(t.createSession(timeoutMs: 4000, monoMs: 0).id, next + 2)
        XCTAssertEqual(t.count, 3)
    }

    // MARK: Passwords

    func testPasswordIsSixteenBytesAndChecks() throws {
        var t = try tracker()
        let (id, password) = t.createSession(timeoutMs: 4000, monoMs: 0)
        XCTAssertEqual(password.count, 16)
        XCTAssertEqual(password, t.password(for: id))
        XCTAssertTrue(t.checkPassword(id, password))
        var wrong = password
        wrong[15] ^= 1
        XCTAssertFalse(t.checkPassword(id, wrong))
        XCTAssertFalse(t.checkPassword(id, Array(password.prefix(15))))
        XCTAssertFalse(t.checkPassword(id, password + [0]))
        XCTAssertFalse(t.checkPassword(id + 1, password))
        XCTAssertFalse(t.checkPassword(0, t.password(for: 0)), "id 0 is never a valid session")
    }

    func testPasswordsDifferBetweenSessions() throws {
        var t = try tracker()
        let passwords = (0..<50).map { _ in t.createSession(timeoutMs: 4000, monoMs: 0).password }
        XCTAssertEqual(Set(passwords).count, 50)
    }

    func testRestartedServerWithTheSameSecretAcceptsTheOldPassword() throws {
        var before = try tracker(secret: 0xDEAD_BEEF, start: 1000)
        let (id, password) = before.createSession(timeoutMs: 4000, monoMs: 1000)
        var after = try tracker(secret: 0xDEAD_BEEF, start: 99_999)
        after.addSession(id: id, timeoutMs: 4000, monoMs: 99_999)
        XCTAssertTrue(after.checkPassword(id, password))
        let otherSecret = try tracker(secret: 0xDEAD_BEEE, start: 1000)
        XCTAssertFalse(otherSecret.checkPassword(id, password))
    }

    func testSplitMix64IsDeterministicAndMatchesTheReferenceSequence() {
        var g = SeededRandom(seed: 0)
        // Published SplitMix64 outputs for seed 0.
        XCTAssertEqual(g.next(), 0xE220_A839_7B1D_CDAF)
        XCTAssertEqual(g.next(), 0x6E78_9E6A_A1B9_65F4)
        XCTAssertEqual(g.next(), 0x06C4_5D18_8009_454F)
        var x = SeededRandom(seed: 12345)
        var y = SeededRandom(seed: 12345)
        XCTAssertEqual((0..<8).map { _ in x.next() }, (0..<8).map { _ in y.next() })
    }

    // MARK: Expiry

    func testSessionExpiresAtItsBucketBoundaryAndIsMarkedClosing() throws {
        var t = try tracker(tick: 2000)
        let id = t.createSession(timeoutMs: 4000, monoMs: 1000).id
        XCTAssertEqual(t.session(id)?.expiresAtMonoMs, 6000)
        XCTAssertEqual(t.nextExpiryMonoMs, 6000)
        XCTAssertEqual(t.expired(monoMs: 5999), [])
        XCTAssertTrue(t.isValid(id))
        XCTAssertEqual(t.expired(monoMs: 6000), [id])
        XCTAssertFalse(t.isValid(id))
        XCTAssertTrue(t.isTracked(id))
        XCTAssertEqual(t.session(id)?.isClosing, true)
        XCTAssertEqual(t.expired(monoMs: 100_000), [], "reported once")
        XCTAssertNil(t.nextExpiryMonoMs)
        XCTAssertFalse(t.touch(id, monoMs: 6001), "an expired session cannot be revived by a touch")
        t.close(id)
        XCTAssertFalse(t.isTracked(id))
        XCTAssertEqual(t.count, 0)
    }

    func testTouchPostponesExpiry() throws {
        var t = try tracker(tick: 2000)
        let id = t.createSession(timeoutMs: 4000, monoMs: 1000).id
        XCTAssertTrue(t.touch(id, monoMs: 3000))
        XCTAssertEqual(t.session(id)?.expiresAtMonoMs, 8000)
        XCTAssertEqual(t.expired(monoMs: 6000), [])
        XCTAssertEqual(t.nextExpiryMonoMs, 8000)
        XCTAssertTrue(t.touch(id, monoMs: 7999))
        XCTAssertEqual(t.expired(monoMs: 8000), [])
        XCTAssertEqual(t.expired(monoMs: 12000), [id])
    }

    func testTouchWithinTheSameBucketChangesNothing() throws {
        var t = try tracker(tick: 2000)
        let id = t.createSession(timeoutMs: 4000, monoMs: 1000).id
        XCTAssertTrue(t.touch(id, monoMs: 1500))
        XCTAssertEqual(t.session(id)?.expiresAtMonoMs, 6000)
        XCTAssertEqual(t.expired(monoMs: 6000), [id])
    }

    func testTouchOfUnknownSessionFails() throws {
        var t = try tracker()
        XCTAssertFalse(t.touch(42, monoMs: 0))
        XCTAssertFalse(t.isValid(42))
        XCTAssertNil(t.session(42))
    }

    func testSessionsInOneBucketExpireTogetherAndOrderIsByTimeThenId() throws {
        var t = try tracker(tick: 1000)
        t.addSession(id: 30, timeoutMs: 2000, monoMs: 100)  // → 3000
        t.addSession(id: 10, timeoutMs: 2000, monoMs: 900)  // → 3000
        t.addSession(id: 20, timeoutMs: 2000, monoMs: 0)  // → 3000
        t.addSession(id: 5, timeoutMs: 3000, monoMs: 500)  // → 4000
        t.addSession(id: 7, timeoutMs: 9000, monoMs: 0)  // → 10000
        XCTAssertEqual(t.expired(monoMs: 2999), [])
        XCTAssertEqual(t.expired(monoMs: 4500), [10, 20, 30, 5])
        XCTAssertEqual(t.nextExpiryMonoMs, 10000)
        XCTAssertEqual(t.all.map(\.id), [5, 7, 10, 20, 30])
        XCTAssertEqual(t.all.filter(\.isClosing).map(\.id), [5, 10, 20, 30])
    }

    func testMarkClosingStopsTouchesButStaysScheduled() throws {
        var t = try tracker(tick: 2000)
        let id = t.createSession(timeoutMs: 4000, monoMs: 0).id
        t.markClosing(id)
        XCTAssertFalse(t.isValid(id))
        XCTAssertFalse(t.touch(id, monoMs: 1000))
        XCTAssertEqual(t.session(id)?.expiresAtMonoMs, 6000)
        XCTAssertEqual(t.expired(monoMs: 6000), [id], "an unfinished close is reported again at expiry")
    }

    func testCloseRemovesFromSchedule() throws {
        var t = try tracker(tick: 2000)
        let a = t.createSession(timeoutMs: 4000, monoMs: 0).id
        let b = t.createSession(timeoutMs: 4000, monoMs: 0).id
        t.close(a)
        t.close(12345)  // unknown: ignored
        XCTAssertEqual(t.count, 1)
        XCTAssertEqual(t.expired(monoMs: 6000), [b])
    }

    func testAddSessionRestoresAndReschedulesAnExistingOne() throws {
        var t = try tracker(tick: 1000)
        XCTAssertTrue(t.addSession(id: 99, timeoutMs: 5000, monoMs: 0))
        XCTAssertEqual(t.session(99), SessionInfo(id: 99, timeoutMs: 5000, expiresAtMonoMs: 6000, isClosing: false))
        XCTAssertFalse(t.addSession(id: 99, timeoutMs: 2000, monoMs: 10_000))
        XCTAssertEqual(t.session(99), SessionInfo(id: 99, timeoutMs: 5000, expiresAtMonoMs: 13000, isClosing: false))
        XCTAssertEqual(t.expired(monoMs: 12_999), [])
        XCTAssertEqual(t.expired(monoMs: 13_000), [99])
        XCTAssertTrue(t.checkPassword(99, t.password(for: 99)))
    }

    func testSameInputsGiveTheSameSessions() throws {
        func run() throws -> [[UInt8]] {
            var t = try tracker(serverId: 3, secret: 77, start: 424_242)
            return (0..<5).map { i in
                let s = t.createSession(timeoutMs: 4000, monoMs: Int64(i))
                return withUnsafeBytes(of: s.id.bigEndian, Array.init) + s.password
            }
        }
        XCTAssertEqual(try run(), try run())
    }
}
