@testable import WarrenClient
import WarrenJute
import XCTest

/// The client's record of server-side watches, which decides what setWatches re-registers after a reconnect.
final class WatchTableTests: XCTestCase {
    private func event(_ type: EventType, _ path: String) -> WatchEvent {
        WatchEvent(type: type, state: .syncConnected, path: path)
    }

    func testOnlySuccessfulRequestsLeaveWatches() {
        var table = WatchTable()
        table.register(.data("/a"), code: .noNode)
        table.register(.child("/a"), code: .noAuth)
        XCTAssertTrue(table.isEmpty)
        table.register(.exists("/missing"), code: .noNode)
        table.register(.exists("/present"), code: .ok)
        table.register(.data("/d"), code: .ok)
        table.register(.child("/c"), code: .ok)
        XCTAssertEqual(table.exist, ["/missing"])
        XCTAssertEqual(table.data, ["/present", "/d"])
        XCTAssertEqual(table.child, ["/c"])
        XCTAssertFalse(table.hasPersistent)
        table.register(.persistentRecursive("/r"), code: .ok)
        XCTAssertTrue(table.hasPersistent)
    }

    func testEventsConsumeOneShotWatchesOnly() {
        var table = WatchTable()
        table.register(.data("/a"), code: .ok)
        table.register(.child("/a"), code: .ok)
        table.register(.exists("/b"), code: .noNode)
        table.register(.persistent("/a"), code: .ok)
        table.consume(event(.nodeDataChanged, "/a"))
        XCTAssertEqual(table.data, [])
        XCTAssertEqual(table.child, ["/a"], "a data change leaves the child watch")
        table.consume(event(.nodeCreated, "/b"))
        XCTAssertEqual(table.exist, [])
        table.register(.data("/a"), code: .ok)
        table.consume(event(.nodeDeleted, "/a"))
        XCTAssertEqual(table.data, [])
        XCTAssertEqual(table.child, [])
        XCTAssertEqual(table.persistent, ["/a"], "persistent watches survive every event")
    }

    func testRemoveReportsRemovedKinds() {
        var table = WatchTable()
        table.register(.exists("/a"), code: .noNode)
        table.register(.child("/a"), code: .ok)
        table.register(.persistent("/a"), code: .ok)
        XCTAssertEqual(table.remove(path: "/a", type: .data), [.dataWatchRemoved])
        XCTAssertEqual(table.remove(path: "/a", type: .data), [])
        XCTAssertEqual(table.remove(path: "/a", type: .any), [.childWatchRemoved, .persistentWatchRemoved])
        XCTAssertTrue(table.isEmpty)
    }

    func testChrootMapping() {
        let chroot = Chroot(root: "/app")
        XCTAssertEqual(chroot.serverPath("/"), "/app")
        XCTAssertEqual(chroot.serverPath("/x/y"), "/app/x/y")
        XCTAssertEqual(chroot.clientPath("/app"), "/")
        XCTAssertEqual(chroot.clientPath("/app/x"), "/x")
        XCTAssertEqual(chroot.clientPath("/apple"), "/apple", "a sibling with a common prefix is not inside")
        XCTAssertEqual(Chroot(root: nil).serverPath("/x"), "/x")
    }
}
