import XCTest

@testable import WarrenBench

final class HistogramTests: XCTestCase {
    func testBucketsCoverEveryValueWithBoundedError() {
        var probe: UInt64 = 1
        while probe < UInt64.max / 3 {
            for v in [probe - 1, probe, probe + 1, probe * 3 / 2] {
                let range = LatencyHistogram.range(of: LatencyHistogram.index(of: v))
                XCTAssertTrue(range.contains(v), "\(v) not in its bucket \(range)")
                let width = range.upperBound - range.lowerBound
                XCTAssertLessThanOrEqual(Double(width), Double(v) / 64 + 1, "bucket for \(v) too wide: \(range)")
            }
            probe *= 2
        }
        XCTAssertLessThan(LatencyHistogram.index(of: .max), LatencyHistogram.bucketCount)
    }

    func testPercentilesOfUniformValues() {
        var h = LatencyHistogram()
        for v in 1...10_000 { h.record(UInt64(v) * 1000) }
        XCTAssertEqual(h.count, 10_000)
        XCTAssertEqual(h.min, 1000)
        XCTAssertEqual(h.max, 10_000_000)
        for (q, expected) in [(0.5, 5_000_000.0), (0.9, 9_000_000.0), (0.99, 9_900_000.0), (0.999, 9_990_000.0)] {
            let got = Double(h.value(atQuantile: q))
            XCTAssertEqual(got, expected, accuracy: expected / 50, "quantile \(q)")
        }
        XCTAssertEqual(h.value(atQuantile: 1), 10_000_000)
        XCTAssertEqual(h.mean, 5_000_500, accuracy: 1)
    }

    func testMergeEqualsRecordingEverythingInOne() {
        var a = LatencyHistogram()
        var b = LatencyHistogram()
        var all = LatencyHistogram()
        for v in 0..<5000 as Range<UInt64> {
            let x = v * v % 1_000_003
            if v % 2 == 0 { a.record(x) } else { b.record(x) }
            all.record(x)
        }
        a.merge(b)
        XCTAssertEqual(a, all)
    }

    func testEmptyHistogramReportsZero() {
        let h = LatencyHistogram()
        XCTAssertEqual(h.value(atQuantile: 0.99), 0)
        XCTAssertEqual(h.mean, 0)
    }

    func testHostListParsing() throws {
        XCTAssertEqual(
            try HostPort.parseList("127.0.0.1:2181, zk2:2182,[::1]:2183"),
            [HostPort(host: "127.0.0.1", port: 2181), HostPort(host: "zk2", port: 2182), HostPort(host: "::1", port: 2183)])
        XCTAssertThrowsError(try HostPort.parseList("nohost"))
        XCTAssertThrowsError(try HostPort.parseList("h:0"))
        XCTAssertThrowsError(try HostPort.parseList(""))
    }
}
