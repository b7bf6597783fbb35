import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// The connect handshake: new sessions are transactions, resumed ones are checked against their password.
final class HandshakeTests: XCTestCase {
    /// What the core must derive for the first session: ZooKeeper's id layout and the secret-keyed password.
    private let firstSessionId = SessionTracker.firstSessionId(serverId: 0, startTimeMs: CoreDriver.startWallMs)
    private var firstPassword: [UInt8] {
        try! SessionTracker(secret: 42, startTimeMs: 0).password(for: firstSessionId)
    }
    private let zeroPassword = [UInt8](repeating: 0, count: 16)

    func testNewSessionIsAnsweredOnlyOnceDurable() throws {
        let d = try CoreDriver()
        let conn = d.open()
        let request = ConnectRequest(lastZxidSeen: 0, timeOut: 10_000, sessionId: 0, passwd: zeroPassword)
        XCTAssertEqual(d.sendConnect(conn, request), [.persist([1])])
        XCTAssertEqual(d.durable(upTo: 0), [], "nothing may be answered before the createSession txn is durable")
        XCTAssertEqual(
            d.durable(upTo: 1),
            [.connected(conn, ConnectResponse(timeOut: 10_000, sessionId: firstSessionId, passwd: firstPassword))])
        XCTAssertEqual(firstPassword.count, 16)
        XCTAssertEqual(d.core.tree.sessions[firstSessionId], 10_000, "the session is in the tree once applied")
    }

    func testTimeoutIsClampedToTheConfiguredBounds() throws {
        // tickTime 2000: min 4000, max 40000.
        for (asked, granted) in [(Int32(100), Int32(4000)), (10_000, 10_000), (100_000, 40_000)] {
            let d = try CoreDriver()
            let (_, response) = try d.connectNewSession(timeOutMs: asked)
            XCTAssertEqual(response.timeOut, granted, "asked for \(asked)")
        }
        let d = try CoreDriver(config: CoreDriver.config { $0.minSessionTimeoutMs = 5000; $0.maxSessionTimeoutMs = 6000 })
        XCTAssertEqual(try d.connectNewSession(timeOutMs: 1000).response.timeOut, 5000)
        XCTAssertEqual(try d.connectNewSession(timeOutMs: 9000).response.timeOut, 6000)
    }

    func testResumeWithThePasswordAnswersAtOnceAndClosesTheOldConnection() throws {
        let d = try CoreDriver()
        let (old, first) = try d.connectNewSession()
        let conn = d.open()
        let resume = ConnectRequest(lastZxidSeen: 1, timeOut: 10_000, sessionId: first.sessionId, passwd: first.passwd)
        XCTAssertEqual(
            d.sendConnect(conn, resume),
            [.close(old), .connected(conn, ConnectResponse(timeOut: 10_000, sessionId: first.sessionId, passwd: first.passwd))])
        XCTAssertEqual(d.core.sessionConn[first.sessionId], conn)
        // The resumed connection serves requests.
        XCTAssertEqual(
            d.send(conn, xid: 1, .exists("/nope")), [.error(conn, xid: 1, zxid: 1, .noNode)])
    }

    func testWrongPasswordIsRejectedWithAnExpiredAnswer() throws {
        let d = try CoreDriver()
        let (_, first) = try d.connectNewSession()
        let conn = d.open()
        var wrong = first.passwd
        wrong[0] ^= 0xff
        let rejected = ConnectResponse(timeOut: 0, sessionId: 0, passwd: zeroPassword)
        XCTAssertEqual(
            d.sendConnect(conn, ConnectRequest(lastZxidSeen: 1, timeOut: 10_000, sessionId: first.sessionId, passwd: wrong)),
            [.connected(conn, rejected), .close(conn)])
        XCTAssertEqual(d.send(conn, xid: 1, .exists("/")), [], "a rejected connection is not served")
        XCTAssertTrue(d.core.sessions.isValid(first.sessionId), "a bad guess does not hurt the real session")
    }

    func testUnknownSessionIsRejectedWithAnExpiredAnswer() throws {
        let d = try CoreDriver()
        let conn = d.open()
        XCTAssertEqual(
            d.sendConnect(conn, ConnectRequest(lastZxidSeen: 0, timeOut: 10_000, sessionId: 0x1234, passwd: zeroPassword)),
            [.connected(conn, ConnectResponse(timeOut: 0, sessionId: 0, passwd: zeroPassword)), .close(conn)])
    }

    func testOldClientWithoutReadOnlyFlagGetsAnAnswerWithoutIt() throws {
        let d = try CoreDriver()
        let conn = d.open()
        let request = ConnectRequest(lastZxidSeen: 0, timeOut: 10_000, sessionId: 0, passwd: zeroPassword, readOnly: nil)
        XCTAssertEqual(d.sendConnect(conn, request), [.persist([1])])
        XCTAssertEqual(
            d.durable(upTo: 1),
            [.connected(conn, ConnectResponse(timeOut: 10_000, sessionId: firstSessionId, passwd: firstPassword, readOnly: nil))])
    }

    func testClientAheadOfTheServerIsClosedWithoutAnswer() throws {
        let d = try CoreDriver()
        let conn = d.open()
        XCTAssertEqual(
            d.sendConnect(conn, ConnectRequest(lastZxidSeen: 5, timeOut: 10_000, sessionId: 0, passwd: zeroPassword)),
            [.close(conn)])
        XCTAssertEqual(d.core.sessions.count, 0, "no session is created for a client from a newer history")
    }

    func testGarbageInsteadOfConnectRequestCloses() throws {
        let d = try CoreDriver()
        let conn = d.open()
        XCTAssertEqual(d.sendRaw(conn, [0, 0, 0]), [.close(conn)])
    }

    func testRequestsSentBehindTheConnectRequestAreAnsweredInOrderAfterTheHandshake() throws {
        let d = try CoreDriver()
        let conn = d.open()
        XCTAssertEqual(
            d.sendConnect(conn, ConnectRequest(lastZxidSeen: 0, timeOut: 10_000, sessionId: 0, passwd: zeroPassword)),
            [.persist([1])])
        XCTAssertEqual(d.send(conn, xid: 1, .exists("/zookeeper")), [])
        XCTAssertEqual(d.send(conn, xid: 2, .create("/a", "x")), [])
        XCTAssertEqual(d.send(conn, xid: 3, .getData("/a")), [])

        let zookeeperStat = try XCTUnwrap(d.core.tree.exists("/zookeeper"))
        XCTAssertEqual(
            d.durable(upTo: 1),
            [
                .connected(conn, ConnectResponse(timeOut: 10_000, sessionId: firstSessionId, passwd: firstPassword)),
                .ok(conn, xid: 1, zxid: 1, .exists(StatResponse(stat: zookeeperStat))),
                .persist([2]),
            ])
        let answers = d.durable(upTo: 2)
        XCTAssertEqual(answers.count, 2, "\(answers)")
        XCTAssertEqual(answers.first, .ok(conn, xid: 2, zxid: 2, .create(CreateResponse(path: "/a"))))
        guard case let .reply(_, header, .getData(data))? = answers.last else { return XCTFail("\(answers)") }
        XCTAssertEqual(header, ReplyHeader(xid: 3, zxid: 2, error: .ok))
        XCTAssertEqual(data.data, Array("x".utf8), "the queued read sees the create before it")
        XCTAssertEqual(data.stat.czxid, 2)
    }

    func testTooManyRequestsBeforeTheHandshakeCloses() throws {
        let d = try CoreDriver()
        let conn = d.open()
        _ = d.sendConnect(conn, ConnectRequest(lastZxidSeen: 0, timeOut: 10_000, sessionId: 0, passwd: zeroPassword))
        for xid in 1...Int32(ServerCore.earlyPacketsMax) {
            XCTAssertEqual(d.send(conn, xid: xid, .exists("/")), [])
        }
        XCTAssertEqual(d.send(conn, xid: 999, .exists("/")), [.close(conn)])
    }
}
