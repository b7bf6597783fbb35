import WarrenJute
import XCTest

@testable import WarrenTree

final class DataTreeContainerTTLTests: XCTestCase {
    func testEphemeralOwnerEncodings() {
        XCTAssertEqual(EphemeralKind.ttlOwner(1), Int64(bitPattern: 0xFF00_0000_0000_0001))
        XCTAssertEqual(EphemeralKind.of(owner: Int64(bitPattern: 0xFF00_0000_0000_0064), extendedTypesEnabled: true), .ttl(ms: 100))
        XCTAssertEqual(EphemeralKind.of(owner: Int64(bitPattern: 0xFF00_0000_0000_0064), extendedTypesEnabled: false),
                       .ephemeral(sessionId: Int64(bitPattern: 0xFF00_0000_0000_0064)))
        XCTAssertEqual(EphemeralKind.of(owner: Int64.min, extendedTypesEnabled: false), .container)
        XCTAssertEqual(EphemeralKind.of(owner: Int64.min, extendedTypesEnabled: true), .container)
        XCTAssertEqual(EphemeralKind.of(owner: 0, extendedTypesEnabled: true), .persistent)
        XCTAssertEqual(EphemeralKind.of(owner: 0x1234, extendedTypesEnabled: true), .ephemeral(sessionId: 0x1234))
    }

    func testContainerLifecycle() throws {
        let h = TreeHarness()
        h.create("/c", mode: .container)
        let stat = try XCTUnwrap(h.stat("/c"))
        XCTAssertEqual(stat.ephemeralOwner, 0, "clients do not see the container marker")
        XCTAssertEqual(h.tree.node(h.tree.slotOf("/c")!).stat.ephemeralOwner, Int64.min)
        XCTAssertEqual(h.tree.containersToDelete(wallMs: 1_000_000), [], "never-used containers are kept")
        XCTAssertEqual(h.tree.containersToDelete(wallMs: 1_000_000, maxNeverUsedIntervalMs: 500), ["/c"])
        h.create("/c/child")
        XCTAssertEqual(h.tree.containersToDelete(wallMs: 1_000_000), [])
        XCTAssertNil(h.error(.delete(path: "/c/child", version: -1)))
        XCTAssertEqual(h.tree.containersToDelete(wallMs: 0), ["/c"])
        let r = try h.run(.deleteContainer(path: "/c")).get()
        XCTAssertEqual(r.result, .delete)
        XCTAssertEqual(r.triggers.map(\.type), [.nodeDeleted, .nodeChildrenChanged])
        XCTAssertEqual(h.tree.containerCount, 0)
        XCTAssertEqual(h.prepare(.deleteContainer(path: "/c")).failure, .noNode)
    }

    func testContainerDeleteLosesRaceWithPendingChildCreate() throws {
        let h = TreeHarness()
        h.create("/c", mode: .container)
        h.create("/c/x")
        XCTAssertNil(h.error(.delete(path: "/c/x", version: -1)))
        XCTAssertEqual(h.tree.containersToDelete(wallMs: 0), ["/c"])
        let pendingCreate = try h.prepare(.create(path: "/c/y", data: [], acl: ACL.openUnsafe, mode: .persistent)).get()
        XCTAssertEqual(h.prepare(.deleteContainer(path: "/c")).failure, .notEmpty)
        h.apply(pendingCreate)
    }

    func testTTLNeedsExtendedTypes() {
        let off = TreeHarness()
        XCTAssertEqual(off.error(.create(path: "/t", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: 100)), .unimplemented)
        XCTAssertEqual(off.error(.create(path: "/t", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: 0)), .unimplemented)
    }

    func testTTLValidation() {
        let h = TreeHarness(config: TreeConfig(extendedTypesEnabled: true))
        for bad: Int64? in [nil, 0, -5, EphemeralKind.ttlMaxMs + 1] {
            XCTAssertEqual(h.error(.create(path: "/t", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: bad)), .badArguments, "\(String(describing: bad))")
        }
        XCTAssertEqual(h.error(.create(path: "/p", data: [], acl: ACL.openUnsafe, mode: .persistent, ttlMs: 10)), .badArguments,
                       "a TTL is only valid with a TTL mode")
        XCTAssertNil(h.error(.create(path: "/t", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: EphemeralKind.ttlMaxMs)))
    }

    func testTTLNodesExpireByMtimeWhenChildless() throws {
        let h = TreeHarness(config: TreeConfig(extendedTypesEnabled: true))
        let txn = try h.prepare(.create(path: "/t-", data: [], acl: ACL.openUnsafe, mode: .persistentSequentialWithTTL, ttlMs: 100)).get()
        guard case let .createTTL(path, _, _, _, ttl) = txn.body else { return XCTFail("\(txn.body)") }
        XCTAssertEqual(path, "/t-0000000000", "the root's creation count starts at 0 despite /zookeeper")
        XCTAssertEqual(ttl, 100)
        h.apply(txn)
        let stat = try XCTUnwrap(h.stat(path))
        XCTAssertEqual(stat.ephemeralOwner, 0)
        XCTAssertEqual(h.tree.ttlNodeCount, 1)
        XCTAssertEqual(h.tree.expiredTTLNodes(wallMs: stat.mtime + 100), [], "expiry needs now - mtime > ttl")
        XCTAssertEqual(h.tree.expiredTTLNodes(wallMs: stat.mtime + 101), [path])
        h.create(path + "/kid")
        XCTAssertEqual(h.tree.expiredTTLNodes(wallMs: stat.mtime + 1_000), [], "TTL nodes with children stay")
        XCTAssertNil(h.error(.delete(path: path + "/kid", version: -1)))
        XCTAssertNil(h.error(.setData(path: path, data: [1], version: -1)))
        let touched = try XCTUnwrap(h.stat(path))
        XCTAssertEqual(h.tree.expiredTTLNodes(wallMs: touched.mtime + 50), [], "setData renews the TTL")
        XCTAssertNil(h.error(.deleteContainer(path: path)))
        XCTAssertEqual(h.tree.ttlNodeCount, 0)
    }

    func testTTLAndContainerParentsMayHaveChildren() {
        let h = TreeHarness(config: TreeConfig(extendedTypesEnabled: true))
        XCTAssertNil(h.error(.create(path: "/t", data: [], acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: 1_000)))
        h.create("/t/x")
        h.create("/c", mode: .container)
        h.create("/c/x", mode: .ephemeral, ctx: SessionContext(sessionId: 4))
        XCTAssertEqual(h.children("/c"), ["x"])
    }
}
