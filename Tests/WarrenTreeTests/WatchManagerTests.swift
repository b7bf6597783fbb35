import WarrenJute
import XCTest

@testable import WarrenTree

final class WatchManagerTests: XCTestCase {
    private let a: WatcherID = 1
    private let b: WatcherID = 2
    private let c: WatcherID = 3

    /// (watcher, event type, path) triples, so tuples compare.
    private func fired(_ m: inout WatchManager, _ path: String, _ type: EventType) -> [Fired] {
        m.trigger(path: path, type: type).map { Fired($0.watcher, $0.event.type, $0.event.path) }
    }

    private struct Fired: Equatable, CustomStringConvertible {
        var watcher: WatcherID
        var type: EventType
        var path: String
        init(_ watcher: WatcherID, _ type: EventType, _ path: String) {
            self.watcher = watcher
            self.type = type
            self.path = path
        }
        var description: String { "(\(watcher), \(type), \(path))" }
    }

    // MARK: One-shot watches

    func testDataWatchFiresOnDataChangedOnceThenIsConsumed() throws {
        var m = WatchManager()
        XCTAssertTrue(try m.addWatch(a, path: "/x", kind: .data))
        XCTAssertEqual(fired(&m, "/x", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/x")])
        XCTAssertEqual(fired(&m, "/x", .nodeDataChanged), [])
        XCTAssertFalse(m.hasWatch(a, path: "/x", kind: .data))
        XCTAssertEqual(m.watchCount(of: a), 0)
    }

    func testEventCarriesSyncConnectedState() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .data)
        let events = m.trigger(path: "/x", type: .nodeDeleted)
        XCTAssertEqual(events.map(\.event), [WatchedEvent(type: .nodeDeleted, state: .syncConnected, path: "/x")])
    }

    func testDataWatchFiresOnCreatedAndDeleted() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .data)
        XCTAssertEqual(fired(&m, "/x", .nodeCreated), [Fired(a, .nodeCreated, "/x")])
        try m.addWatch(a, path: "/x", kind: .data)
        XCTAssertEqual(fired(&m, "/x", .nodeDeleted), [Fired(a, .nodeDeleted, "/x")])
    }

    func testDataWatchIgnoresChildrenChangedAndOtherPaths() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .data)
        XCTAssertEqual(fired(&m, "/x", .nodeChildrenChanged), [])
        XCTAssertEqual(fired(&m, "/x/y", .nodeCreated), [])
        XCTAssertEqual(fired(&m, "/", .nodeDataChanged), [])
        XCTAssertEqual(fired(&m, "/xy", .nodeDataChanged), [])
        XCTAssertTrue(m.hasWatch(a, path: "/x", kind: .data), "unrelated triggers must not consume the watch")
    }

    func testExistWatchFiresOnCreateAndSharesTheDataSlot() throws {
        var m = WatchManager()
        XCTAssertTrue(try m.addWatch(a, path: "/x", kind: .exist))
        XCTAssertTrue(m.hasWatch(a, path: "/x", kind: .data))
        XCTAssertFalse(try m.addWatch(a, path: "/x", kind: .data), "data and exist are one server-side slot")
        XCTAssertEqual(m.watchCount(of: a), 1)
        XCTAssertEqual(m.kinds(a, path: "/x"), [.data])
        XCTAssertEqual(fired(&m, "/x", .nodeCreated), [Fired(a, .nodeCreated, "/x")])
        XCTAssertFalse(m.hasWatch(a, path: "/x", kind: .exist))
    }

    func testChildWatchFiresOnChildrenChangedAndOnDeleteButNotOnCreateOrData() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", kind: .child)
        XCTAssertEqual(fired(&m, "/p", .nodeCreated), [])
        XCTAssertEqual(fired(&m, "/p", .nodeDataChanged), [])
        XCTAssertEqual(fired(&m, "/p/c", .nodeCreated), [], "a child's own event is not the parent's")
        XCTAssertEqual(fired(&m, "/p", .nodeChildrenChanged), [Fired(a, .nodeChildrenChanged, "/p")])
        XCTAssertEqual(fired(&m, "/p", .nodeChildrenChanged), [])
        try m.addWatch(a, path: "/p", kind: .child)
        XCTAssertEqual(fired(&m, "/p", .nodeDeleted), [Fired(a, .nodeDeleted, "/p")])
        XCTAssertEqual(m.watchCount(of: a), 0)
    }

    func testDeleteFiresOnceForAWatcherWithDataAndChildWatchesAndConsumesBoth() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", kind: .data)
        try m.addWatch(a, path: "/p", kind: .child)
        try m.addWatch(b, path: "/p", kind: .child)
        XCTAssertEqual(m.watchCount(of: a), 2)
        XCTAssertEqual(fired(&m, "/p", .nodeDeleted), [Fired(a, .nodeDeleted, "/p"), Fired(b, .nodeDeleted, "/p")])
        XCTAssertEqual(m.watchCount(of: a), 0)
        XCTAssertEqual(m.watchCount(of: b), 0)
        XCTAssertEqual(m.summary(includingChildWatches: true), WatchSummary(watchers: 0, paths: 0, watches: 0))
    }

    func testDataChangeLeavesTheChildWatchOfTheSameWatcher() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", kind: .data)
        try m.addWatch(a, path: "/p", kind: .child)
        XCTAssertEqual(fired(&m, "/p", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/p")])
        XCTAssertEqual(m.kinds(a, path: "/p"), [.child])
        XCTAssertEqual(fired(&m, "/p", .nodeChildrenChanged), [Fired(a, .nodeChildrenChanged, "/p")])
        XCTAssertEqual(m.kinds(a, path: "/p"), [])
    }

    func testEventsAreSortedByWatcherRegardlessOfRegistrationOrder() throws {
        var m = WatchManager()
        for w: WatcherID in [9, 3, 7, 1, 5] { try m.addWatch(w, path: "/x", kind: .data) }
        XCTAssertEqual(m.trigger(path: "/x", type: .nodeDataChanged).map(\.watcher), [1, 3, 5, 7, 9])
    }

    func testAddingTheSameWatchTwiceIsANoOp() throws {
        var m = WatchManager()
        XCTAssertTrue(try m.addWatch(a, path: "/x", kind: .child))
        XCTAssertFalse(try m.addWatch(a, path: "/x", kind: .child))
        XCTAssertEqual(m.watchCount(of: a), 1)
        XCTAssertEqual(fired(&m, "/x", .nodeChildrenChanged).count, 1)
    }

    // MARK: Persistent watches

    func testPersistentWatchGetsEveryEventOnItsPathAndStays() throws {
        var m = WatchManager()
        XCTAssertTrue(try m.addWatch(a, path: "/p", mode: .persistent))
        XCTAssertEqual(fired(&m, "/p", .nodeCreated), [Fired(a, .nodeCreated, "/p")])
        XCTAssertEqual(fired(&m, "/p", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/p")])
        XCTAssertEqual(fired(&m, "/p", .nodeChildrenChanged), [Fired(a, .nodeChildrenChanged, "/p")])
        XCTAssertEqual(fired(&m, "/p", .nodeDeleted), [Fired(a, .nodeDeleted, "/p")])
        XCTAssertEqual(fired(&m, "/p", .nodeCreated), [Fired(a, .nodeCreated, "/p")])
        XCTAssertTrue(m.hasWatch(a, path: "/p", kind: .persistent))
    }

    func testPersistentWatchIgnoresDescendantsOwnEvents() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", mode: .persistent)
        XCTAssertEqual(fired(&m, "/p/c", .nodeCreated), [])
        XCTAssertEqual(fired(&m, "/p/c", .nodeDataChanged), [])
        XCTAssertEqual(fired(&m, "/p/c", .nodeChildrenChanged), [])
    }

    func testPersistentWithOneShotFiresOnceAndConsumesOnlyTheOneShot() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", mode: .persistent)
        try m.addWatch(a, path: "/p", kind: .data)
        try m.addWatch(a, path: "/p", kind: .child)
        XCTAssertEqual(fired(&m, "/p", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/p")])
        XCTAssertEqual(m.kinds(a, path: "/p"), [.persistent, .child])
        XCTAssertEqual(fired(&m, "/p", .nodeDeleted), [Fired(a, .nodeDeleted, "/p")])
        XCTAssertEqual(m.kinds(a, path: "/p"), [.persistent])
    }

    func testRecursiveWatchGetsDescendantsCreateDeleteAndDataButNotChildrenChanged() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", mode: .persistentRecursive)
        XCTAssertEqual(fired(&m, "/p/c", .nodeCreated), [Fired(a, .nodeCreated, "/p/c")])
        XCTAssertEqual(fired(&m, "/p/c/d/e", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/p/c/d/e")])
        XCTAssertEqual(fired(&m, "/p/c", .nodeDeleted), [Fired(a, .nodeDeleted, "/p/c")])
        XCTAssertEqual(fired(&m, "/p", .nodeChildrenChanged), [])
        XCTAssertEqual(fired(&m, "/p/c", .nodeChildrenChanged), [])
        XCTAssertEqual(fired(&m, "/p", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/p")])
        XCTAssertEqual(fired(&m, "/p", .nodeDeleted), [Fired(a, .nodeDeleted, "/p")])
        XCTAssertTrue(m.hasWatch(a, path: "/p", kind: .persistentRecursive))
    }

    func testRecursiveWatchDoesNotMatchSiblingsWithACommonPrefix() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/p", mode: .persistentRecursive)
        XCTAssertEqual(fired(&m, "/pq", .nodeCreated), [])
        XCTAssertEqual(fired(&m, "/q/p", .nodeCreated), [])
        XCTAssertEqual(fired(&m, "/", .nodeDataChanged), [])
    }

    func testRecursiveWatchOnRootSeesEverything() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/", mode: .persistentRecursive)
        XCTAssertEqual(fired(&m, "/a", .nodeCreated), [Fired(a, .nodeCreated, "/a")])
        XCTAssertEqual(fired(&m, "/a/b/c", .nodeDeleted), [Fired(a, .nodeDeleted, "/a/b/c")])
        XCTAssertEqual(fired(&m, "/", .nodeDataChanged), [Fired(a, .nodeDataChanged, "/")])
        XCTAssertEqual(fired(&m, "/", .nodeChildrenChanged), [])
    }

    func testOneEventPerWatcherWhenSeveralWatchesMatch() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/", mode: .persistentRecursive)
        try m.addWatch(a, path: "/p", mode: .persistentRecursive)
        try m.addWatch(a, path: "/p/c", mode: .persistent)
        try m.addWatch(a, path: "/p/c", kind: .data)
        try m.addWatch(b, path: "/p", mode: .persistentRecursive)
        try m.addWatch(c, path: "/p/c", kind: .child)
        XCTAssertEqual(fired(&m, "/p/c", .nodeDeleted), [
            Fired(a, .nodeDeleted, "/p/c"), Fired(b, .nodeDeleted, "/p/c"), Fired(c, .nodeDeleted, "/p/c"),
        ])
        XCTAssertFalse(m.hasWatch(a, path: "/p/c", kind: .data))
        XCTAssertTrue(m.hasWatch(a, path: "/p/c", kind: .persistent))
    }

    func testCreateSequenceAsDataTreeIssuesIt() throws {
        // create /p/c: (/p/c, created) then (/p, childrenChanged).
        var m = WatchManager()
        try m.addWatch(a, path: "/p/c", kind: .exist)
        try m.addWatch(b, path: "/p", kind: .child)
        try m.addWatch(c, path: "/p", mode: .persistentRecursive)
        XCTAssertEqual(fired(&m, "/p/c", .nodeCreated), [
            Fired(a, .nodeCreated, "/p/c"), Fired(c, .nodeCreated, "/p/c"),
        ])
        XCTAssertEqual(fired(&m, "/p", .nodeChildrenChanged), [Fired(b, .nodeChildrenChanged, "/p")])
    }

    // MARK: Removing and checking

    func testRemoveDataWatchReturnsOkAndTheClientSideEvent() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .data)
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: WatcherType.data), .ok)
        let r = m.removeWatches(a, path: "/x", type: WatcherType.data)
        XCTAssertEqual(r, WatchRemoval(code: .ok, events: [WatchedEvent(type: .dataWatchRemoved, path: "/x")]))
        XCTAssertEqual(fired(&m, "/x", .nodeDataChanged), [])
        let again = m.removeWatches(a, path: "/x", type: WatcherType.data)
        XCTAssertEqual(again, WatchRemoval(code: .noWatcher, events: []))
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: WatcherType.data), .noWatcher)
    }

    func testRemoveWrongTypeIsNoWatcherAndKeepsTheWatch() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .child)
        XCTAssertEqual(m.removeWatches(a, path: "/x", type: WatcherType.data).code, .noWatcher)
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: WatcherType.data), .noWatcher)
        XCTAssertEqual(m.removeWatches(b, path: "/x", type: WatcherType.children).code, .noWatcher, "other watcher")
        XCTAssertEqual(m.removeWatches(a, path: "/y", type: WatcherType.children).code, .noWatcher, "other path")
        XCTAssertTrue(m.hasWatch(a, path: "/x", kind: .child))
        XCTAssertEqual(m.removeWatches(a, path: "/x", type: WatcherType.children),
                       WatchRemoval(code: .ok, events: [WatchedEvent(type: .childWatchRemoved, path: "/x")]))
    }

    func testRemoveChildrenLeavesThePersistentWatch() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", mode: .persistent)
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: WatcherType.children), .noWatcher)
        XCTAssertEqual(m.removeWatches(a, path: "/x", type: WatcherType.children).code, .noWatcher)
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: WatcherType.any), .ok)
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: .persistent), .ok)
        XCTAssertEqual(m.checkWatches(a, path: "/x", type: .persistentRecursive), .noWatcher)
        XCTAssertEqual(m.removeWatches(a, path: "/x", type: .persistent),
                       WatchRemoval(code: .ok, events: [WatchedEvent(type: .persistentWatchRemoved, path: "/x")]))
        XCTAssertEqual(fired(&m, "/x", .nodeChildrenChanged), [])
    }

    func testRemoveAnyRemovesEverythingOnThePathWithEachEvent() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .data)
        try m.addWatch(a, path: "/x", kind: .child)
        try m.addWatch(a, path: "/x", mode: .persistentRecursive)
        try m.addWatch(a, path: "/y", kind: .data)
        let r = m.removeWatches(a, path: "/x", type: WatcherType.any)
        XCTAssertEqual(r.code, .ok)
        XCTAssertEqual(r.events.map(\.type), [.dataWatchRemoved, .childWatchRemoved, .persistentWatchRemoved])
        XCTAssertEqual(m.kinds(a, path: "/x"), [])
        XCTAssertEqual(m.kinds(a, path: "/y"), [.data])
        XCTAssertEqual(fired(&m, "/x/z", .nodeCreated), [], "the recursive watch is gone too")
        XCTAssertEqual(m.removeWatches(a, path: "/x", type: WatcherType.any).code, .noWatcher)
    }

    func testRemoveRecursiveKeepsPlainPersistent() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", mode: .persistent)
        try m.addWatch(a, path: "/x", mode: .persistentRecursive)
        XCTAssertEqual(m.removeWatches(a, path: "/x", type: .persistentRecursive).code, .ok)
        XCTAssertEqual(m.kinds(a, path: "/x"), [.persistent])
        XCTAssertEqual(fired(&m, "/x/c", .nodeCreated), [])
        XCTAssertEqual(fired(&m, "/x", .nodeChildrenChanged), [Fired(a, .nodeChildrenChanged, "/x")])
    }

    func testRemovalTypeDecodesZooKeeper39WireValues() {
        XCTAssertEqual(WatchRemovalType(rawValue: 4), .persistent)
        XCTAssertEqual(WatchRemovalType(rawValue: 5), .persistentRecursive)
        XCTAssertNil(WatchRemovalType(rawValue: 6))
        XCTAssertEqual(WatchRemovalType(WatcherType.any).rawValue, WatcherType.any.rawValue)
        XCTAssertEqual(WatchRemovalType(WatcherType.children).rawValue, WatcherType.children.rawValue)
        XCTAssertEqual(WatchRemovalType(WatcherType.data).rawValue, WatcherType.data.rawValue)
    }

    func testRemoveAllDropsEveryWatchOfOneWatcherOnly() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", kind: .data)
        try m.addWatch(a, path: "/x", kind: .child)
        try m.addWatch(a, path: "/", mode: .persistentRecursive)
        try m.addWatch(b, path: "/x", kind: .data)
        XCTAssertEqual(m.removeAll(a), 3)
        XCTAssertEqual(m.removeAll(a), 0)
        XCTAssertEqual(m.watchCount(of: a), 0)
        XCTAssertEqual(fired(&m, "/x", .nodeDeleted), [Fired(b, .nodeDeleted, "/x")])
        XCTAssertEqual(m.recursiveCount, 0)
    }

    // MARK: Limit

    func testWatchLimitRefusesNewWatchesButAllowsDuplicatesAndOtherWatchers() throws {
        var m = WatchManager(watchesPerWatcherMax: 2)
        try m.addWatch(a, path: "/x", kind: .data)
        try m.addWatch(a, path: "/x", kind: .child)
        XCTAssertThrowsError(try m.addWatch(a, path: "/y", kind: .data)) { error in
            XCTAssertEqual(error as? WatchLimitExceeded, WatchLimitExceeded(watcher: self.a, watchesPerWatcherMax: 2))
        }
        XCTAssertThrowsError(try m.addWatch(a, path: "/x", mode: .persistent))
        XCTAssertFalse(try m.addWatch(a, path: "/x", kind: .exist), "an existing slot is not a new watch")
        XCTAssertTrue(try m.addWatch(b, path: "/y", kind: .data))
        XCTAssertFalse(m.hasWatch(a, path: "/y", kind: .data))
        _ = m.trigger(path: "/x", type: .nodeDataChanged)
        XCTAssertTrue(try m.addWatch(a, path: "/y", kind: .data), "firing frees room")
    }

    func testDefaultLimitIsLarge() {
        XCTAssertEqual(WatchManager().watchesPerWatcherMax, 1_000_000)
    }

    // MARK: setWatches

    private let tree: [String: NodeZxids] = [
        "/same": NodeZxids(mzxid: 5, pzxid: 5),
        "/newer": NodeZxids(mzxid: 20, pzxid: 21),
    ]

    func testSetWatchesFiresForChangesAfterRelativeZxidAndRegistersTheRest() throws {
        var m = WatchManager()
        let set = WatchSet(
            data: ["/same", "/newer", "/gone"], exist: ["/same", "/missing"], child: ["/same", "/newer", "/gone"],
            persistent: ["/p"], persistentRecursive: ["/r"])
        let events = try m.setWatches(a, relativeZxid: 10, set) { self.tree[$0] }
        XCTAssertEqual(events, [
            WatchedEvent(type: .nodeDataChanged, path: "/newer"),
            WatchedEvent(type: .nodeDeleted, path: "/gone"),
            WatchedEvent(type: .nodeCreated, path: "/same"),
            WatchedEvent(type: .nodeChildrenChanged, path: "/newer"),
            WatchedEvent(type: .nodeDeleted, path: "/gone"),
        ])
        XCTAssertEqual(m.kinds(a, path: "/same"), [.data, .child])
        XCTAssertEqual(m.kinds(a, path: "/missing"), [.data])
        XCTAssertEqual(m.kinds(a, path: "/newer"), [])
        XCTAssertEqual(m.kinds(a, path: "/gone"), [])
        XCTAssertEqual(m.kinds(a, path: "/p"), [.persistent])
        XCTAssertEqual(m.kinds(a, path: "/r"), [.persistentRecursive])
        XCTAssertEqual(m.watchCount(of: a), 5)
    }

    func testSetWatchesIsAllOrNothingAtTheLimit() throws {
        var m = WatchManager(watchesPerWatcherMax: 3)
        try m.addWatch(a, path: "/same", kind: .data)
        let set = WatchSet(data: ["/same"], child: ["/same"], persistent: ["/p", "/q"])
        XCTAssertThrowsError(try m.setWatches(a, relativeZxid: 10, set) { self.tree[$0] })
        XCTAssertEqual(m.kinds(a, path: "/same"), [.data])
        XCTAssertEqual(m.watchCount(of: a), 1)
        // Re-registering what it already holds costs nothing, so this fits exactly.
        let fits = WatchSet(data: ["/same"], child: ["/same"], persistent: ["/p"])
        XCTAssertEqual(try m.setWatches(a, relativeZxid: 10, fits) { self.tree[$0] }, [])
        XCTAssertEqual(m.watchCount(of: a), 3)
    }

    // MARK: Reports

    func testSummaryAndListingsFollowZooKeepersDataTableByDefault() throws {
        var m = WatchManager()
        try m.addWatch(b, path: "/x", kind: .data)
        try m.addWatch(a, path: "/x", kind: .data)
        try m.addWatch(a, path: "/x", mode: .persistent)
        try m.addWatch(a, path: "/y", kind: .exist)
        try m.addWatch(c, path: "/z", kind: .child)
        XCTAssertEqual(m.summary(), WatchSummary(watchers: 2, paths: 2, watches: 3))
        XCTAssertEqual(m.summary(includingChildWatches: true), WatchSummary(watchers: 3, paths: 3, watches: 4))

        let byWatcher = m.pathsByWatcher()
        XCTAssertEqual(byWatcher.map(\.watcher), [a, b])
        XCTAssertEqual(byWatcher.map(\.paths), [["/x", "/y"], ["/x"]])
        XCTAssertEqual(m.pathsByWatcher(includingChildWatches: true).map(\.watcher), [a, b, c])

        let byPath = m.watchersByPath()
        XCTAssertEqual(byPath.map(\.path), ["/x", "/y"])
        XCTAssertEqual(byPath.map(\.watchers), [[a, b], [a]])
        XCTAssertEqual(m.watchersByPath(includingChildWatches: true).map(\.path), ["/x", "/y", "/z"])
    }

    func testWatchCountCountsBothZooKeeperTables() throws {
        var m = WatchManager()
        try m.addWatch(a, path: "/x", mode: .persistent)  // data + child table
        try m.addWatch(a, path: "/y", mode: .persistentRecursive)  // data table
        try m.addWatch(b, path: "/x", kind: .data)
        try m.addWatch(b, path: "/x", kind: .child)
        XCTAssertEqual(m.watchCount, 5)
        m.removeAll(b)
        XCTAssertEqual(m.watchCount, 3)
    }

    func testIndexesStayConsistentUnderAMixedSequence() throws {
        var m = WatchManager()
        var rng = TestLCG(state: 42)
        let paths = ["/", "/a", "/a/b", "/a/b/c", "/d"]
        let kinds = WatchKind.allCases
        let types: [EventType] = [.nodeCreated, .nodeDeleted, .nodeDataChanged, .nodeChildrenChanged]
        for _ in 0..<2_000 {
            let w = WatcherID.random(in: 1...4, using: &rng)
            let p = paths.randomElement(using: &rng)!
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<5: try m.addWatch(w, path: p, kind: kinds.randomElement(using: &rng)!)
            case 5..<8: _ = m.trigger(path: p, type: types.randomElement(using: &rng)!)
            case 8: _ = m.removeWatches(w, path: p, type: WatchRemovalType.allCases.randomElement(using: &rng)!)
            default: m.removeAll(w)
            }
            assertConsistent(m)
        }
    }

    private func assertConsistent(_ m: WatchManager, file: StaticString = #filePath, line: UInt = #line) {
        var slots: [WatcherID: Int] = [:]
        var paths: [WatcherID: Set<String>] = [:]
        var recursive = 0
        for (path, holders) in m.modesByPath {
            XCTAssertFalse(holders.isEmpty, "empty holder map at \(path)", file: file, line: line)
            for (w, modes) in holders {
                XCTAssertFalse(modes.isEmpty, file: file, line: line)
                slots[w, default: 0] += modes.count
                paths[w, default: []].insert(path)
                if modes.contains(.recursive) { recursive += 1 }
            }
        }
        XCTAssertEqual(slots, m.slotCountByWatcher, file: file, line: line)
        XCTAssertEqual(paths, m.pathsByWatcher, file: file, line: line)
        XCTAssertEqual(recursive, m.recursiveCount, file: file, line: line)
    }
}

/// A fixed-sequence generator so the mixed-sequence test is reproducible.
private struct TestLCG: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }
}
