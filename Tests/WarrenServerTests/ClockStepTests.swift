import WarrenJute
import WarrenTree
import WarrenZab
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// The core is given two clocks (`Now`): sessions and every other interval run on the monotonic one, ctime and mtime
/// come from the wall one. A step of the wall clock alone (NTP, an administrator) must not expire sessions, keep dead
/// ones alive, or move uptime; new timestamps follow it.
final class ClockStepTests: XCTestCase {
    private static let hourMs: Int64 = 3_600_000
    private var d: CoreDriver!
    /// A 10 s session created at `startMs` with an ephemeral (zxid 2): expires at 1_012_000 unless touched.
    private var a: UInt64 = 0
    private let expiryA: Int64 = 1_012_000

    override func setUpWithError() throws {
        d = try CoreDriver(config: CoreDriver.config { $0.fourLetterWordWhitelist = ServerConfig.allFourLetterWords })
        a = try d.connectNewSession(timeOutMs: 10_000).conn
        XCTAssertEqual(
            d.write(a, xid: 1, .create("/e", mode: .ephemeral)).last,
            .ok(a, xid: 1, zxid: 2, .create(CreateResponse(path: "/e"))))
    }

    func testWallClockStepsExpireNoSession() throws {
        for step in [Self.hourMs, -Self.hourMs, -Self.hourMs] {
            d.stepWallClock(byMs: step)
            XCTAssertEqual(d.tick(at: d.nowMs + 2000), [], "wall clock stepped by \(step) ms")
            XCTAssertEqual(d.send(a, xid: Xid.ping, .ping).count, 1)
        }
        XCTAssertNotNil(d.core.tree.exists("/e"))
    }

    func testAfterABackwardStepADeadSessionStillExpiresOnTime() throws {
        d.stepWallClock(byMs: -Self.hourMs)
        XCTAssertEqual(d.tick(at: expiryA - 1), [])
        XCTAssertEqual(d.tick(at: expiryA), [.persist([3])], "expiry follows the monotonic clock")
    }

    func testAfterAForwardStepASessionExpiresNoSooner() throws {
        d.stepWallClock(byMs: Self.hourMs)
        XCTAssertEqual(d.tick(at: expiryA - 1), [])
        XCTAssertEqual(d.tick(at: expiryA), [.persist([3])])
    }

    func testNodeTimesFollowTheWallClock() throws {
        d.stepWallClock(byMs: Self.hourMs)
        _ = d.write(a, xid: 2, .create("/n"))
        let created = try XCTUnwrap(d.core.tree.exists("/n"))
        XCTAssertEqual(created.ctime, d.now.wallMs)
        XCTAssertEqual(created.mtime, d.now.wallMs)
        d.stepWallClock(byMs: -2 * Self.hourMs)
        _ = d.write(a, xid: 3, .setData("/n", "x"))
        let changed = try XCTUnwrap(d.core.tree.exists("/n"))
        XCTAssertEqual(changed.ctime, CoreDriver.startWallMs + Self.hourMs)
        XCTAssertEqual(changed.mtime, CoreDriver.startWallMs - Self.hourMs, "mtime goes back with the wall clock")
    }

    func testUptimeIsMonotonic() throws {
        let before = uptime()
        d.stepWallClock(byMs: -Self.hourMs)
        XCTAssertEqual(uptime(), before)
        d.nowMs += 1500
        XCTAssertEqual(uptime(), before + 1500)
    }

    func testDumpDatesExpiryOnTheWallClock() throws {
        d.stepWallClock(byMs: Self.hourMs)
        // Expiry at monotonic 1_012_000, 12 s from now: on the wall clock, 12 s after startWallMs + 1 h.
        let expiresAt = Date(timeIntervalSince1970: Double(CoreDriver.startWallMs + Self.hourMs + 12_000) / 1000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE MMM dd HH:mm:ss zzz yyyy"
        XCTAssertTrue(
            d.core.fourLetterWord("dump", host: HostFacts(), now: d.now).contains("1 expire at \(formatter.string(from: expiresAt).replacingOccurrences(of: "GMT", with: "UTC")):"))
    }

    /// In an ensemble the leader expires sessions and its wall clock stamps every txn. Steps of every member's wall
    /// clock expire nothing and elect nobody.
    func testEnsembleWallClockStepsExpireNoSessionAndElectNobody() throws {
        let e = try MiniEnsemble()
        for _ in 0..<30 where Set(e.modes.values) != ["leader", "follower"] { e.tick() }
        let modes = e.modes
        let (conn, session) = e.connect(1, conn: 1)
        let ephemeral = Request.create(CreateRequest(path: "/e", data: [], acl: ACL.openUnsafe, flags: 1))
        XCTAssertEqual(e.request(1, conn: conn, xid: 1, ephemeral).map(\.0.err), [0])
        for (n, step) in [Self.hourMs, -2 * Self.hourMs].enumerated() {
            e.now = Now(monoMs: e.now.monoMs, wallMs: e.now.wallMs + step)
            for _ in 0..<10 { e.tick() }  // 2 s of the session's 4 s
            XCTAssertEqual(e.request(1, conn: conn, xid: Xid.ping, .ping).map(\.0.err), [0], "step \(n)")
        }
        XCTAssertEqual(e.modes, modes, "no election")
        XCTAssertEqual(e.closed.values.flatMap { $0 }, [], "no connection closed")
        let create = Request.create(CreateRequest(path: "/n", data: [], acl: ACL.openUnsafe, flags: 0))
        XCTAssertEqual(e.request(1, conn: conn, xid: 2, create).map(\.0.err), [0])
        for id in [1, 2, 3] as [ServerId] {
            XCTAssertTrue(e.cores[id]!.tree.sessions[session] != nil, "server \(id) keeps the session")
            XCTAssertNotNil(e.cores[id]!.tree.exists("/e"), "server \(id) keeps the ephemeral")
            XCTAssertEqual(e.cores[id]!.tree.exists("/n")?.ctime, e.now.wallMs, "server \(id)")
        }
    }

    private func uptime() -> Int64 {
        let mntr = d.core.fourLetterWord("mntr", host: HostFacts(), now: d.now)
        let row = mntr.split(separator: "\n").first { $0.hasPrefix("zk_uptime\t") }
        return Int64(row?.split(separator: "\t").last ?? "") ?? -1
    }
}
