import WarrenRandom
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

    /// A setData of a same-sized value rewrites the blob in place: no garbage however often it happens, while a
    /// committed copy taken before keeps the old bytes (its chunks are copied on the first write, not shared).
    func testSameSizeRewritesStayInPlaceAndCopiesKeepTheOldValue() throws {
        let h = TreeHarness()
        h.create("/c")
        for i in 0..<100 { h.create("/c/n\(i)", String(repeating: "a", count: 1000)) }
        let reserved = h.tree.arena.reservedBytes
        let before = h.tree.snapshot()
        let copy = h.tree.committedCopy()
        // The first setData adds mzxid, mtime and version to the stored stat (a bigger blob); the next ones do not.
        let slot = try XCTUnwrap(h.tree.slotOf("/c/n5"))
        XCTAssertNoThrow(try h.run(.setData(path: "/c/n5", data: [UInt8](repeating: 1, count: 1000), version: -1)).get())
        let where1 = h.tree.slots[Int(slot)].blob
        XCTAssertNoThrow(try h.run(.setData(path: "/c/n5", data: [UInt8](repeating: 2, count: 1000), version: -1)).get())
        XCTAssertEqual(h.tree.slots[Int(slot)].blob, where1, "rewritten in place")
        // 300 rounds take the version through 127 -> 128, where the stored stat grows by a byte (not in place).
        for round in 1...300 {
            for i in 0..<100 {
                let v = [UInt8](repeating: UInt8(round % 200 + 30), count: 1000)
                XCTAssertNoThrow(try h.run(.setData(path: "/c/n\(i)", data: v, version: -1)).get())
            }
        }
        XCTAssertLessThanOrEqual(h.tree.arena.reservedBytes, reserved + BlobArena.chunkBytes, "rewrites left no garbage to speak of")
        for i in 0..<100 {
            let got = try h.tree.getData("/c/n\(i)", ctx: .anyone).get()
            XCTAssertEqual(got.data, [UInt8](repeating: UInt8(300 % 200 + 30), count: 1000))
            XCTAssertEqual(got.stat.version, i == 5 ? 302 : 300)
        }
        XCTAssertEqual(copy.snapshot(), before, "the copy still has every old value")
        let restored = try DataTree.restore(from: h.tree.snapshot())
        XCTAssertEqual(restored.digest, h.tree.digest)
        XCTAssertEqual(restored.snapshot(), h.tree.snapshot())
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
        for (data, base) in [(nil, 0), ([], Int64.min), ([UInt8](repeating: 1, count: 300), 1_700_000_000_000)] as [([UInt8]?, Int64)] {
            let header = NodeBlob(nameLength: 3, data: data, stat: stat, timeBase: base)
            var bytes = [UInt8](repeating: 0, count: header.byteCount)
            let name: [UInt8] = Array("abc".utf8)
            bytes.withUnsafeMutableBytes { out in
                name.withUnsafeBytes { n in
                    if let data {
                        data.withUnsafeBytes { header.write(to: out.baseAddress!, slot: 77, name: n, data: $0) }
                    } else {
                        header.write(to: out.baseAddress!, slot: 77, name: n, data: nil)
                    }
                }
            }
            XCTAssertEqual(Array(bytes[header.nameOffset..<header.nameOffset + 3]), name)
            if let data { XCTAssertEqual(Array(bytes[header.dataOffset...]), data) }
            let decoded = bytes.withUnsafeBytes { NodeBlob(at: $0.baseAddress!, timeBase: base) }
            XCTAssertEqual(decoded.ctime, stat.ctime)
            XCTAssertEqual(decoded.mtime, stat.mtime)
            XCTAssertTrue(decoded.sameStoredFields(header))
            XCTAssertEqual(decoded.nameOffset, header.nameOffset)
            XCTAssertEqual(decoded.isDataNull, data == nil)
            XCTAssertEqual(bytes.withUnsafeBytes { NodeBlob.slot(at: $0.baseAddress!) }, 77)
        }
    }

    /// Short-lived nodes fill each tail chunk with garbage around a few long-lived blobs, and nothing in such a
    /// chunk is freed after it stops being the tail; it is compacted then, so memory follows the live bytes.
    func testGarbageWrittenIntoTheTailIsReclaimed() throws {
        let h = TreeHarness()
        let value = String(repeating: "v", count: 4_000)
        for round in 0..<1_500 {
            if round % 50 == 0 { h.create("/cold\(round)", "x") }
            h.create("/temp", value)
            XCTAssertNoThrow(try h.run(.delete(path: "/temp", version: -1)).get())
        }
        // 6 MB of values were written; only a handful of small nodes are live.
        XCTAssertLessThanOrEqual(h.tree.arena.reservedBytes, 2 * BlobArena.chunkBytes)
        for round in stride(from: 0, to: 1_500, by: 50) {
            XCTAssertEqual(try h.tree.getData("/cold\(round)", ctx: .anyone).get().data, Array("x".utf8))
        }
    }

    /// SlotSet (children) agrees with Set<Int32> under random inserts and removes, across growth and wrap-around.
    func testSlotSetMatchesSet() {
        var rng = SeededRandom(seed: 5)
        var set = SlotSet()
        var reference = Set<Int32>()
        for step in 0..<40_000 {
            let slot = Int32.random(in: 0..<3_000, using: &rng)
            if Int.random(in: 0..<5, using: &rng) < 3 {
                XCTAssertEqual(set.insert(slot), reference.insert(slot).inserted)
            } else {
                XCTAssertEqual(set.remove(slot), reference.remove(slot) != nil)
            }
            if step % 2_000 == 0 {
                XCTAssertEqual(set.count, reference.count)
                XCTAssertEqual(Set(set), reference)
                for probe in Int32(0)..<3_000 { XCTAssertEqual(set.contains(probe), reference.contains(probe)) }
            }
        }
        var reserved = SlotSet()
        reserved.reserveCapacity(1_000)
        for slot in Int32(0)..<1_000 { reserved.insert(slot) }
        XCTAssertEqual(Set(reserved), Set(0..<1_000))
        XCTAssertFalse(SlotSet().contains(0))
        var empty = SlotSet()
        XCTAssertFalse(empty.remove(3))
    }
}
