import XCTest
import WarrenJute
@testable import ZKFS

final class ChangeEventTests: XCTestCase {
    func testInotifywaitLines() {
        XCTAssertEqual(ChangeEvent(node: "/app/config", kind: .modify, isDirectory: false).inotifyLine(mountpoint: "/zk"),
                       "/zk/app/ MODIFY config\n")
        XCTAssertEqual(ChangeEvent(node: "/locks", kind: .create, isDirectory: true).inotifyLine(mountpoint: "/zk"),
                       "/zk/ CREATE,ISDIR locks\n")
        XCTAssertEqual(ChangeEvent(directory: "/app", name: ".data", kind: .modify, isDirectory: false)
            .inotifyLine(mountpoint: "/mnt/zk"), "/mnt/zk/app/ MODIFY .data\n")
        XCTAssertEqual(ChangeEvent(node: "/a/b c", kind: .delete, isDirectory: false).inotifyLine(mountpoint: "/zk"),
                       "/zk/a/ DELETE b c\n")
        XCTAssertEqual(ChangeEvent.overflowLine(mountpoint: "/zk", dropped: 3), "/zk/ Q_OVERFLOW 3\n")
        XCTAssertEqual(ChangeEvent.overflowLine(mountpoint: "/zk", dropped: nil), "/zk/ Q_OVERFLOW \n")
        XCTAssertEqual(ChangeEvent(node: "/a/b", kind: .delete, isDirectory: false).path, "/a/b")
    }
}

final class EventReaderTests: XCTestCase {
    private func reader(_ max: Int) -> EventReader {
        EventReader(linesMax: max) { "OVERFLOW \($0)\n" }
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    func testQueuedLinesAreTakenWholeUpToTheReadSize() {
        let r = reader(10)
        XCTAssertFalse(r.hasData)
        XCTAssertEqual(r.take(sizeMax: 100), [])
        r.append("aaa\n")
        r.append("bbb\n")
        XCTAssertTrue(r.hasData)
        XCTAssertEqual(text(r.take(sizeMax: 6)), "aaa\n", "a line that does not fit waits for the next read")
        XCTAssertEqual(text(r.take(sizeMax: 100)), "bbb\n")
        XCTAssertFalse(r.hasData)
    }

    func testALineLongerThanTheReadIsSplit() {
        let r = reader(10)
        r.append("0123456789\n")
        XCTAssertEqual(text(r.take(sizeMax: 4)), "0123")
        XCTAssertEqual(text(r.take(sizeMax: 100)), "456789\n")
    }

    func testOverflowDropsOldestAndReportsTheCountOnce() {
        let r = reader(3)
        for i in 0..<8 { r.append("\(i)\n") }
        XCTAssertEqual(text(r.take(sizeMax: 1000)), "OVERFLOW 5\n5\n6\n7\n")
        r.append("8\n")
        XCTAssertEqual(text(r.take(sizeMax: 1000)), "8\n")
    }

    func testAWaitingReadGetsTheNextLineAndCanBeCancelled() {
        let r = reader(10)
        var got: [String] = []
        let token = r.wait(.init(sizeMax: 100) { got.append(self.text($0)) })
        XCTAssertNotNil(token)
        XCTAssertEqual(got, [])
        r.append("x\n")
        XCTAssertEqual(got, ["x\n"])
        XCTAssertFalse(r.cancelWait(token: token!), "already answered")
        r.append("y\n")
        XCTAssertEqual(got, ["x\n"], "no waiter: the line is queued")
        XCTAssertNil(r.wait(.init(sizeMax: 100) { got.append(self.text($0)) }), "queued lines answer at once")
        XCTAssertEqual(got, ["x\n", "y\n"])
        let second = r.wait(.init(sizeMax: 100) { got.append(self.text($0)) })
        XCTAssertTrue(r.cancelWait(token: second!))
        r.append("z\n")
        XCTAssertEqual(got, ["x\n", "y\n"], "a cancelled read is never answered")
        XCTAssertEqual(text(r.take(sizeMax: 100)), "z\n")
    }
}

final class OwnChangesTests: XCTestCase {
    func testExpectedEventsAreConsumedOnceAndCancelled() {
        let own = OwnChanges()
        XCTAssertFalse(own.consume(path: "/a", type: .nodeCreated))
        own.expect(path: "/a", type: .nodeCreated)
        own.expect(path: "/a", type: .nodeDataChanged)
        own.expect(path: "/a", type: .nodeDataChanged)
        XCTAssertFalse(own.consume(path: "/a", type: .nodeDeleted))
        XCTAssertTrue(own.consume(path: "/a", type: .nodeCreated))
        XCTAssertFalse(own.consume(path: "/a", type: .nodeCreated))
        own.cancel(path: "/a", type: .nodeDataChanged)
        XCTAssertTrue(own.consume(path: "/a", type: .nodeDataChanged))
        XCTAssertFalse(own.consume(path: "/a", type: .nodeDataChanged))
    }
}

final class EventOptionsTests: XCTestCase {
    func testEventOptions() throws {
        var o = MountOptions()
        XCTAssertEqual(o.eventsName, ".events")
        XCTAssertTrue(o.inotify, "on by default")
        try o.apply(mountOptions: "noinotify")
        XCTAssertFalse(o.inotify)
        try o.apply(mountOptions: "events_name=_changes,events_queue=10,inotify")
        XCTAssertEqual(o.eventsName, "_changes")
        XCTAssertEqual(o.eventsQueueLines, 10)
        XCTAssertTrue(o.inotify)
        try o.apply(mountOptions: "noevents")
        XCTAssertNil(o.eventsName)
        for bad in ["events_name=a/b", "events_name=x@e", "events_queue=0", "events_name="] {
            XCTAssertThrowsError(try o.apply(mountOptions: bad), bad)
        }
    }

    func testNoZnodeGetsTheEventsInode() {
        XCTAssertNotEqual(InodeTable.hash(InodeKey(path: "/x", role: .file)), InodeTable.eventsIno)
        let table = InodeTable()
        XCTAssertNil(table.key(of: InodeTable.eventsIno))
    }
}
