import Dispatch
import WarrenJute
import XCTest

@testable import WarrenTree

final class SnapshotTests: XCTestCase {
    private func populatedHarness() -> TreeHarness {
        let h = TreeHarness.populated()
        XCTAssertNil(h.error(.setData(path: "/app", data: Array("v2".utf8), version: 0)))
        XCTAssertNil(h.error(.delete(path: "/app/ü-ñ", version: -1)))
        return h
    }

    func testRoundTripPreservesEverything() throws {
        let h = populatedHarness()
        let bytes = h.tree.snapshot()
        let restored = try DataTree.restore(from: bytes, config: h.tree.config)
        XCTAssertEqual(restored.digest, h.tree.digest)
        XCTAssertEqual(restored.snapshot(), bytes)
        XCTAssertEqual(restored.lastProcessedZxid, h.tree.lastProcessedZxid)
        XCTAssertEqual(restored.sessions, [0x51: 10_000, 0x52: 20_000])
        XCTAssertEqual(restored.nodeCount, h.tree.nodeCount)
        XCTAssertEqual(restored.approximateDataSize, h.tree.approximateDataSize)
        XCTAssertEqual(restored.ephemeralCount, 1)
        XCTAssertEqual(restored.containerCount, 1)
        XCTAssertEqual(restored.ttlNodeCount, 1)
        XCTAssertEqual(restored.aclListCount, h.tree.aclListCount)
        for path in ["/", "/zookeeper", "/zookeeper/config", "/app", "/app/locks", "/app/locks/l-0000000000", "/app/private", "/app/ttl"] {
            XCTAssertEqual(restored.exists(path), h.tree.exists(path), path)
            XCTAssertEqual(restored.acl(of: path), h.tree.acl(of: path), path)
            XCTAssertEqual(try restored.getData(path, ctx: .superUser()).get().data, try h.tree.getData(path, ctx: .superUser()).get().data)
        }
        XCTAssertEqual(restored.getEphemerals(sessionId: 0x51), ["/app/locks/l-0000000000"])
        XCTAssertEqual(restored.expiredTTLNodes(wallMs: h.timeMs + 60_001), ["/app/ttl"])
    }

    func testRestoredTreeContinuesLikeTheOriginal() throws {
        let h = populatedHarness()
        let restored = try DataTree.restore(from: h.tree.snapshot(), config: h.tree.config)
        let ops: [WriteOp] = [
            .create(path: "/app/s-", data: [], acl: ACL.openUnsafe, mode: .persistentSequential),
            .closeSession(sessionId: 0x51),
            .setACL(path: "/app", acl: ACL.readUnsafe, version: 0),
            .deleteContainer(path: "/app/locks"),
        ]
        var zxid = h.zxid
        for op in ops {
            zxid += 1
            let a = try h.tree.prepare(op, ctx: .superUser(), zxid: zxid, timeMs: 5_000).get()
            let b = try restored.prepare(op, ctx: .superUser(), zxid: zxid, timeMs: 5_000).get()
            XCTAssertEqual(a, b)
            XCTAssertEqual(h.tree.apply(a), restored.apply(b))
        }
        XCTAssertEqual(restored.digest, h.tree.digest)
        XCTAssertEqual(restored.snapshot(), h.tree.snapshot())
    }

    func testSnapshotIgnoresHistoryOfSlotsAndACLRefs() throws {
        // Same content, but the ACL lists were interned in different orders (setACL keeps every stat but aversion,
        // and the txn fixes the new aversion), so the trees' internal ACL references differ.
        let aclA = [ACL(perms: .all, id: Id(scheme: "digest", id: "u:h"))]
        let aclB = [ACL(perms: [.read, .write], id: Id(scheme: "ip", id: "10.0.0.0/8"))]
        func apply(_ t: DataTree, _ zxid: Int64, _ body: TxnBody) {
            XCTAssertEqual(t.apply(Txn(header: TxnHeader(sessionId: 1, cxid: 0, zxid: zxid, timeMs: 0), body: body)).errorCode, .ok)
        }
        let a = DataTree()
        let b = DataTree()
        apply(a, 1, .create(path: "/x", data: [], acl: aclA, ephemeral: false, parentCVersion: 1))
        apply(a, 2, .create(path: "/y", data: [], acl: aclB, ephemeral: false, parentCVersion: 2))
        apply(a, 3, .setACL(path: "/x", acl: aclA, version: 1))
        apply(a, 4, .setACL(path: "/y", acl: aclB, version: 1))
        apply(b, 1, .create(path: "/x", data: [], acl: aclB, ephemeral: false, parentCVersion: 1))
        apply(b, 2, .create(path: "/y", data: [], acl: aclA, ephemeral: false, parentCVersion: 2))
        apply(b, 3, .setACL(path: "/x", acl: aclA, version: 1))
        apply(b, 4, .setACL(path: "/y", acl: aclB, version: 1))
        XCTAssertNotEqual(a.node(a.slotOf("/x")!).aclRef, b.node(b.slotOf("/x")!).aclRef)
        XCTAssertEqual(a.digest, b.digest)
        XCTAssertEqual(a.snapshot(), b.snapshot())
    }

    func testCommittedCopyStaysFrozenWhileTheTreeChangesOnAnotherThread() throws {
        func txn(_ zxid: Int64, _ body: TxnBody) -> Txn {
            Txn(header: TxnHeader(sessionId: 1, cxid: 0, zxid: zxid, timeMs: zxid), body: body)
        }
        let tree = DataTree()
        for i in 1...200 {
            let body = TxnBody.create(path: "/n\(i)", data: Array("v\(i)".utf8), acl: ACL.openUnsafe, ephemeral: false,
                                      parentCVersion: Int32(i))
            XCTAssertEqual(tree.apply(txn(Int64(i), body)).errorCode, .ok)
        }
        let expected = tree.snapshot()
        let expectedDigest = tree.digest
        let copy = tree.committedCopy()
        // The copy is serialized on another thread while the original keeps applying changes.
        let done = DispatchSemaphore(value: 0)
        let handoff = Handoff(copy)
        DispatchQueue.global().async {
            handoff.bytes = handoff.tree.snapshot()
            done.signal()
        }
        for i in 1...200 {
            let body = TxnBody.setData(path: "/n\(i)", data: Array("changed".utf8), version: 1)
            XCTAssertEqual(tree.apply(txn(Int64(200 + i), body)).errorCode, .ok)
        }
        XCTAssertEqual(tree.apply(txn(401, .delete(path: "/n1"))).errorCode, .ok)
        done.wait()
        XCTAssertEqual(handoff.bytes, expected)
        XCTAssertEqual(copy.digest, expectedDigest)
        XCTAssertEqual(copy.lastProcessedZxid, 200)
        XCTAssertNotEqual(tree.snapshot(), expected)
        XCTAssertEqual(try DataTree.restore(from: handoff.bytes).digest, expectedDigest)
    }

    func testMalformedSnapshotsAreRejectedWithTypedErrors() throws {
        let tree = populatedHarness().tree
        for version in [DataTree.snapshotVersionPaths, DataTree.snapshotVersionInline, DataTree.snapshotVersion] {
            try checkMalformedAreRejected(good: tree.snapshot(version: version))
        }
    }

    private func checkMalformedAreRejected(good: [UInt8]) throws {
        XCTAssertThrowsError(try DataTree.restore(from: [])) { XCTAssertEqual($0 as? SnapshotError, .malformed(.truncated(needed: 4, available: 0))) }
        var badMagic = good
        badMagic[0] ^= 0xFF
        XCTAssertThrowsError(try DataTree.restore(from: badMagic)) {
            guard case .badMagic = $0 as? SnapshotError else { return XCTFail("\($0)") }
        }
        var badVersion = good
        badVersion[7] = 9
        XCTAssertThrowsError(try DataTree.restore(from: badVersion)) { XCTAssertEqual($0 as? SnapshotError, .unsupportedVersion(9)) }
        XCTAssertThrowsError(try DataTree.restore(from: good + [0])) {
            guard case .inconsistent = $0 as? SnapshotError else { return XCTFail("\($0)") }
        }
        for cut in stride(from: 8, to: good.count, by: max(1, good.count / 40)) {
            XCTAssertThrowsError(try DataTree.restore(from: Array(good[..<cut])), "cut at \(cut)")
        }
    }

    func testOrphanAndDuplicateNodesAreRejected() {
        func snapshot(nodes: [(String, Int32)], aclLists: Int = 1) -> [UInt8] {
            var w = JuteWriter()
            w.writeInt(DataTree.snapshotMagic)
            w.writeInt(DataTree.snapshotVersionPaths)
            w.writeLong(0)
            w.writeInt(0)
            w.writeInt(Int32(aclLists))
            for _ in 0..<aclLists { w.writeVector(ACL.openUnsafe) { $0.write($1) } }
            w.writeInt(Int32(nodes.count))
            for (path, acl) in nodes {
                w.writeString(path)
                w.writeBuffer([])
                w.writeInt(acl)
                w.write(PersistedStat())
            }
            return w.bytes
        }
        XCTAssertNoThrow(try DataTree.restore(from: snapshot(nodes: [("/", 0), ("/a", 0), ("/a/b", 0)])))
        let bad: [[(String, Int32)]] = [
            [("/a", 0)],
            [("/", 0), ("/a/b", 0)],
            [("/", 0), ("/a", 0), ("/a", 0)],
            [("/", 0), ("/a", 1)],
            [("/", 0), ("/a/", 0)],
            [("/", 0), ("/", 0)],
            [],
        ]
        for nodes in bad {
            XCTAssertThrowsError(try DataTree.restore(from: snapshot(nodes: nodes)), "\(nodes)") {
                guard case .inconsistent = $0 as? SnapshotError else { return XCTFail("\($0)") }
            }
        }
    }
}

final class SnapshotV2Tests: XCTestCase {
    /// A version 2 or 3 snapshot whose child counts disagree with its node count is refused, never half-loaded.
    func testChildCountsMustMatchTheNodes() throws {
        for version in [DataTree.snapshotVersionInline, DataTree.snapshotVersion] { try checkChildCountsMustMatchTheNodes(version) }
    }

    private func checkChildCountsMustMatchTheNodes(_ version: Int32) throws {
        let h = TreeHarness()
        h.create("/a")
        h.create("/a/b")
        h.create("/c")
        let good = h.tree.snapshot(version: version)
        XCTAssertEqual(try DataTree.restore(from: good).digest, h.tree.digest)
        // The node count sits right before the root record (version 3: before the records' length), whose first
        // byte is its child count (3).
        var r = JuteReader(good)
        _ = try r.readInt(); _ = try r.readInt(); _ = try r.readLong(); _ = try r.readInt()
        let aclLists = try r.readInt()
        for _ in 0..<aclLists { _ = try r.readVector { try ACL(from: &$0) } }
        let nodeCountOffset = r.offset
        XCTAssertEqual(try r.readInt(), 7)  // "/", the 3 /zookeeper nodes, "/a", "/a/b", "/c"
        let rootOffset = nodeCountOffset + (version == DataTree.snapshotVersion ? 12 : 4)
        XCTAssertEqual(good[rootOffset], 3)
        for (delta, rootChildren) in [(Int32(-1), UInt8(3)), (1, 3), (0, 4), (0, 2)] {
            var bad = good
            let n = Int32(7) + delta
            bad[nodeCountOffset + 3] = UInt8(n)
            bad[rootOffset] = rootChildren
            if delta == 0 && rootChildren == 3 { continue }
            XCTAssertThrowsError(try DataTree.restore(from: bad), "count \(n), root children \(rootChildren)")
        }
    }

    /// Siblings must come in strictly increasing name order; a repeated name (a duplicate path) is refused.
    func testSiblingsOutOfOrderOrDuplicatedAreRefused() throws {
        for version in [DataTree.snapshotVersionInline, DataTree.snapshotVersion] { try checkSiblingsOutOfOrder(version) }
    }

    private func checkSiblingsOutOfOrder(_ version: Int32) throws {
        let h = TreeHarness()
        h.create("/p")
        h.create("/q")
        let good = h.tree.snapshot(version: version)
        let p = good.indices.first { good[$0] == 1 && good[$0 + 1] == UInt8(ascii: "p") }!
        let q = good.indices.first { good[$0] == 1 && good[$0 + 1] == UInt8(ascii: "q") }!
        for (pName, qName) in [("q", "p"), ("p", "p"), ("q", "q")] {
            var bad = good
            bad[p + 1] = UInt8(ascii: Unicode.Scalar(pName)!)
            bad[q + 1] = UInt8(ascii: Unicode.Scalar(qName)!)
            XCTAssertThrowsError(try DataTree.restore(from: bad), "\(pName), \(qName)") {
                guard case .inconsistent = $0 as? SnapshotError else { return XCTFail("\($0)") }
            }
        }
    }
}

final class SnapshotV3Tests: XCTestCase {
    private func harness() -> TreeHarness {
        let h = TreeHarness()
        h.create("/a", "alpha")
        h.create("/a/b")
        h.create("/a/b/c", String(repeating: "x", count: 300))
        h.create("/d", "delta")
        XCTAssertNil(h.error(.setData(path: "/a/b", data: nil, version: 0)))
        return h
    }

    /// Offset of `long structureBytes` (right after the node count) in a version 3 snapshot.
    private func structureLengthOffset(_ bytes: [UInt8]) throws -> Int {
        var r = JuteReader(bytes)
        _ = try r.readInt(); _ = try r.readInt(); _ = try r.readLong()
        for _ in 0..<(try r.readInt()) { _ = try r.readLong(); _ = try r.readInt() }
        for _ in 0..<(try r.readInt()) { _ = try r.readVector { try ACL(from: &$0) } }
        _ = try r.readInt()
        return r.offset
    }

    /// Every version restores to the same tree, and version 3 puts all data, in pre-order, after the records.
    func testAllVersionsRestoreAlikeAndValuesComeLast() throws {
        let h = harness()
        let v3 = h.tree.snapshot()
        XCTAssertEqual(Array(v3[4..<8]), [0, 0, 0, 3])
        for version in [DataTree.snapshotVersionPaths, DataTree.snapshotVersionInline, DataTree.snapshotVersion] {
            let restored = try DataTree.restore(from: h.tree.snapshot(version: version))
            XCTAssertEqual(restored.digest, h.tree.digest, "version \(version)")
            XCTAssertEqual(restored.snapshot(), v3, "version \(version)")
        }
        let values = Array("alpha".utf8) + Array(repeating: UInt8(ascii: "x"), count: 300) + Array("delta".utf8)
        XCTAssertEqual(Array(v3.suffix(values.count)), values)
        let at = try structureLengthOffset(v3)
        var r = JuteReader(v3, offset: at)
        let structureBytes = Int(try r.readLong())
        XCTAssertEqual(at + 8 + structureBytes + values.count, v3.count)
        XCTAssertEqual(v3.count, h.tree.snapshot(version: DataTree.snapshotVersionInline).count + 8)
    }

    /// A parent with thousands of children (which the snapshot reads in slot order, not set order) is written in
    /// name order whatever the slots: names that tie on their first 8 bytes, created in a scrambled order with
    /// deletions and slot reuse, give the same bytes as the restored tree, whose slots follow the name order.
    func testLargeChildSetsAreWrittenInNameOrderWhateverTheSlots() throws {
        let h = TreeHarness()
        h.create("/big")
        h.create("/small")
        let n = 5000
        func name(_ i: Int) -> String {
            switch i % 3 {
            case 0: return "member-\(i)"  // ties on "member-0".."member-9"
            case 1: return "m\(i)"
            default: return "\u{E9}l\u{E8}ve-\(i)"  // non-ASCII, full validation
            }
        }
        for k in 0..<n { h.create("/big/" + name(k * 7919 % n)) }
        for k in stride(from: 0, to: n, by: 5) { XCTAssertNil(h.error(.delete(path: "/big/" + name(k), version: -1))) }
        for k in stride(from: 0, to: n, by: 10) { h.create("/big/" + name(k)) }
        for k in [3, 1, 2] { h.create("/small/" + name(k)) }
        let bytes = h.tree.snapshot()
        let restored = try DataTree.restore(from: bytes)  // refuses siblings out of name order
        XCTAssertEqual(restored.digest, h.tree.digest)
        XCTAssertEqual(restored.snapshot(), bytes)
        XCTAssertEqual(restored.snapshot(version: DataTree.snapshotVersionPaths), h.tree.snapshot(version: DataTree.snapshotVersionPaths))
        XCTAssertEqual(try restored.getChildren("/big", ctx: .superUser()).get().children.count, n - n / 5 + n / 10)
    }

    /// A records length that does not match where the records end, or data lengths that overrun or fall short of the
    /// value region, are refused.
    func testRegionLengthsAreChecked() throws {
        let good = harness().tree.snapshot()
        let at = try structureLengthOffset(good)
        XCTAssertNoThrow(try DataTree.restore(from: good))
        for delta: Int64 in [-1, 1, 5, Int64(good.count), -1_000_000, Int64.min / 2] {
            var bad = good
            var r = JuteReader(good, offset: at)
            let length = try r.readLong() &+ delta
            for i in 0..<8 { bad[at + i] = UInt8(truncatingIfNeeded: UInt64(bitPattern: length) >> (56 - 8 * UInt64(i))) }
            XCTAssertThrowsError(try DataTree.restore(from: bad), "length off by \(delta)") {
                XCTAssertNotNil($0 as? SnapshotError, "\($0)")
            }
        }
        XCTAssertThrowsError(try DataTree.restore(from: good + [0])) {
            XCTAssertEqual($0 as? SnapshotError, .inconsistent("1 bytes after the last node"))
        }
        XCTAssertThrowsError(try DataTree.restore(from: Array(good.dropLast())), "a value cut short") {
            guard case .malformed = $0 as? SnapshotError else { return XCTFail("\($0)") }
        }
    }
}

extension TreeHarness {
    /// Two sessions, a digest user's private node, an ephemeral sequential node under a container, a TTL node and a
    /// non-ASCII name: the snapshot tests' common tree.
    static func populated() -> TreeHarness {
        let h = TreeHarness(config: TreeConfig(extendedTypesEnabled: true))
        let s = SessionContext(sessionId: 0x51, authIds: [Id(scheme: "digest", id: ACLRules.digestId(user: "u", password: "p"))])
        XCTAssertNil(h.error(.createSession(sessionId: 0x51, timeoutMs: 10_000), s))
        XCTAssertNil(h.error(.createSession(sessionId: 0x52, timeoutMs: 20_000), s))
        h.create("/app", "config-bytes")
        h.create("/app/locks", mode: .container)
        h.create("/app/locks/l-", mode: .ephemeralSequential, ctx: s)
        h.create("/app/private", "secret", acl: ACL.creatorAll, ctx: s)
        XCTAssertNil(h.error(.create(path: "/app/ttl", data: [1, 2, 3], acl: ACL.readUnsafe, mode: .persistentWithTTL, ttlMs: 60_000)))
        h.create("/app/ü-ñ", "unicode")
        return h
    }
}

/// The copy and its serialization, handed to one other thread and read back only after it signalled.
private final class Handoff: @unchecked Sendable {
    let tree: DataTree
    var bytes: [UInt8] = []
    init(_ tree: DataTree) { self.tree = tree }
}
