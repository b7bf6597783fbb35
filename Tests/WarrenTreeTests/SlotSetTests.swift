import XCTest

@testable import WarrenTree

/// `SlotSet` membership under the slot patterns a tree produces: runs of consecutive slots, strides (children of
/// several parents created round robin), and random slots; with removals in between.
final class SlotSetTests: XCTestCase {
    func testPatternsInsertFindAndRemove() {
        var rng = SystemRandomNumberGenerator()
        func stride(_ n: Int32, _ step: Int32) -> [Int32] { (0..<n).map { (i: Int32) -> Int32 in i * step } }
        var runs: [Int32] = []
        for i: Int32 in 0..<1_000 { runs += [i * 1000, i * 1000 + 1, i * 1000 + 2] }
        var random: [Int32] = []
        for _ in 0..<4_000 { random.append(Int32.random(in: 0...Int32.max, using: &rng)) }
        let patterns: [(String, [Int32])] = [
            ("consecutive", stride(5_000, 1)), ("stride 16", stride(3_000, 16)), ("stride 17", stride(3_000, 17)),
            ("stride 4096", stride(2_000, 4096)), ("runs of 3 every 1000", runs), ("random", random),
        ]
        for (name, slots) in patterns {
            var set = SlotSet()
            var expected = Set<Int32>()
            for s in slots { XCTAssertEqual(set.insert(s), expected.insert(s).inserted, name) }
            XCTAssertEqual(set.count, expected.count, name)
            for s in slots where s % 3 == 0 { XCTAssertEqual(set.remove(s), expected.remove(s) != nil, name) }
            XCTAssertEqual(set.count, expected.count, name)
            XCTAssertEqual(Set(set), expected, name)
            for s in slots { XCTAssertEqual(set.contains(s), expected.contains(s), "\(name): \(s)") }
            XCTAssertFalse(set.contains(Int32.max - 1) && !expected.contains(Int32.max - 1), name)
        }
    }

    func testSmallSetsWrapAround() {
        var set = SlotSet()
        for s: Int32 in [15, 31, 47, 14, 13] { XCTAssertTrue(set.insert(s)) }
        XCTAssertFalse(set.insert(31))
        XCTAssertTrue(set.remove(15))
        XCTAssertEqual(Set(set), [31, 47, 14, 13])
    }
}
