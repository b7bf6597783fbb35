import Foundation
import XCTest
@testable import WarrenCore
@testable import WarrenServer

/// The core's own text formatting (it uses no Foundation) against Foundation's, which it replaced.
final class TextFormatTests: XCTestCase {
    func testFixed4MatchesPrintf() {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [0, -0.0, 1, 0.5, 0.00005, 0.00015, 0.99995, 2.5e-5, 123.45678, -3.25, 1e9 + 0.12345, 7.0 / 3]
        for _ in 0..<20_000 { values.append(Double.random(in: -1e6...1e6, using: &rng) / Double(Int.random(in: 1...10_000, using: &rng))) }
        for v in values {
            // Halves exactly representable in binary are rare; printf rounds them to even, this rounds them away
            // from zero, as Java's String.format does: compare only where the two roundings agree by construction.
            let scaled = abs(v) * 10_000
            if scaled - scaled.rounded(.down) == 0.5 { continue }
            XCTAssertEqual(TextFormat.fixed4(v), String(format: "%.4f", v), "\(v)")
        }
        XCTAssertEqual(TextFormat.fixed4(0.5), "0.5000")
        XCTAssertEqual(TextFormat.fixed4(-0.00001), "-0.0000", "as printf")
        XCTAssertEqual(TextFormat.fixed4(.infinity), "inf")
    }

    func testJavaDateMatchesDateFormatterInUTC() {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE MMM dd HH:mm:ss zzz yyyy"
        var rng = SystemRandomNumberGenerator()
        // Around the epoch, leap days and century years (2000 leap, 2100 not), and random times up to year 2400.
        var times: [Int64] = [0, -1, 999, 1000, 951_782_400_000, 951_868_799_999, 4_107_542_400_000, 4_102_444_800_000,
                              1_796_689_200_000, -86_400_000 * 365]
        for _ in 0..<20_000 { times.append(Int64.random(in: -2_000_000_000_000...13_500_000_000_000, using: &rng)) }
        for ms in times {
            let seconds = (Double(ms) / 1000).rounded(.down)
            // Foundation names the zone GMT; Java's Date.toString() on a server in UTC says UTC.
            let expected = formatter.string(from: Date(timeIntervalSince1970: seconds)).replacingOccurrences(of: " GMT ", with: " UTC ")
            XCTAssertEqual(TextFormat.javaDateUTC(wallMs: ms), expected, "\(ms)")
        }
    }

    func testTrimmed() {
        XCTAssertEqual(TextFormat.trimmed("  a b \t"), "a b")
        XCTAssertEqual(TextFormat.trimmed(" \t "), "")
        XCTAssertEqual(TextFormat.trimmed(""), "")
        XCTAssertEqual(TextFormat.trimmed("x"), "x")
        XCTAssertEqual(TextFormat.trimmed("server.1=h:1:2 ".dropFirst(7)), "1=h:1:2")
    }
}
