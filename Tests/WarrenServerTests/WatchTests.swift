import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Watches are registered by reads and fire, as xid -1 notifications, before the reply of the change that caused
/// them. The plain data, exists and child watches are the transcript `testdata/watches.txt`; here persistent
/// watches, setWatches and what reads better as code.
final class WatchTests: XCTestCase {
    private var d: CoreDriver!
    private var a: UInt64 = 0
    private var b: UInt64 = 0

    override func setUpWithError() throws {
        d = try CoreDriver()
        a = try d.connectNewSession().conn
        b = try d.connectNewSession().conn
        // Sessions took zxids 1 and 2; /x is zxid 3.
        XCTAssertEqual(d.write(b, xid: 100, .create("/x", "0")).last, .ok(b, xid: 100, zxid: 3, .create(CreateResponse(path: "/x"))))
    }

    func testPersistentRecursiveWatchFiresForEveryDescendantChange() throws {
        XCTAssertEqual(
            d.send(a, xid: 1, .addWatch(AddWatchRequest(path: "/x", mode: .persistentRecursive))),
            [.ok(a, xid: 1, zxid: 3, .addWatch(ErrorResponse(error: .ok)))])
        XCTAssertEqual(d.write(b, xid: 1, .create("/x/c")).dropFirst().first, .watch(a, .nodeCreated, "/x/c"))
        XCTAssertEqual(d.write(b, xid: 2, .setData("/x/c", "1")).dropFirst().first, .watch(a, .nodeDataChanged, "/x/c"))
        XCTAssertEqual(d.write(b, xid: 3, .setData("/x/c", "2")).dropFirst().first, .watch(a, .nodeDataChanged, "/x/c"))
    }

    func testSetWatchesFiresForChangesTheClientMissed() throws {
        // b changes /x at zxid 4; a reconnects having last seen zxid 3 and re-registers a data watch on /x.
        _ = d.write(b, xid: 1, .setData("/x", "1"))
        let set = SetWatches(relativeZxid: 3, dataWatches: ["/x"], existWatches: [], childWatches: [])
        XCTAssertEqual(
            d.send(a, xid: Xid.setWatches, .setWatches(set)),
            [.watch(a, .nodeDataChanged, "/x"), .ok(a, xid: Xid.setWatches, zxid: 4)])
        let upToDate = SetWatches(relativeZxid: 4, dataWatches: ["/x"], existWatches: [], childWatches: [])
        XCTAssertEqual(d.send(a, xid: Xid.setWatches, .setWatches(upToDate)), [.ok(a, xid: Xid.setWatches, zxid: 4)])
    }
}
