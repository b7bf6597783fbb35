import WarrenJute
import XCTest

@testable import WarrenTree

/// The arena layout under churn: rewritten and deleted blobs are reclaimed by chunk compaction, values stay intact,
/// and a committed copy taken before the churn still serializes the old state.
final class BlobArenaTests: XCTestCase {
    private func value(_ i: Int, round: Int) -> [UInt8] {
        [UInt8](repeating: UInt8(truncatingIfNeeded: i &+ round), count: 900 + (i % 7) * 30)
    }

    func testChurnIsCompactedAndKeepsEveryValue() throws {
        let h = TreeHarness()
        let nodes = 3_000
        h.create("/c")
        for i in 0..<nodes { h.create("/c/n\(i)", String(decoding: value(i, round: 0), as: UTF8.self)) }
        let before = h.tree.snapshot()
        let copy = h.tree.committedCopy()
        for round in 1...6 {
            for i in stride(from: round % 2, to: nodes, by: 2) {
                XCTAssertNoThrow(try h.run(.setData(path: "/c/n\(i)", data: value(i, round: round), version: -1)).get())
            }
        }
        for i in stride(from: 0, to: nodes, by: 3) { XCTAssertNoThrow(try h.run(.delete(path: "/c/n\(i)", version: -1)).get()) }
        var live = 0
        for i in 0..<nodes {
            let data = try? h.tree.getData("/c/n\(i)", ctx: .anyone).get().data
            if i % 3 == 0 {
                XCTAssertNil(data)
                continue
            }
            let round = i % 2 == 0 ? 6 : 5
            XCTAssertEqual(data, value(i, round: round), "n\(i)")
            live += value(i, round: round).count + 16
        }
        // Garbage is bounded: at most half of every full chunk, plus the tail chunk.
        XCTAssertLessThan(h.tree.arena.reservedBytes, 2 * live + 2 * BlobArena.chunkBytes)
        let recomputed = h.tree.index.slots.reduce(UInt64(0)) { $0 &+ h.tree.nodeHash($1) }
        XCTAssertEqual(h.tree.nodeDigest, recomputed)
        let restored = try DataTree.restore(from: h.tree.snapshot())
        XCTAssertEqual(restored.digest, h.tree.digest)
        // The copy taken before the churn still has the old blobs.
        XCTAssertEqual(copy.snapshot(), before)
    }

    func testLargeValuesGetTheirOwnChunkAndAreReleased() throws {
        let h = TreeHarness()
        let big = [UInt8](repeating: 9, count: BlobArena.dedicatedBytesMin * 3)
        XCTAssertNoThrow(try h.run(.create(path: "/big", data: big, acl: ACL.openUnsafe, mode: .persistent)).get())
        XCTAssertEqual(try h.tree.getData("/big", ctx: .anyone).get().data, big)
        let reserved = h.tree.arena.reservedBytes
        XCTAssertNoThrow(try h.run(.setData(path: "/big", data: [1], version: -1)).get())
        XCTAssertLessThanOrEqual(h.tree.arena.reservedBytes, reserved - big.count)
        XCTAssertEqual(try h.tree.getData("/big", ctx: .anyone).get().data, [1])
    }

    func testBlobHeaderRoundTripsUnusualStats() {
        var stat = PersistedStat(createdAt: -5, timeMs: Int64.max, ephemeralOwner: Int64.min)
        stat.mzxid = Int64.min
        stat.mtime = -1
        stat.version = -1
        stat.aversion = Int32.min
        for data in [nil, [], [UInt8](repeating: 1, count: 300)] as [[UInt8]?] {
            let header = NodeBlob(nameLength: 3, data: data, stat: stat)
            var bytes = [UInt8](repeating: 0, count: header.byteCount)
            bytes.withUnsafeMutableBytes { header.writeHeader(to: $0.baseAddress!, slot: 77) }
            let decoded = bytes.withUnsafeBytes { NodeBlob(at: $0.baseAddress!) }
            XCTAssertTrue(decoded.sameStoredFields(header))
            XCTAssertEqual(decoded.nameOffset, header.nameOffset)
            XCTAssertEqual(decoded.isDataNull, data == nil)
            XCTAssertEqual(bytes.withUnsafeBytes { NodeBlob.slot(at: $0.baseAddress!) }, 77)
        }
    }
}
