import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Watches are registered by reads and fire, as xid -1 notifications, before the reply of the change that caused
/// them.
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

    private func setDataReply(_ xid: Int32, zxid: Int64, version: Int32) throws -> Event {
        let stat = try XCTUnwrap(d.core.tree.exists("/x"))
        XCTAssertEqual(stat.version, version)
        return .ok(b, xid: xid, zxid: zxid, .setData(StatResponse(stat: stat)))
    }

    func testDataWatchFiresBeforeTheWritersReply() throws {
        XCTAssertEqual(d.send(a, xid: 1, .getData("/x", watch: true)).count, 1)
        XCTAssertEqual(d.send(b, xid: 1, .setData("/x", "1")), [.persist([4])])
        let out = d.durable(upTo: 4)
        XCTAssertEqual(out, [.watch(a, .nodeDataChanged, "/x"), try setDataReply(1, zxid: 4, version: 1)])
    }

    func testWatchOfTheWritingConnectionFiresBeforeItsOwnReply() throws {
        XCTAssertEqual(d.send(b, xid: 1, .exists("/x", watch: true)).count, 1)
        let out = d.write(b, xid: 2, .setData("/x", "1"))
        XCTAssertEqual(out, [.persist([4]), .watch(b, .nodeDataChanged, "/x"), try setDataReply(2, zxid: 4, version: 1)])
    }

    func testExistsWatchOnAMissingNodeFiresNodeCreated() throws {
        XCTAssertEqual(d.send(a, xid: 1, .exists("/y", watch: true)), [.error(a, xid: 1, zxid: 3, .noNode)])
        XCTAssertEqual(
            d.write(b, xid: 1, .create("/y")),
            [.persist([4]), .watch(a, .nodeCreated, "/y"), .ok(b, xid: 1, zxid: 4, .create(CreateResponse(path: "/y")))])
    }

    func testChildWatchOnTheParentFiresNodeChildrenChanged() throws {
        XCTAssertEqual(
            d.send(a, xid: 1, .getChildren("/x", watch: true)),
            [.ok(a, xid: 1, zxid: 3, .getChildren(GetChildrenResponse(children: [])))])
        XCTAssertEqual(
            d.write(b, xid: 1, .create("/x/c")),
            [
                .persist([4]), .watch(a, .nodeChildrenChanged, "/x"),
                .ok(b, xid: 1, zxid: 4, .create(CreateResponse(path: "/x/c"))),
            ])
    }

    func testDeleteFiresDataAndChildWatches() throws {
        _ = d.send(a, xid: 1, .getData("/x", watch: true))
        _ = d.send(a, xid: 2, .getChildren("/", watch: true))
        let out = d.write(b, xid: 1, .delete("/x"))
        XCTAssertEqual(out.first, .persist([4]))
        XCTAssertEqual(out.last, .ok(b, xid: 1, zxid: 4))
        XCTAssertEqual(
            Set(out.dropFirst().dropLast().map(\.description)),
            Set([Event.watch(a, .nodeDeleted, "/x"), .watch(a, .nodeChildrenChanged, "/")].map(\.description)))
        XCTAssertEqual(out.count, 4, "\(out)")
    }

    func testWatchesAreOneShot() throws {
        _ = d.send(a, xid: 1, .getData("/x", watch: true))
        XCTAssertEqual(d.write(b, xid: 1, .setData("/x", "1")).dropFirst().first, .watch(a, .nodeDataChanged, "/x"))
        XCTAssertEqual(d.write(b, xid: 2, .setData("/x", "2")), [.persist([5]), try setDataReply(2, zxid: 5, version: 2)])
    }

    func testWatchesAreRemovedWhenTheConnectionCloses() throws {
        _ = d.send(a, xid: 1, .getData("/x", watch: true))
        _ = d.send(a, xid: 2, .exists("/y", watch: true))
        XCTAssertEqual(d.closed(a), [])
        XCTAssertEqual(d.write(b, xid: 1, .setData("/x", "1")), [.persist([4]), try setDataReply(1, zxid: 4, version: 1)])
        XCTAssertEqual(d.write(b, xid: 2, .create("/y")), [.persist([5]), .ok(b, xid: 2, zxid: 5, .create(CreateResponse(path: "/y")))])
    }

    func testFailedWriteFiresNothing() throws {
        _ = d.send(a, xid: 1, .getData("/x", watch: true))
        XCTAssertEqual(d.write(b, xid: 1, .setData("/x", "1", version: 7)), [.persist([4]), .error(b, xid: 1, zxid: 4, .badVersion)])
        XCTAssertEqual(d.write(b, xid: 2, .setData("/x", "1")).dropFirst().first, .watch(a, .nodeDataChanged, "/x"))
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
