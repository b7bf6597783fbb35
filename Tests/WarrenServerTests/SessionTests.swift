import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Session expiry and closeSession: both are logged transactions that delete the session's ephemerals.
final class SessionTests: XCTestCase {
    private var d: CoreDriver!
    /// Session with a 10 s timeout (zxid 1), created at `startMs`: it expires at the first 2 s tick boundary
    /// after 1_010_000, i.e. at 1_012_000.
    private var a: UInt64 = 0
    private var sessionA: Int64 = 0
    private var passwordA: [UInt8] = []
    /// Session with a 40 s timeout (zxid 2): it outlives `a`.
    private var b: UInt64 = 0
    private let expiryA: Int64 = 1_012_000

    override func setUpWithError() throws {
        d = try CoreDriver()
        let first = try d.connectNewSession(timeOutMs: 10_000)
        (a, sessionA, passwordA) = (first.conn, first.response.sessionId, first.response.passwd)
        b = try d.connectNewSession(timeOutMs: 40_000).conn
        // a owns an ephemeral (zxid 3); b watches it.
        XCTAssertEqual(
            d.write(a, xid: 1, .create("/e", mode: .ephemeral)).last,
            .ok(a, xid: 1, zxid: 3, .create(CreateResponse(path: "/e"))))
        XCTAssertEqual(d.send(b, xid: 1, .exists("/e", watch: true)).first?.replyHeader, ReplyHeader(xid: 1, zxid: 3, error: .ok))
    }

    private func persistedTxn(_ zxid: Int64) throws -> Txn {
        try Txn(compact: try XCTUnwrap(d.persistedPayloads[zxid]), zxid: zxid)
    }

    func testNothingExpiresBeforeTheTimeout() throws {
        XCTAssertEqual(d.tick(at: expiryA - 1), [])
    }

    func testExpiryIsALoggedCloseSession() throws {
        XCTAssertEqual(d.tick(at: expiryA), [.persist([4])])
        let txn = try persistedTxn(4)
        XCTAssertEqual(txn.header.sessionId, sessionA)
        XCTAssertEqual(txn.body, .closeSession(paths: ["/e"]))
        XCTAssertEqual(d.tick(at: expiryA + 2000), [], "an expiry already under way is not issued twice")
        XCTAssertEqual(d.send(a, xid: 2, .exists("/e")), [], "an expiring session's connection is not served")
        XCTAssertNotNil(d.core.tree.exists("/e"), "ephemerals stay until the close is durable")
    }

    func testExpiredSessionsEphemeralsGoAndWatchesOfOtherConnectionsFire() throws {
        XCTAssertEqual(d.tick(at: expiryA), [.persist([4])])
        let out = d.durable(upTo: 4)
        XCTAssertEqual(out.first, .watch(b, .nodeDeleted, "/e"))
        XCTAssertEqual(out.last, .close(a))
        XCTAssertNil(d.core.tree.exists("/e"))
        XCTAssertFalse(d.core.sessions.isTracked(sessionA))
        XCTAssertNil(d.core.tree.sessions[sessionA])
    }

    /// ZooKeeper's expirer closes the session's connection without a reply: the client issued no request, so a
    /// packet with xid 0 would be out of order for it (the Java client drops the connection on "Xid out of order").
    func testExpiryClosesTheConnectionWithoutAnUnaskedReply() throws {
        XCTAssertEqual(d.tick(at: expiryA), [.persist([4])])
        XCTAssertEqual(d.durable(upTo: 4), [.watch(b, .nodeDeleted, "/e"), .close(a)])
    }

    func testExpiryOfADisconnectedSessionClosesNothing() throws {
        XCTAssertEqual(d.closed(a), [])
        XCTAssertEqual(d.tick(at: expiryA), [.persist([4])])
        XCTAssertEqual(d.durable(upTo: 4), [.watch(b, .nodeDeleted, "/e")])
        XCTAssertNil(d.core.tree.exists("/e"))
    }

    func testRequestsPostponeExpiry() throws {
        d.nowMs = 1_005_000
        XCTAssertEqual(d.send(a, xid: Xid.ping, .ping).count, 1)
        XCTAssertEqual(d.tick(at: expiryA), [], "touched at 1_005_000: expires at 1_016_000")
        XCTAssertEqual(d.tick(at: 1_016_000), [.persist([4])])
    }

    func testExpiredSessionCannotBeResumed() throws {
        _ = d.tick(at: expiryA)
        let during = d.open()
        let resume = ConnectRequest(lastZxidSeen: 3, timeOut: 10_000, sessionId: sessionA, passwd: passwordA)
        let rejected = ConnectResponse(timeOut: 0, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(d.sendConnect(during, resume), [.connected(during, rejected), .close(during)], "while closing")
        _ = d.durable(upTo: 4)
        let after = d.open()
        XCTAssertEqual(d.sendConnect(after, resume), [.connected(after, rejected), .close(after)], "once closed")
    }

    func testCloseSessionRequestIsAnsweredThenClosed() throws {
        XCTAssertEqual(d.send(a, xid: 2, .closeSession), [.persist([4])])
        XCTAssertEqual(d.send(a, xid: 3, .exists("/")), [], "nothing after closeSession is served")
        XCTAssertEqual(
            d.durable(upTo: 4), [.watch(b, .nodeDeleted, "/e"), .ok(a, xid: 2, zxid: 4), .close(a)])
        XCTAssertFalse(d.core.sessions.isTracked(sessionA))
        XCTAssertEqual(d.tick(at: expiryA + 10_000), [], "a closed session does not expire again")
    }

    func testCloseSessionWaitsBehindTheConnectionsPendingWrites() throws {
        XCTAssertEqual(d.send(a, xid: 2, .create("/p")), [.persist([4])])
        XCTAssertEqual(d.send(a, xid: 3, .closeSession), [.persist([5])])
        XCTAssertEqual(
            d.durable(upTo: 5),
            [
                .ok(a, xid: 2, zxid: 4, .create(CreateResponse(path: "/p"))), .watch(b, .nodeDeleted, "/e"),
                .ok(a, xid: 3, zxid: 5), .close(a),
            ])
    }
}
