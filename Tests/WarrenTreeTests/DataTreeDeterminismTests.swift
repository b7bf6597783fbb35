import WarrenJute
import XCTest

@testable import WarrenTree
import WarrenRandom

final class DataTreeDeterminismTests: XCTestCase {
    /// A random mix of every write op (some with null data), prepared in batches of up to 8 before applying (so
    /// prepares run against a non-empty overlay). Quotas on `quotaPaths` are set up first, the way zkCli does it.
    /// Returns the log of txns.
    private func randomWorkload(seed: UInt64, steps: Int, tree: DataTree, quotaPaths: [String] = []) -> [Txn] {
        var rng = SeededRandom(seed: seed)
        var log: [Txn] = []
        var batch: [Txn] = []
        var zxid: Int64 = 0
        for op in quotaPaths.flatMap(QuotaTests.setQuotaOps) {
            if case let .success(txn) = tree.prepare(op, ctx: .anyone, zxid: zxid + 1, timeMs: zxid * 10) {
                zxid += 1
                tree.apply(txn)
                log.append(txn)
            }
        }
        var known = ["/"]
        let sessions: [Int64] = [0x100, 0x200, 0x300]
        let modes: [CreateMode] = [.persistent, .persistent, .ephemeral, .persistentSequential, .ephemeralSequential, .container]
        func randomOp() -> WriteOp {
            let path = known.randomElement(using: &rng)!
            let child = PathValidation.join(path, "n\(Int.random(in: 0..<6, using: &rng))")
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...3:
                let data = Int.random(in: 0..<5, using: &rng) == 0
                    ? nil : Array(repeating: UInt8.random(in: 0...255, using: &rng), count: Int.random(in: 0..<20, using: &rng))
                return .create(path: child, data: data, acl: Bool.random(using: &rng) ? ACL.openUnsafe : ACL.creatorAll,
                               mode: modes.randomElement(using: &rng)!)
            case 4: return .delete(path: path, version: -1)
            case 5:
                return .setData(path: path, data: Bool.random(using: &rng) ? nil : [UInt8(zxid & 0xFF)],
                                version: Bool.random(using: &rng) ? -1 : 0)
            case 6: return .setACL(path: path, acl: Bool.random(using: &rng) ? ACL.openUnsafe : ACL.creatorAll, version: -1)
            case 7: return .multi([.create(path: child, data: [], acl: ACL.openUnsafe, mode: .persistent), .check(path: path, version: 0)])
            case 8: return .closeSession(sessionId: sessions.randomElement(using: &rng)!)
            default: return .createSession(sessionId: sessions.randomElement(using: &rng)!, timeoutMs: 5_000)
            }
        }
        for _ in 0..<steps {
            let session = sessions.randomElement(using: &rng)!
            let ctx = SessionContext(sessionId: session, authIds: [Id(scheme: "digest", id: "user\(session):hash")])
            let op = randomOp()
            if case let .success(txn) = tree.prepare(op, ctx: ctx, cxid: Int32(zxid), zxid: zxid + 1, timeMs: zxid * 10) {
                zxid += 1
                batch.append(txn)
                if case let .create(path, _, _, _, _) = op { known.append(path) }
            }
            if batch.count >= Int.random(in: 1...8, using: &rng) {
                for txn in batch {
                    let r = tree.apply(txn)
                    if case let .create(path, _) = r.result { known.append(path) }
                }
                log += batch
                batch = []
                known = known.filter { tree.exists($0) != nil }
            }
        }
        for txn in batch { tree.apply(txn) }
        return log + batch
    }

    func testSameTxnsGiveSameTreeDigestAndSnapshot() throws {
        let leader = DataTree()
        let log = randomWorkload(seed: 42, steps: 2_000, tree: leader)
        XCTAssertGreaterThan(log.count, 500)
        XCTAssertGreaterThan(leader.nodeCount, 10)

        let follower = DataTree()
        XCTAssertEqual(follower.digest, DataTree().digest, "read once up front: the follower tracks its digest per change")
        XCTAssertNotNil(follower.nodeDigestSum)
        for txn in log {
            // Followers apply decoded log records, not the leader's in-memory values.
            follower.apply(try Txn(compact: txn.compactBytes(), zxid: txn.zxid))
        }
        XCTAssertNil(leader.nodeDigestSum, "never read: the leader has not hashed a node yet")
        XCTAssertEqual(follower.digest, leader.digest, "tracked incrementally vs hashed from scratch")
        XCTAssertEqual(follower.snapshot(), leader.snapshot())
        XCTAssertEqual(follower.lastProcessedZxid, leader.lastProcessedZxid)

        let restored = try DataTree.restore(from: leader.snapshot())
        XCTAssertEqual(restored.digest, leader.digest)
        XCTAssertEqual(restored.approximateDataSize, leader.approximateDataSize)
        XCTAssertEqual(restored.ephemeralsBySession(), leader.ephemeralsBySession())
    }

    /// With quotas set, followers, restored trees and a from-scratch recount all agree on the stat nodes.
    func testQuotaStatsAreDeterministicAndMatchRecount() throws {
        let quotas = ["/n0", "/n1", "/n2", "/n3/n4", "/n5/n5/n5"]
        let leader = DataTree()
        let log = randomWorkload(seed: 99, steps: 2_000, tree: leader, quotaPaths: quotas)
        XCTAssertEqual(leader.pathsWithQuota, quotas)
        let follower = DataTree()
        var statChanges = 0
        var lastStats: [[UInt8]?] = []
        for txn in log {
            var r = JuteReader(txn.juteBytes())
            follower.apply(try Txn(from: &r))
            let stats = quotas.map { try? follower.getData(Quotas.statPath(for: $0), ctx: .superUser()).get().data }
            if stats != lastStats { statChanges += 1 }
            lastStats = stats
        }
        XCTAssertGreaterThan(statChanges, 50, "the workload reached the quota subtrees")
        XCTAssertEqual(follower.snapshot(), leader.snapshot())
        XCTAssertEqual(follower.digest, leader.digest)
        let restored = try DataTree.restore(from: leader.snapshot())
        XCTAssertEqual(restored.pathsWithQuota, quotas)

        for quota in quotas {
            // No quota is below another, so each stat node must equal a recount of its subtree.
            var count = 0
            var bytes = 0
            var stack = leader.slotOf(quota).map { [$0] } ?? []
            while let slot = stack.popLast() {
                count += 1
                bytes += leader.node(slot).dataLength
                stack.append(contentsOf: leader.node(slot).children)
            }
            let stats = try leader.getData(Quotas.statPath(for: quota), ctx: .superUser()).get().data
            XCTAssertEqual(stats.map { String(decoding: $0, as: UTF8.self) }, "count=\(count),bytes=\(bytes)", quota)
        }

        // The restored tree keeps charging the same quotas.
        let statsBefore = try leader.getData(Quotas.statPath(for: "/n1"), ctx: .superUser()).get().data
        let path = leader.exists("/n1") == nil ? "/n1" : "/n1/fresh"
        let op = WriteOp.create(path: path, data: [7], acl: ACL.openUnsafe, mode: .persistent)
        let zxid = leader.lastProcessedZxid + 1
        for tree in [leader, restored] {
            tree.apply(try tree.prepare(op, ctx: .anyone, zxid: zxid, timeMs: 0).get())
        }
        XCTAssertNotEqual(try leader.getData(Quotas.statPath(for: "/n1"), ctx: .superUser()).get().data, statsBefore)
        XCTAssertEqual(restored.snapshot(), leader.snapshot())
    }

    func testDigestTracksChanges() throws {
        let h = TreeHarness()
        let d0 = h.tree.digest
        h.create("/a", "x")
        let d1 = h.tree.digest
        XCTAssertNotEqual(d0, d1)
        XCTAssertNil(h.error(.setData(path: "/a", data: Array("x".utf8), version: -1)))
        XCTAssertNotEqual(h.tree.digest, d1, "mzxid/version changed")
        XCTAssertNil(h.error(.createSession(sessionId: 9, timeoutMs: 100)))
        let withSession = h.tree.digest
        XCTAssertNil(h.error(.closeSession(sessionId: 9)))
        XCTAssertNotEqual(h.tree.digest, withSession)
        // The incremental digest equals one computed from scratch.
        let recomputed = h.tree.index.slots.reduce(UInt64(0)) { $0 &+ h.tree.nodeHash($1) }
        XCTAssertEqual(h.tree.nodeDigest, recomputed)
    }

    func testIncrementalCountersMatchRecount() {
        let tree = DataTree()
        _ = randomWorkload(seed: 7, steps: 1_000, tree: tree)
        var size: Int64 = 0
        var digest: UInt64 = 0
        XCTAssertEqual(tree.index.count, tree.nodeCount)
        for slot in tree.index.slots {
            let path = tree.node(slot).path
            XCTAssertEqual(tree.slotOf(path), slot)
            size += Int64(path.utf16.count + tree.node(slot).dataLength)
            digest &+= tree.nodeHash(slot)
            let node = tree.node(slot)
            XCTAssertEqual(node.path, path)
            for child in node.children { XCTAssertEqual(tree.node(child).parent, slot) }
        }
        XCTAssertEqual(tree.approximateDataSize, size + Int64(tree.node(0).dataLength))
        XCTAssertEqual(tree.nodeDigest, digest)
        XCTAssertEqual(tree.preparedChangeCount, 0)
    }
}
