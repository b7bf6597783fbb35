import Foundation
import XCTest
@testable import WarrenStorage

/// A fresh temporary directory per test, removed afterwards.
class StorageTestCase: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "warren-storage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    var logDir: String { root + "/log" }
    var snapDir: String { root + "/snap" }

    func path(_ name: String, in dir: String? = nil) -> String { (dir ?? logDir) + "/" + name }

    /// Deterministic payload of `count` bytes that differs per zxid.
    func payload(_ zxid: Int64, count: Int = 40) -> [UInt8] {
        var state = UInt64(bitPattern: zxid) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    func records(_ zxids: ClosedRange<Int64>, bytes: Int = 40) -> [LogRecord] {
        zxids.map { LogRecord(zxid: $0, payload: payload($0, count: bytes)) }
    }

    func fileBytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func writeBytes(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    func logFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: logDir).filter { $0.hasPrefix("log.") }
            .sorted { Int($0.dropFirst(4), radix: 16)! < Int($1.dropFirst(4), radix: 16)! }
    }

    func assertStorageError(_ expression: @autoclosure () throws -> some Any, file: StaticString = #filePath,
                            line: UInt = #line, _ check: (StorageError) -> Bool) {
        do {
            _ = try expression()
            XCTFail("expected a StorageError", file: file, line: line)
        } catch let error as StorageError {
            XCTAssertTrue(check(error), "unexpected error: \(error)", file: file, line: line)
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
    }
}
