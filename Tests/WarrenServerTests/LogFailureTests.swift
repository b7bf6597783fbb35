import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// When the log fails, durability of anything pending is unknown: those writes fail, later writes are refused,
/// reads keep working — the transcript `testdata/disk_full.txt`; here the cases that read better as code.
final class LogFailureTests: XCTestCase {
    private var d: CoreDriver!
    private var a: UInt64 = 0
    private var b: UInt64 = 0

    override func setUpWithError() throws {
        d = try CoreDriver()
        a = try d.connectNewSession().conn  // zxid 1
        b = try d.connectNewSession().conn  // zxid 2
    }

    /// The failed writes' replies must keep their place among the connection's other replies: a client that sees
    /// xid 2 answered before xid 1 drops the connection ("Xid out of order").
    func testFailedWritesKeepTheirPlaceAmongQueuedReads() throws {
        XCTAssertEqual(d.send(a, xid: 1, .create("/a")), [.persist([3])])
        XCTAssertEqual(d.send(a, xid: 2, .exists("/zookeeper/quota")), [])
        XCTAssertEqual(d.send(a, xid: 3, .create("/c")), [.persist([4])])
        let quota = try XCTUnwrap(d.core.tree.exists("/zookeeper/quota"))
        XCTAssertEqual(
            d.persistFailed(),
            [
                .error(a, xid: 1, zxid: 2, .systemError), .ok(a, xid: 2, zxid: 2, .exists(StatResponse(stat: quota))),
                .error(a, xid: 3, zxid: 2, .systemError),
            ])
    }

    /// Once every failed request is answered nothing of the connection is in flight, so `cons` and backpressure
    /// see an idle connection.
    func testNothingStaysOutstandingAfterTheFailure() throws {
        _ = d.send(a, xid: 1, .create("/a"))
        _ = d.send(a, xid: 2, .create("/b"))
        XCTAssertEqual(d.persistFailed().count, 2)
        XCTAssertEqual(d.core.conns[a]?.outstanding, 0)
        XCTAssertTrue(d.core.pipeline.isEmpty)
    }

    /// A session that expires after the log failed cannot be closed by a transaction; its client must not get a
    /// reply to a request it never sent (xid 0), and the connection must not be left open but deaf.
    func testExpiryAfterTheLogFailedClosesTheConnectionWithoutAReply() throws {
        _ = d.persistFailed()
        let out = d.tick(at: 10_000_000)
        XCTAssertEqual(Set(out.map(\.description)), Set([Event.close(a), .close(b)].map(\.description)))
        XCTAssertEqual(out.count, 2, "\(out)")
    }
}
