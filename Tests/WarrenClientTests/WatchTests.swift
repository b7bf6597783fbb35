import WarrenClient
import WarrenJute
import XCTest

/// One-shot and persistent watches firing through the event streams.
final class WatchTests: ClientTestCase {
    func testDataWatchFiresOnceOnChange() async throws {
        let client = try await connect()
        let writer = try await connect()
        try await client.create(path("d"), data: "1".bytes)
        let events = Recorder(client.watchEvents())
        _ = try await client.getData(path("d"), watch: true)
        try await writer.setData(path("d"), data: "2".bytes)
        let first = await next(events)
        XCTAssertEqual(first, WatchEvent(type: .nodeDataChanged, state: .syncConnected, path: path("d")))
        // One-shot: a second change without re-arming is not reported.
        try await writer.setData(path("d"), data: "3".bytes)
        try await writer.delete(path("d"))
        _ = try await client.exists(path("other"), watch: true)
        try await writer.create(path("other"))
        // Events arrive in order, so the next one being for "other" shows nothing more came for "d".
        let after = await next(events)
        XCTAssertEqual(after, WatchEvent(type: .nodeCreated, state: .syncConnected, path: path("other")))
    }

    func testExistsWatchOnMissingNodeFiresOnCreate() async throws {
        let client = try await connect()
        let writer = try await connect()
        let events = Recorder(client.watchEvents())
        let stat = try await client.exists(path("later"), watch: true)
        XCTAssertNil(stat)
        try await writer.create(path("later"))
        let event = await next(events)
        XCTAssertEqual(event, WatchEvent(type: .nodeCreated, state: .syncConnected, path: path("later")))
    }

    func testChildAndDeleteWatches() async throws {
        let client = try await connect()
        let writer = try await connect()
        try await client.create(path("p"))
        let events = Recorder(client.watchEvents())
        _ = try await client.getChildren(path("p"), watch: true)
        _ = try await client.getData(path("p"), watch: true)
        try await writer.create(path("p/kid"))
        let child = await next(events)
        XCTAssertEqual(child, WatchEvent(type: .nodeChildrenChanged, state: .syncConnected, path: path("p")))
        _ = try await client.getChildren(path("p"), watch: true)
        try await writer.delete(path("p/kid"))
        try await writer.delete(path("p"))
        let got = await collect(events, until: { $0.count >= 2 })
        XCTAssertEqual(Set(got), [
            WatchEvent(type: .nodeChildrenChanged, state: .syncConnected, path: path("p")),
            WatchEvent(type: .nodeDeleted, state: .syncConnected, path: path("p")),
        ])
    }

    func testFilteredStreamsSeeOnlyTheirEvents() async throws {
        let client = try await connect()
        let writer = try await connect()
        try await client.create(path("a"))
        try await client.create(path("b"))
        let onlyB = Recorder(client.watchEvents { $0.path.hasSuffix("/b") })
        let all = Recorder(client.watchEvents())
        _ = try await client.getData(path("a"), watch: true)
        _ = try await client.getData(path("b"), watch: true)
        try await writer.setData(path("a"), data: [1])
        try await writer.setData(path("b"), data: [2])
        let fromB = await next(onlyB)
        XCTAssertEqual(fromB?.path, path("b"))
        let both = await collect(all, until: { $0.count >= 2 })
        XCTAssertEqual(both.map(\.path), [path("a"), path("b")])
    }

    func testPersistentAndRecursiveWatches() async throws {
        let client = try await connect()
        let writer = try await connect()
        try await client.create(path("pw"))
        let events = Recorder(client.watchEvents())
        try await client.addWatch(path("pw"), mode: .persistent)
        try await writer.setData(path("pw"), data: [1])
        try await writer.setData(path("pw"), data: [2])
        try await writer.create(path("pw/kid"))
        let got = await collect(events, until: { $0.count >= 3 })
        XCTAssertEqual(got.map(\.type), [.nodeDataChanged, .nodeDataChanged, .nodeChildrenChanged])
        try await client.checkWatches(path("pw"), type: .any)

        try await client.create(path("rw"))
        let prefix = path("rw")
        let recursive = Recorder(client.watchEvents { $0.path.hasPrefix(prefix) })
        try await client.addWatch(path("rw"), mode: .persistentRecursive)
        try await writer.create(path("rw/x"))
        try await writer.create(path("rw/x/y"))
        try await writer.setData(path("rw/x/y"), data: [9])
        let deep = await collect(recursive, until: { $0.count >= 3 })
        XCTAssertEqual(deep, [
            WatchEvent(type: .nodeCreated, state: .syncConnected, path: path("rw/x")),
            WatchEvent(type: .nodeCreated, state: .syncConnected, path: path("rw/x/y")),
            WatchEvent(type: .nodeDataChanged, state: .syncConnected, path: path("rw/x/y")),
        ])
    }

    func testRemoveAndCheckWatches() async throws {
        let client = try await connect()
        let writer = try await connect()
        try await client.create(path("r"))
        await assertZooKeeperError(.noWatcher) { try await client.checkWatches(self.path("r"), type: .data) }
        _ = try await client.getData(path("r"), watch: true)
        try await client.checkWatches(path("r"), type: .data)
        let events = Recorder(client.watchEvents())
        try await client.removeWatches(path("r"), type: .data)
        let removed = await next(events)
        XCTAssertEqual(removed, WatchEvent(type: .dataWatchRemoved, state: .syncConnected, path: path("r")))
        await assertZooKeeperError(.noWatcher) { try await client.checkWatches(self.path("r"), type: .data) }
        await assertZooKeeperError(.noWatcher) { try await client.removeWatches(self.path("r"), type: .children) }
        // The server no longer fires the removed watch.
        try await writer.setData(path("r"), data: [1])
        let none = await next(events, within: 1)
        XCTAssertNil(none)
    }
}
