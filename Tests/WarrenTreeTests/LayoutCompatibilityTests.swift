import WarrenJute
import XCTest

@testable import WarrenTree

/// Pins the digest and snapshot bytes of a varied tree to the values the original layout (full path, data array and
/// stat per node) produced, so a change of in-memory layout cannot silently change what replicas compare or what
/// goes to disk. The version 1 bytes are the original layout's; versions 2 and 3 (written since) are pinned so they
/// stay stable too. The digest was re-pinned once, deliberately, when node hashing moved from byte-wise FNV-1a to
/// `WordHasher` (a digest change means mixed-version replicas disagree on `hash`, never on data).
final class LayoutCompatibilityTests: XCTestCase {
    /// FNV-1a 64 of the snapshot bytes, and the digest, as computed by the original layout for `buildTree()`.
    static let expectedSnapshotHash: UInt64 = 16_876_812_414_687_588_517
    static let expectedDigest: UInt64 = 5_519_452_063_472_355_762
    static let expectedSnapshotBytes = 4_772
    static let expectedV2SnapshotHash: UInt64 = 13_776_850_306_559_475_805
    static let expectedV2SnapshotBytes = 1_578
    static let expectedV3SnapshotHash: UInt64 = 5_915_578_727_128_680_823
    static let expectedV3SnapshotBytes = 1_586

    static func buildTree() -> DataTree {
        let tree = DataTree()
        var zxid: Int64 = 0
        let anyone = SessionContext(sessionId: 0x1000)
        let owner = SessionContext(sessionId: 0x1234_5678_9ABC)
        func run(_ op: WriteOp, _ ctx: SessionContext? = nil) {
            zxid += 1
            guard case let .success(txn) = tree.prepare(op, ctx: ctx ?? anyone, zxid: zxid, timeMs: 1_700_000_000_000 + zxid * 37) else {
                return
            }
            tree.apply(txn)
        }
        run(.createSession(sessionId: owner.sessionId, timeoutMs: 30_000))
        func create(_ path: String, _ data: [UInt8]?, _ mode: CreateMode = .persistent, _ ctx: SessionContext? = nil) {
            run(.create(path: path, data: data, acl: ACL.openUnsafe, mode: mode), ctx)
        }
        create("/a", [])
        create("/a/b", nil)
        create("/a/b/c", Array("deep".utf8))
        create("/a/b/c/d", [UInt8](repeating: 7, count: 100_000))
        create("/z\u{FC}rich", Array("umlaut".utf8))
        create("/zebra", [1, 2, 3])
        create("/\u{E9}t\u{E9}", [])
        create("/f", [])
        create("/a/seq-", Array("s".utf8), .persistentSequential)
        create("/a/seq-", nil, .persistentSequential)
        create("/a/eph", Array("mine".utf8), .ephemeral, owner)
        create("/box", [], .container)
        for i in 0..<50 { create("/many/n\(i)", [UInt8](repeating: UInt8(i), count: i)) }
        create("/many", [])
        for i in 0..<50 { create("/many/n\(i)", [UInt8](repeating: UInt8(i), count: i)) }
        for i in stride(from: 0, to: 50, by: 3) { run(.delete(path: "/many/n\(i)", version: -1)) }
        for i in stride(from: 1, to: 50, by: 4) { run(.setData(path: "/many/n\(i)", data: Array("v\(i)".utf8), version: -1)) }
        run(.setData(path: "/a/b", data: nil, version: 0))
        run(.setData(path: "/a/b/c/d", data: Array("small now".utf8), version: -1))
        run(.setACL(path: "/zebra", acl: [ACL(perms: .all, id: Id(scheme: "world", id: "anyone"))], version: -1))
        run(.setACL(path: "/f", acl: ACL.readUnsafe, version: -1))
        return tree
    }

    func testDigestAndSnapshotMatchTheOriginalLayout() throws {
        let tree = LayoutCompatibilityTests.buildTree()
        func fnv(_ bytes: [UInt8]) -> UInt64 {
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
            return h
        }
        let v1 = tree.snapshot(version: 1)
        let v2 = tree.snapshot(version: 2)
        let v3 = tree.snapshot()
        print("layout-compat: v1 hash=\(fnv(v1)) bytes=\(v1.count); v2 hash=\(fnv(v2)) bytes=\(v2.count); "
              + "v3 hash=\(fnv(v3)) bytes=\(v3.count); digest=\(tree.digest)")
        XCTAssertEqual(v1.count, LayoutCompatibilityTests.expectedSnapshotBytes)
        XCTAssertEqual(fnv(v1), LayoutCompatibilityTests.expectedSnapshotHash)
        XCTAssertEqual(v2.count, LayoutCompatibilityTests.expectedV2SnapshotBytes)
        XCTAssertEqual(fnv(v2), LayoutCompatibilityTests.expectedV2SnapshotHash)
        XCTAssertEqual(v3.count, LayoutCompatibilityTests.expectedV3SnapshotBytes)
        XCTAssertEqual(fnv(v3), LayoutCompatibilityTests.expectedV3SnapshotHash)
        XCTAssertEqual(tree.digest, LayoutCompatibilityTests.expectedDigest)
        for bytes in [v1, v2, v3] {
            let restored = try DataTree.restore(from: bytes)
            XCTAssertEqual(restored.digest, tree.digest)
            XCTAssertEqual(restored.snapshot(version: 1), v1)
            XCTAssertEqual(restored.snapshot(version: 2), v2)
            XCTAssertEqual(restored.snapshot(), v3)
        }
    }
}
