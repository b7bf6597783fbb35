import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// `globalOutstandingLimit`: past it, connections with requests in flight are paused and their packets held in
/// order; connections with nothing in flight are still served; every held request is answered once there is room.
final class OverloadTests: XCTestCase {
    private func driver(limit: Int, waitMs: Int = 0) throws -> CoreDriver {
        try CoreDriver(config: CoreDriver.config {
            $0.globalOutstandingLimit = limit
            $0.throttledOpWaitTimeMs = waitMs
            $0.fourLetterWordWhitelist = ["mntr"]
        })
    }

    private func replyXids(_ events: [Event], _ conn: UInt64) -> [Int32] {
        events.compactMap { if case let .reply(c, h, _) = $0, c == conn { return h.xid } else { return nil } }
    }

    private func errors(_ events: [Event], _ conn: UInt64) -> [Int32: Int32] {
        var out: [Int32: Int32] = [:]
        for case let .reply(c, h, _) in events where c == conn { out[h.xid] = h.err }
        return out
    }

    func testFloodPastTheLimitIsHeldInOrderAndAllAnswered() throws {
        let d = try driver(limit: 5)
        let (a, _) = try d.connectNewSession()
        let (b, _) = try d.connectNewSession()
        var out: [Event] = []
        for xid in Int32(1)...10 { out += d.send(a, xid: xid, .create("/n\(xid)")) }
        XCTAssertEqual(out.filter { if case .persist = $0 { return true } else { return false } }.count, 5)
        XCTAssertEqual(out.filter { $0 == .reading(a, false) }.count, 1, "paused once")
        XCTAssertEqual(d.core.inFlight.count, 5)
        XCTAssertEqual(d.core.conns[a]?.held.count, 5)

        // A light client with nothing in flight is still served: its read at once, its write admitted.
        let read = d.send(b, xid: 1, .exists("/zookeeper"))
        XCTAssertEqual(replyXids(read, b), [1])
        // Admitted (it had nothing in flight), then paused like any connection with a request in flight past the limit.
        XCTAssertEqual(d.send(b, xid: 2, .create("/b")), [.persist([8]), .reading(b, false)])
        XCTAssertLessThanOrEqual(d.core.inFlight.count, d.core.inFlight.countMax)

        var answered: [Event] = []
        for _ in 0..<10 {
            answered += d.durableAll()
            if replyXids(answered, a).count == 10 { break }
        }
        XCTAssertEqual(replyXids(answered, a), Array(1...10), "every request answered, in order")
        XCTAssertEqual(Set(errors(answered, a).values), [0])
        XCTAssertEqual(answered.last, .reading(a, true))
        XCTAssertEqual(replyXids(answered, b), [2])
        XCTAssertEqual(d.core.inFlight.count, 0)
        XCTAssertTrue(d.core.pausedConnections.isEmpty)
        for xid in 1...10 { XCTAssertNotNil(d.core.tree.exists("/n\(xid)")) }
    }

    /// Reads of a paused connection wait behind its held writes (per-client FIFO holds across a pause).
    func testHeldReadsKeepTheirPlace() throws {
        let d = try driver(limit: 1)
        let (a, _) = try d.connectNewSession()
        XCTAssertEqual(d.send(a, xid: 1, .create("/x")), [.persist([2]), .reading(a, false)])
        XCTAssertEqual(d.send(a, xid: 2, .exists("/x")), [])
        XCTAssertEqual(d.send(a, xid: 3, .setData("/x", "v")), [])
        var out: [Event] = []
        for _ in 0..<5 { out += d.durableAll() }
        XCTAssertEqual(replyXids(out, a), [1, 2, 3])
        XCTAssertEqual(Set(errors(out, a).values), [0])
    }

    /// Paused connections resume first come, first served, so no flooder starves another.
    func testPausedConnectionsResumeInTurn() throws {
        let d = try driver(limit: 2)
        let conns = try (0..<3).map { _ in try d.connectNewSession().conn }
        for c in conns { for xid in Int32(1)...3 { _ = d.send(c, xid: xid, .create("/c\(c)-\(xid)")) } }
        XCTAssertEqual(d.core.pausedQueue.count, 3)
        var out: [Event] = []
        for _ in 0..<30 {
            out += d.durableAll()
            if d.core.pausedConnections.isEmpty && d.core.inFlight.count == 0 { break }
        }
        for c in conns { XCTAssertEqual(replyXids(out, c), [1, 2, 3], "connection \(c)") }
    }

    func testRequestsHeldPastThrottledOpWaitTimeAreAnsweredThrottled() throws {
        let d = try driver(limit: 1, waitMs: 100)
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        _ = d.send(a, xid: 2, .create("/y"))
        _ = d.send(a, xid: Xid.ping, .ping)
        _ = d.send(a, xid: 3, .getData("/x"))
        d.nowMs += 150
        var out: [Event] = []
        for _ in 0..<5 { out += d.durableAll() }
        XCTAssertEqual(replyXids(out, a), [1, 2, Xid.ping, 3])
        let errs = errors(out, a)
        XCTAssertEqual(errs[1], 0)
        XCTAssertEqual(errs[2], ErrorCode.throttledOp.rawValue)
        XCTAssertEqual(errs[Xid.ping], 0, "pings are never throttled")
        XCTAssertEqual(errs[3], ErrorCode.throttledOp.rawValue)
        XCTAssertNil(d.core.tree.exists("/y"), "a throttled write is not carried out")
        XCTAssertEqual(d.core.stats.throttledOps, 2)
        let mntr = mntrRows(d)
        XCTAssertEqual(mntr["zk_throttled_ops"], "2")
        XCTAssertEqual(mntr["zk_paused_connections"], "0", "nothing held any more")
        XCTAssertGreaterThan(Int(mntr["zk_resident_bytes"] ?? "") ?? 0, 1 << 20)
    }

    func testMntrReportsPausedConnections() throws {
        let d = try driver(limit: 1)
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        _ = d.send(a, xid: 2, .create("/y"))
        XCTAssertEqual(mntrRows(d)["zk_paused_connections"], "1")
        for _ in 0..<5 { _ = d.durableAll() }
        XCTAssertEqual(mntrRows(d)["zk_paused_connections"], "0")
    }

    func testZooCfgKeys() throws {
        let d = try ServerConfig.parse("dataDir=/d\n")
        XCTAssertEqual(d.globalOutstandingLimit, 1000, "ZooKeeper's default")
        XCTAssertEqual(d.throttledOpWaitTimeMs, 0, "off by default, as in ZooKeeper")
        let c = try ServerConfig.parse("globalOutstandingLimit=50\nthrottled_op_wait_time=20\n")
        XCTAssertEqual(c.globalOutstandingLimit, 50)
        XCTAssertEqual(c.throttledOpWaitTimeMs, 20)
        let z = try ServerConfig.parse("zookeeper.globalOutstandingLimit=7\nzookeeper.throttled_op_wait_time=3\n")
        XCTAssertEqual(z.globalOutstandingLimit, 7)
        XCTAssertEqual(z.throttledOpWaitTimeMs, 3)
        for bad in ["0", "-5"] {
            XCTAssertThrowsError(try ServerConfig.parse("globalOutstandingLimit=\(bad)\n")) { error in
                XCTAssertTrue("\(error)".contains("globalOutstandingLimit must be positive"), "\(error)")
            }
        }
    }

    private func mntrRows(_ d: CoreDriver) -> [String: String] {
        var rows: [String: String] = [:]
        for line in d.core.fourLetterWord("mntr", host: HostFacts.gather(.process, dataDir: d.core.config.dataDir, dataLogDir: d.core.config.dataLogDir), now: d.now).split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            if parts.count == 2 { rows[String(parts[0])] = String(parts[1]) }
        }
        return rows
    }

    func testClosingAPausedConnectionLetsOthersGoOn() throws {
        let d = try driver(limit: 2)
        let (a, _) = try d.connectNewSession()
        let (b, _) = try d.connectNewSession()
        for xid in Int32(1)...4 { _ = d.send(a, xid: xid, .create("/a\(xid)")) }
        for xid in Int32(1)...2 { _ = d.send(b, xid: xid, .create("/b\(xid)")) }
        XCTAssertEqual(d.core.pausedConnections, [a, b])
        _ = d.closed(a)
        XCTAssertEqual(d.core.inFlight.count, 2, "a's no longer count, so b's held write was let in")
        var out: [Event] = []
        for _ in 0..<5 { out += d.durableAll() }
        XCTAssertEqual(replyXids(out, b), [1, 2])
        XCTAssertTrue(d.core.pausedConnections.isEmpty)
    }

    /// Bytes held for a connection are bounded; past the bound it is closed with a reason, others unaffected.
    func testHeldBytesAreBounded() throws {
        let d = try driver(limit: 1)
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        let big = String(repeating: "v", count: 512 << 10)
        var closed = false
        for xid in Int32(2)...200 {
            if d.send(a, xid: xid, .setData("/x", big)).contains(.close(a)) {
                closed = true
                break
            }
            XCTAssertLessThanOrEqual(d.core.conns[a]!.heldBytes, d.core.heldBytesMax)
        }
        XCTAssertTrue(closed)
    }
}
