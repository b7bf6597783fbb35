import WarrenRandom
import WarrenJute
import XCTest

@testable import WarrenTree

final class PathTests: XCTestCase {
    func testValidPaths() {
        for path in ["/", "/a", "/a/b", "/a.b", "/..a", "/a..", "/.a", "/a/.b/c", "/zookeeper", "/ü", "/a b", "/\u{A0}", "/\u{FFEF}"] {
            XCTAssertTrue(PathValidation.isValid(path), path)
        }
    }

    func testInvalidPathsWithReasons() {
        let cases: [(String, String)] = [
            ("", "path length must be > 0"),
            ("a", "path must start with / character"),
            ("/a/", "path must not end with / character"),
            ("//a", "empty node name specified @1"),
            ("/a//b", "empty node name specified @3"),
            ("/a/./b", "relative paths not allowed @3"),
            ("/a/../b", "relative paths not allowed @4"),
            ("/.", "relative paths not allowed @1"),
            ("/..", "relative paths not allowed @2"),
            ("/a\u{0}b", "null character not allowed @2"),
            ("/a\u{1}", "invalid character @2"),
            ("/\u{7F}", "invalid character @1"),
            ("/\u{9F}", "invalid character @1"),
            ("/\u{E000}", "invalid character @1"),
            ("/\u{F8FF}", "invalid character @1"),
            ("/\u{FFF0}", "invalid character @1"),
            ("/😀", "invalid character @1"),
        ]
        for (path, reason) in cases {
            XCTAssertEqual(PathValidation.invalidReason(path), reason, path.debugDescription)
        }
    }

    func testSequentialPrefixes() {
        XCTAssertTrue(PathValidation.isValid("/a/", sequential: true))
        XCTAssertTrue(PathValidation.isValid("/", sequential: true))
        XCTAssertFalse(PathValidation.isValid("/a//", sequential: true))
        XCTAssertFalse(PathValidation.isValid("/a/", sequential: false))
    }

    func testParentAndLastComponent() {
        XCTAssertEqual(PathValidation.parent(of: "/a"), "/")
        XCTAssertEqual(PathValidation.parent(of: "/a/b/c"), "/a/b")
        XCTAssertEqual(PathValidation.parent(of: "/a/"), "/a")
        XCTAssertNil(PathValidation.parent(of: "abc"))
        XCTAssertNil(PathValidation.parent(of: "/a\u{0}"))
        XCTAssertEqual(PathValidation.lastComponent(of: "/a/b"), "b")
        XCTAssertEqual(PathValidation.lastComponent(of: "/"), "")
        XCTAssertEqual(PathValidation.join("/", "x"), "/x")
        XCTAssertEqual(PathValidation.join("/a", "x"), "/a/x")
    }

    func testTreeAnswersBadArgumentsForInvalidPaths() {
        let h = TreeHarness()
        XCTAssertEqual(h.error(.setData(path: "/a//b", data: [], version: -1)), .badArguments)
        XCTAssertEqual(h.error(.check(path: "x", version: -1)), .badArguments)
        XCTAssertEqual(h.error(.create(path: "/bad\u{1}", data: [], acl: ACL.openUnsafe, mode: .persistent)), .badArguments)
        XCTAssertEqual(h.error(.create(path: "/\u{0}", data: [], acl: ACL.openUnsafe, mode: .persistent)), .badArguments)
        XCTAssertEqual(h.create("/", mode: .persistentSequential), "/0000000000")
    }
}

final class PathIndexTests: XCTestCase {
    func testCanonicallyEquivalentPathsAreDifferentNodes() {
        let h = TreeHarness()
        let composed = "/caf\u{E9}"
        let decomposed = "/cafe\u{301}"
        XCTAssertEqual(composed, decomposed, "Swift String equality is canonical")
        h.create(composed, "nfc")
        XCTAssertNil(h.stat(decomposed))
        h.create(decomposed, "nfd")
        XCTAssertEqual(h.data(composed), "nfc")
        XCTAssertEqual(h.data(decomposed), "nfd")
        XCTAssertEqual(try h.tree.getChildren("/", ctx: .anyone).get().children.count, 3)
        // The prepare overlay must keep them apart too.
        XCTAssertNoThrow(try h.prepare(.delete(path: composed, version: -1)).get())
        XCTAssertNoThrow(try h.prepare(.setData(path: decomposed, data: [], version: 0)).get())
    }

    func testMatchesDictionaryUnderRandomInsertsAndRemoves() {
        var rng = SeededRandom(seed: 99)
        var paths: [String] = []
        var index = PathIndex()
        var reference: [String: Int32] = [:]
        var free: [Int32] = []
        for step in 0..<20_000 {
            if reference.isEmpty || Int.random(in: 0..<3, using: &rng) > 0 {
                let path = "/n\(Int.random(in: 0..<5_000, using: &rng))"
                if reference[path] != nil { continue }
                let slot = free.popLast() ?? Int32(paths.count)
                if Int(slot) == paths.count { paths.append(path) } else { paths[Int(slot)] = path }
                index.insert(path, slot: slot)
                reference[path] = slot
            } else {
                let (path, slot) = reference.randomElement(using: &rng)!
                index.remove(path, slot: slot)
                reference[path] = nil
                free.append(slot)
            }
            if step % 1_000 == 0 || step == 19_999 {
                XCTAssertEqual(index.count, reference.count)
                for probe in 0..<5_000 {
                    let path = "/n\(probe)"
                    XCTAssertEqual(index.find(path) { paths[Int($0)] }, reference[path], path)
                }
            }
        }
    }

    /// Small tables grow by half, large ones by a quarter (memory close to the entries for a big tree); a table
    /// that crosses into quarter growth by single inserts still finds everything.
    func testGrowthByHalfThenByAQuarter() {
        XCTAssertEqual(PathIndex.grown(1_000), 1_500)
        let large = PathIndex.quarterGrowthBucketsMin
        XCTAssertEqual(PathIndex.grown(large - 2), large - 2 + (large - 2) / 2)
        XCTAssertEqual(PathIndex.grown(large), large + large / 4)
        var index = PathIndex()
        let n = large * 3 / 4 + 10  // past the first growth of a large table
        index.reserve(large * 3 / 4)  // large + 1 buckets: the next growth is by a quarter
        for slot in 0..<Int32(n) { index.insert(tag: UInt64(UInt32(truncatingIfNeeded: Int(slot) &* 2_654_435_761)), slot: slot) }
        XCTAssertEqual(index.count, n)
        for slot in stride(from: Int32(0), to: Int32(n), by: 997) {
            XCTAssertEqual(index.find(tag: UInt64(UInt32(truncatingIfNeeded: Int(slot) &* 2_654_435_761))) { $0 == slot }, slot)
        }
        var set = SlotSet()
        set.reserveCapacity(large * 3 / 4)
        for slot in 0..<Int32(n) { set.insert(slot) }
        XCTAssertEqual(set.count, n)
        XCTAssertTrue(set.contains(Int32(n - 1)) && set.contains(0) && !set.contains(Int32(n)))
    }

    /// Bulk insertion (restore) finds every entry, like one-by-one insertion, whatever the slice per pass: 48
    /// slices of 64 KiB, three of 1 MiB, or the whole table in one pass.
    func testInsertAllMatchesSingleInserts() {
        var rng = SeededRandom(seed: 7)
        let tags = (0..<300_000).map { _ in UInt32.random(in: 0...UInt32.max, using: &rng) }
        for sliceBytes in [64 << 10, 1 << 20, 1 << 30] {
            var bulk = PathIndex()
            bulk.insert(tag: 12345, slot: 0)
            bulk.insertAll(tags: tags, firstSlot: 1, sliceBytes: sliceBytes)
            XCTAssertEqual(bulk.count, tags.count + 1)
            XCTAssertEqual(bulk.find(tag: 12345) { $0 == 0 }, 0)
            for (n, tag) in tags.enumerated() {
                let slot = Int32(n + 1)
                XCTAssertEqual(bulk.find(tag: UInt64(tag)) { $0 == slot }, slot, "slice \(sliceBytes) B")
            }
            XCTAssertEqual(Set(bulk.slots).count, tags.count + 1)
        }
    }
}
