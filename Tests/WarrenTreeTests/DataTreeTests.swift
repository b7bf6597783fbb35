import WarrenJute
import XCTest

@testable import WarrenTree

/// Prepares and applies ops one at a time with increasing zxids and times, keeping the txn log.
final class TreeHarness {
    let tree: DataTree
    var zxid: Int64 = 0
    var timeMs: Int64 = 1_000
    private(set) var log: [Txn] = []

    init(config: TreeConfig = TreeConfig()) { tree = DataTree(config: config) }

    /// Prepares the next txn without applying it.
    func prepare(_ op: WriteOp, _ ctx: SessionContext = .anyone) -> Result<Txn, ErrorCode> {
        let result = tree.prepare(op, ctx: ctx, zxid: zxid + 1, timeMs: timeMs + 1)
        if case let .success(txn) = result {
            zxid += 1
            timeMs += 1
            log.append(txn)
        }
        return result
    }

    @discardableResult
    func apply(_ txn: Txn) -> ApplyResult { tree.apply(txn) }

    /// Prepare then apply; the error of a failed prepare.
    @discardableResult
    func run(_ op: WriteOp, _ ctx: SessionContext = .anyone) -> Result<ApplyResult, ErrorCode> {
        prepare(op, ctx).map { tree.apply($0) }
    }

    @discardableResult
    func create(_ path: String, _ data: String = "", mode: CreateMode = .persistent, acl: [ACL] = ACL.openUnsafe,
                ctx: SessionContext = .anyone, file: StaticString = #filePath, line: UInt = #line) -> String {
        switch run(.create(path: path, data: Array(data.utf8), acl: acl, mode: mode), ctx) {
        case let .success(r):
            guard case let .create(created, _) = r.result else {
                XCTFail("create \(path): \(r.result)", file: file, line: line)
                return ""
            }
            return created
        case let .failure(e):
            XCTFail("create \(path) failed: \(e)", file: file, line: line)
            return ""
        }
    }

    func error(_ op: WriteOp, _ ctx: SessionContext = .anyone) -> ErrorCode? {
        if case let .failure(e) = run(op, ctx) { return e }
        return nil
    }

    func stat(_ path: String) -> Stat? { tree.exists(path) }

    func children(_ path: String) -> [String] {
        (try? tree.getChildren(path, ctx: .superUser()).get().children.sorted()) ?? []
    }

    /// The node's data as text ("" for null data), or nil when the node does not exist.
    func data(_ path: String) -> String? {
        (try? tree.getData(path, ctx: .superUser()).get()).map { String(decoding: $0.data ?? [], as: UTF8.self) }
    }
}

extension SessionContext {
    static let anyone = SessionContext(sessionId: 0x1000)
}

final class DataTreeTests: XCTestCase {
    /// Values checked against a fresh ZooKeeper 3.8 server (`stat /`, `mntr`).
    func testFreshTreeLooksLikeZooKeeper() throws {
        let h = TreeHarness()
        XCTAssertEqual(h.children("/"), ["zookeeper"])
        XCTAssertEqual(h.children("/zookeeper"), ["config", "quota"])
        XCTAssertEqual(h.tree.nodeCount, 4)
        XCTAssertEqual(h.tree.reportedNodeCount, 5)
        XCTAssertEqual(h.tree.approximateDataSize, 44)
        let root = try XCTUnwrap(h.stat("/"))
        XCTAssertEqual(root, Stat(czxid: 0, mzxid: 0, ctime: 0, mtime: 0, version: 0, cversion: -1, aversion: 0,
                                  ephemeralOwner: 0, dataLength: 0, numChildren: 1, pzxid: 0))
        XCTAssertEqual(h.stat("/zookeeper")?.cversion, -2)
        XCTAssertEqual(h.tree.acl(of: "/"), ACL.openUnsafe)
        XCTAssertEqual(h.tree.acl(of: "/zookeeper/config"), ACL.readUnsafe)
        XCTAssertEqual(h.stat("/zookeeper/config")?.aversion, -1, "as ZooKeeper 3.8 reports it")
        XCTAssertEqual(h.tree.lastProcessedZxid, 0)
    }

    func testCreateSetsStatAndParent() throws {
        let h = TreeHarness()
        XCTAssertEqual(h.create("/a", "hello"), "/a")
        let a = try XCTUnwrap(h.stat("/a"))
        XCTAssertEqual(a, Stat(czxid: 1, mzxid: 1, ctime: 1_001, mtime: 1_001, version: 0, cversion: 0, aversion: 0,
                               ephemeralOwner: 0, dataLength: 5, numChildren: 0, pzxid: 1))
        h.create("/a/b")
        let parent = try XCTUnwrap(h.stat("/a"))
        XCTAssertEqual(parent.cversion, 1)
        XCTAssertEqual(parent.pzxid, 2)
        XCTAssertEqual(parent.numChildren, 1)
        XCTAssertEqual(parent.mzxid, 1, "a child create does not modify the parent's data")
        XCTAssertEqual(h.data("/a"), "hello")
        XCTAssertEqual(h.tree.lastProcessedZxid, 2)
        XCTAssertEqual(h.tree.nodeCount, 6)
        XCTAssertEqual(h.tree.approximateDataSize, 44 + 2 + 5 + 4)
    }

    /// The same steps against ZooKeeper 3.8 gave these client-visible cversions.
    func testCVersionMatchesZooKeeperSession() {
        let h = TreeHarness()
        XCTAssertEqual(h.create("/t-", mode: .persistentSequential), "/t-0000000000")
        h.create("/a", "hello")
        XCTAssertEqual(h.stat("/a")?.cversion, 0)
        h.create("/a/b")
        XCTAssertEqual(h.stat("/a")?.cversion, 1)
        XCTAssertEqual(h.stat("/")?.cversion, 1)
        XCTAssertEqual(h.stat("/")?.numChildren, 3)
        XCTAssertNil(h.error(.delete(path: "/a/b", version: -1)))
        XCTAssertEqual(h.stat("/a")?.cversion, 2)
        XCTAssertEqual(h.stat("/a")?.pzxid, 4)
    }

    func testCreateErrors() {
        let h = TreeHarness()
        h.create("/a")
        XCTAssertEqual(h.error(.create(path: "/a", data: [], acl: ACL.openUnsafe, mode: .persistent)), .nodeExists)
        XCTAssertEqual(h.error(.create(path: "/x/y", data: [], acl: ACL.openUnsafe, mode: .persistent)), .noNode)
        XCTAssertEqual(h.error(.create(path: "a", data: [], acl: ACL.openUnsafe, mode: .persistent)), .badArguments)
        XCTAssertEqual(h.error(.create(path: "/a/", data: [], acl: ACL.openUnsafe, mode: .persistent)), .badArguments)
        XCTAssertEqual(h.error(.create(path: "/a/..", data: [], acl: ACL.openUnsafe, mode: .persistent)), .badArguments)
        // ZooKeeper looks the parent up before validating the whole path.
        XCTAssertEqual(h.error(.create(path: "/a/../b", data: [], acl: ACL.openUnsafe, mode: .persistent)), .noNode)
        XCTAssertEqual(h.error(.create(path: "/", data: [], acl: ACL.openUnsafe, mode: .persistent)), .nodeExists)
        XCTAssertEqual(h.error(.create(path: "/b", data: [], acl: [], mode: .persistent)), .invalidACL)
        XCTAssertEqual(h.error(.create(path: "/b", data: [], acl: ACL.openUnsafe, mode: .persistent, ttlMs: 5)), .badArguments)
        XCTAssertEqual(h.tree.nodeCount, 5, "failed creates leave nothing behind")
        XCTAssertEqual(h.tree.preparedChangeCount, 0)
    }

    func testSequentialNamesCountCreationsNotLiveChildren() {
        let h = TreeHarness()
        h.create("/s")
        XCTAssertEqual(h.create("/s/n-", mode: .persistentSequential), "/s/n-0000000000")
        h.create("/s/x")
        XCTAssertNil(h.error(.delete(path: "/s/x", version: -1)))
        XCTAssertEqual(h.create("/s/n-", mode: .persistentSequential), "/s/n-0000000002")
        XCTAssertEqual(h.create("/s/", mode: .persistentSequential), "/s/0000000003", "a sequential prefix may end in /")
        XCTAssertEqual(h.stat("/s")?.cversion, 5, "4 creates + 1 delete")
    }

    func testSequenceSuffixFormatsLikeJava() {
        XCTAssertEqual(PathValidation.sequenceSuffix(0), "0000000000")
        XCTAssertEqual(PathValidation.sequenceSuffix(42), "0000000042")
        XCTAssertEqual(PathValidation.sequenceSuffix(Int32.max), "2147483647")
        XCTAssertEqual(PathValidation.sequenceSuffix(-5), "-000000005")
        XCTAssertEqual(PathValidation.sequenceSuffix(Int32.min), "-2147483648")
    }

    func testDeleteRulesAndParentStat() throws {
        let h = TreeHarness()
        h.create("/a")
        h.create("/a/b")
        XCTAssertEqual(h.error(.delete(path: "/a", version: -1)), .notEmpty)
        XCTAssertEqual(h.error(.delete(path: "/a/b", version: 3)), .badVersion)
        XCTAssertEqual(h.error(.delete(path: "/a/c", version: -1)), .noNode)
        XCTAssertEqual(h.error(.delete(path: "/q/c", version: -1)), .noNode)
        XCTAssertEqual(h.error(.delete(path: "a", version: -1)), .badArguments)
        for system in DataTree.systemPaths {
            XCTAssertEqual(h.error(.delete(path: system, version: -1)), .badArguments, system)
        }
        let r = try h.run(.delete(path: "/a/b", version: 0)).get()
        XCTAssertEqual(r.result, .delete)
        XCTAssertNil(h.stat("/a/b"))
        let a = try XCTUnwrap(h.stat("/a"))
        XCTAssertEqual(a.numChildren, 0)
        XCTAssertEqual(a.cversion, 2)
        XCTAssertEqual(a.pzxid, r.header.zxid)
        XCTAssertEqual(r.triggers.map(\.type), [.nodeDeleted, .nodeChildrenChanged])
        XCTAssertEqual(r.triggers.map(\.path), ["/a/b", "/a"])
    }

    func testSetDataVersionsAndTriggers() throws {
        let h = TreeHarness()
        h.create("/a", "x")
        XCTAssertEqual(h.error(.setData(path: "/a", data: [1], version: 1)), .badVersion)
        XCTAssertEqual(h.error(.setData(path: "/nope", data: [1], version: -1)), .noNode)
        XCTAssertEqual(h.error(.setData(path: "/a/", data: [1], version: -1)), .badArguments)
        let r = try h.run(.setData(path: "/a", data: Array("hello".utf8), version: 0)).get()
        guard case let .setData(stat) = r.result else { return XCTFail("\(r.result)") }
        XCTAssertEqual(stat.version, 1)
        XCTAssertEqual(stat.mzxid, r.header.zxid)
        XCTAssertEqual(stat.mtime, r.header.timeMs)
        XCTAssertEqual(stat.czxid, 1)
        XCTAssertEqual(stat.dataLength, 5)
        XCTAssertEqual(r.triggers, [WatchTrigger(path: "/a", type: .nodeDataChanged, acl: ACL.openUnsafe)])
        XCTAssertEqual(h.data("/a"), "hello")
        XCTAssertEqual(h.tree.approximateDataSize, 44 + 2 + 5)
        XCTAssertNil(h.error(.setData(path: "/a", data: [], version: -1)))
        XCTAssertEqual(h.stat("/a")?.version, 2)
    }

    func testVersionWrapsPastMinusOne() throws {
        let h = TreeHarness()
        h.create("/v")
        h.zxid += 1
        h.apply(Txn(header: TxnHeader(sessionId: 1, cxid: 0, zxid: h.zxid, timeMs: 5), body: .setData(path: "/v", data: [], version: Int32.max)))
        let wrapped = try h.run(.setData(path: "/v", data: [], version: Int32.max)).get()
        guard case let .setData(stat) = wrapped.result else { return XCTFail() }
        XCTAssertEqual(stat.version, Int32.min)
        h.zxid += 1
        h.apply(Txn(header: TxnHeader(sessionId: 1, cxid: 0, zxid: h.zxid, timeMs: 5), body: .setData(path: "/v", data: [], version: -2)))
        XCTAssertNil(h.error(.setData(path: "/v", data: [], version: -2)))
        XCTAssertEqual(h.stat("/v")?.version, 0, "-1 is skipped: it means 'any version'")
    }

    func testCreateTriggersAndResultStat() throws {
        let h = TreeHarness()
        let r = try h.run(.create(path: "/w", data: [9], acl: ACL.openUnsafe, mode: .persistent)).get()
        XCTAssertEqual(r.triggers.map(\.type), [.nodeCreated, .nodeChildrenChanged])
        XCTAssertEqual(r.triggers.map(\.path), ["/w", "/"])
        guard case let .create(path, stat) = r.result else { return XCTFail() }
        XCTAssertEqual(path, "/w")
        XCTAssertEqual(stat, h.stat("/w"))
    }

    func testEphemeralsAndCloseSession() throws {
        let h = TreeHarness()
        let s1 = SessionContext(sessionId: 0x11)
        let s2 = SessionContext(sessionId: 0x22)
        XCTAssertNil(h.error(.createSession(sessionId: 0x11, timeoutMs: 30_000), s1))
        h.create("/app")
        h.create("/app/e1", mode: .ephemeral, ctx: s1)
        h.create("/app/e2-", mode: .ephemeralSequential, ctx: s1)
        h.create("/app/other", mode: .ephemeral, ctx: s2)
        XCTAssertEqual(h.stat("/app/e1")?.ephemeralOwner, 0x11)
        XCTAssertEqual(h.error(.create(path: "/app/e1/child", data: [], acl: ACL.openUnsafe, mode: .persistent)), .noChildrenForEphemerals)
        XCTAssertEqual(h.tree.getEphemerals(sessionId: 0x11), ["/app/e1", "/app/e2-0000000001"])
        XCTAssertEqual(h.tree.getEphemerals(sessionId: 0x11, prefix: "/app/e2"), ["/app/e2-0000000001"])
        XCTAssertEqual(h.tree.getEphemerals(sessionId: 0x11, prefix: " / "), ["/app/e1", "/app/e2-0000000001"])
        XCTAssertEqual(h.tree.ephemeralCount, 3)
        XCTAssertEqual(h.tree.sessions, [0x11: 30_000])

        let close = try h.prepare(.closeSession(sessionId: 0x11)).get()
        XCTAssertEqual(close.header.sessionId, 0x11)
        XCTAssertEqual(close.body, .closeSession(paths: ["/app/e1", "/app/e2-0000000001"]))
        let r = h.apply(close)
        XCTAssertEqual(r.result, .closeSession)
        XCTAssertEqual(r.triggers.map(\.path), ["/app/e1", "/app", "/app/e2-0000000001", "/app"])
        XCTAssertEqual(r.triggers.map(\.type), [.nodeDeleted, .nodeChildrenChanged, .nodeDeleted, .nodeChildrenChanged])
        XCTAssertEqual(h.children("/app"), ["other"])
        XCTAssertEqual(h.tree.getEphemerals(sessionId: 0x11), [])
        XCTAssertEqual(h.tree.ephemeralCount, 1)
        XCTAssertEqual(h.tree.sessions, [:])
        XCTAssertEqual(h.stat("/app")?.pzxid, close.header.zxid)
    }

    func testCloseSessionSeesPreparedCreatesAndDeletes() throws {
        let h = TreeHarness()
        let s = SessionContext(sessionId: 7)
        h.create("/e1", mode: .ephemeral, ctx: s)
        h.create("/e2", mode: .ephemeral, ctx: s)
        // Not yet applied: a new ephemeral and a delete of an existing one.
        let createE3 = try h.prepare(.create(path: "/e3", data: [], acl: ACL.openUnsafe, mode: .ephemeral), s).get()
        let deleteE1 = try h.prepare(.delete(path: "/e1", version: -1), s).get()
        let close = try h.prepare(.closeSession(sessionId: 7)).get()
        XCTAssertEqual(close.body, .closeSession(paths: ["/e2", "/e3"]))
        XCTAssertEqual(h.prepare(.delete(path: "/e2", version: -1)).failure, .noNode, "the close's deletes are visible")
        for txn in [createE3, deleteE1, close] { h.apply(txn) }
        XCTAssertEqual(h.children("/"), ["zookeeper"])
        XCTAssertEqual(h.tree.preparedChangeCount, 0)
    }

    func testCloseSessionDeletesUnlistedEphemeralsToo() {
        let h = TreeHarness()
        h.create("/e1", mode: .ephemeral, ctx: SessionContext(sessionId: 5))
        h.create("/e2", mode: .ephemeral, ctx: SessionContext(sessionId: 5))
        h.zxid += 1
        let r = h.apply(Txn(header: TxnHeader(sessionId: 5, cxid: 0, zxid: h.zxid, timeMs: 0), body: .closeSession(paths: ["/e2", "/gone"])))
        XCTAssertEqual(r.triggers.filter { $0.type == .nodeDeleted }.map(\.path), ["/e2", "/e1"])
        XCTAssertEqual(h.tree.ephemeralCount, 0)
    }

    func testGetAllChildrenNumberAndReadACLChecks() throws {
        let h = TreeHarness()
        h.create("/a")
        h.create("/a/b")
        h.create("/a/b/c")
        h.create("/a/d")
        XCTAssertEqual(try h.tree.getAllChildrenNumber("/a", ctx: .anyone).get(), 3)
        XCTAssertEqual(try h.tree.getAllChildrenNumber("/", ctx: .anyone).get(), 7)
        XCTAssertEqual(h.tree.getAllChildrenNumber("/zz", ctx: .anyone).failure, .noNode)
    }
}

extension Result {
    var failure: Failure? {
        if case let .failure(e) = self { return e }
        return nil
    }
}
