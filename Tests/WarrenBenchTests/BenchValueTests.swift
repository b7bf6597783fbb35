import XCTest

@testable import WarrenBench

final class BenchValueTests: XCTestCase {
    func testValuesAreDeterministicSizedAndDifferBySeed() {
        for count in [0, 1, 7, 8, 9, 100, 1024] {
            XCTAssertEqual(BenchValue.bytes(count, seed: 3).count, count)
        }
        XCTAssertEqual(BenchValue.bytes(100, seed: 42), BenchValue.bytes(100, seed: 42))
        XCTAssertNotEqual(BenchValue.bytes(100, seed: 1), BenchValue.bytes(100, seed: 2))
    }

    func testValuesLookRandomSoTheyDoNotCompress() {
        let v = BenchValue.bytes(4096, seed: 7)
        // 4096 uniform bytes hit nearly all 256 values; a short repeating pattern would hit few.
        XCTAssertGreaterThan(Set(v).count, 240)
        var counts = [Int](repeating: 0, count: 256)
        for b in v { counts[Int(b)] += 1 }
        XCTAssertLessThan(counts.max()!, 40, "byte frequencies far from uniform: \(counts.max()!)")
    }
}
