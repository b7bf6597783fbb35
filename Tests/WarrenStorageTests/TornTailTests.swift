import Foundation
import XCTest
@testable import WarrenStorage

/// Crash leftovers at the end of the newest file are cut off on open; damage anywhere else is an error.
final class TornTailTests: StorageTestCase {
    /// Writes records 1...5 to log.1 and returns the encoding of record 6 (not written).
    private func prepareLog() throws -> [UInt8] {
        let log = try TxnLog.open(directory: logDir)
        try log.append(records(1...5))
        try log.close()
        var sixth: [UInt8] = []
        LogFormat.append(LogRecord(zxid: 6, payload: payload(6)), to: &sixth)
        return sixth
    }

    /// Appends `tail` to the newest file, reopens, and checks the repair and that appending afterwards works.
    private func assertRepaired(tail: [UInt8], reason: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let logPath = path("log.1")
        let clean = try fileBytes(logPath)
        try writeBytes(clean + tail, to: logPath)

        let log = try TxnLog.open(directory: logDir)
        XCTAssertEqual(log.recoveryReport.count, 1, file: file, line: line)
        XCTAssertTrue(log.recoveryReport.first?.contains(reason) == true, "\(log.recoveryReport)", file: file, line: line)
        XCTAssertTrue(log.recoveryReport.first?.contains("offset \(clean.count)") == true, file: file, line: line)
        XCTAssertEqual(try fileBytes(logPath), clean, "tail cut exactly at the last good record", file: file, line: line)
        XCTAssertEqual(log.lastZxid, 5, file: file, line: line)
        try log.append(records(6...7))
        try log.sync()
        try log.close()

        let reopened = try TxnLog.open(directory: logDir)
        XCTAssertEqual(reopened.recoveryReport, [], file: file, line: line)
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...7), file: file, line: line)
    }

    func testShortRecordHeaderIsTruncated() throws {
        let sixth = try prepareLog()
        try assertRepaired(tail: Array(sixth[0..<11]), reason: "record header incomplete")
    }

    func testShortPayloadIsTruncated() throws {
        let sixth = try prepareLog()
        try assertRepaired(tail: Array(sixth[0..<(sixth.count - 7)]), reason: "incomplete")
    }

    func testZeroFillIsTruncated() throws {
        _ = try prepareLog()
        try assertRepaired(tail: [UInt8](repeating: 0, count: 4096), reason: "zero bytes at the end")
    }

    func testHeaderCutShortByUnwrittenPageIsTruncated() throws {
        let sixth = try prepareLog()
        // The first 9 header bytes reached the disk; the rest of the page never did.
        try assertRepaired(tail: Array(sixth[0..<9]) + [UInt8](repeating: 0, count: 4000), reason: "partly written")
    }

    func testCompleteHeaderWithUnwrittenPayloadIsTruncated() throws {
        let sixth = try prepareLog()
        try assertRepaired(tail: Array(sixth[0..<20]) + [UInt8](repeating: 0, count: 10), reason: "incomplete")
    }

    func testNewestFileWithoutCompleteRecordIsRemoved() throws {
        let sixth = try prepareLog()
        var header = LogFormat.fileHeader(firstZxid: 6)
        try writeBytes(Array(header[0..<7]), to: path("log.6"))
        var log = try TxnLog.open(directory: logDir)
        XCTAssertEqual(try logFiles(), ["log.1"])
        XCTAssertTrue(log.recoveryReport.first?.contains("file header incomplete") == true, "\(log.recoveryReport)")
        XCTAssertEqual(log.lastZxid, 5)

        try writeBytes([UInt8](repeating: 0, count: 8192), to: path("log.6"))
        log = try TxnLog.open(directory: logDir)
        XCTAssertEqual(try logFiles(), ["log.1"])
        XCTAssertTrue(log.recoveryReport.first?.contains("zero bytes") == true, "\(log.recoveryReport)")

        header += Array(sixth[0..<30])
        try writeBytes(header, to: path("log.6"))
        log = try TxnLog.open(directory: logDir)
        XCTAssertEqual(try logFiles(), ["log.1"])
        XCTAssertEqual(log.recoveryReport.count, 1)
        try log.append(records(6...6))
        try log.sync()
        XCTAssertEqual(try log.readRecords(after: 0), records(1...6))
    }

    func testFlippedPayloadByteInLastCompleteRecordIsCorruptOnOpen() throws {
        _ = try prepareLog()
        var bytes = try fileBytes(path("log.1"))
        bytes[bytes.count - 3] ^= 0x10
        try writeBytes(bytes, to: path("log.1"))
        let lastOffset = Int64(16 + 4 * 60)
        assertStorageError(try TxnLog.open(directory: logDir)) {
            $0 == .corruptRecord(file: self.path("log.1"), offset: lastOffset, zxid: 5)
        }
        XCTAssertEqual(try fileBytes(path("log.1")), bytes, "nothing repaired")
    }

    func testFlippedByteInMiddleRecordOfNewestFileIsCorruptOnOpen() throws {
        _ = try prepareLog()
        var bytes = try fileBytes(path("log.1"))
        bytes[16 + 2 * 60 + 25] ^= 0x01  // payload of record 3
        try writeBytes(bytes, to: path("log.1"))
        assertStorageError(try TxnLog.open(directory: logDir)) {
            $0 == .corruptRecord(file: self.path("log.1"), offset: 16 + 2 * 60, zxid: 3)
        }
    }

    func testFlippedLengthByteInMiddleRecordIsCorruptNotTorn() throws {
        _ = try prepareLog()
        var bytes = try fileBytes(path("log.1"))
        bytes[16 + 60 + 1] ^= 0x40  // length of record 2 now points far past the end
        try writeBytes(bytes, to: path("log.1"))
        assertStorageError(try TxnLog.open(directory: logDir)) {
            $0 == .corruptRecord(file: self.path("log.1"), offset: 16 + 60, zxid: nil)
        }
    }

    func testFlippedByteInOlderFileIsCorruptWhenRead() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 5))
        try log.append(records(1...12))
        try log.close()
        var bytes = try fileBytes(path("log.1"))
        bytes[16 + 60 + 30] ^= 0x80  // record 2
        try writeBytes(bytes, to: path("log.1"))

        let reopened = try TxnLog.open(directory: logDir)
        XCTAssertEqual(reopened.recoveryReport, [])
        assertStorageError(try reopened.readRecords(after: 0)) {
            $0 == .corruptRecord(file: self.path("log.1"), offset: 16 + 60, zxid: 2)
        }
        // The file is verified whole before any of it is returned, even records after the damaged one.
        assertStorageError(try reopened.readRecords(after: 3)) { if case .corruptRecord = $0 { return true } else { return false } }
        XCTAssertEqual(try reopened.readRecords(after: 5), records(6...12), "later files are intact")
    }

    func testTornTailInOlderFileIsCorruptWhenRead() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 5))
        try log.append(records(1...8))
        try log.close()
        let bytes = try fileBytes(path("log.1"))
        try writeBytes(Array(bytes.dropLast(10)), to: path("log.1"))
        let reopened = try TxnLog.open(directory: logDir)
        assertStorageError(try reopened.readRecords(after: 0)) {
            $0 == .corruptRecord(file: self.path("log.1"), offset: 16 + 4 * 60, zxid: 5)
        }
    }

    func testForeignFileIsBadFile() throws {
        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        try writeBytes(Array("ZKLG not ours at all".utf8), to: path("log.1"))
        assertStorageError(try TxnLog.open(directory: logDir)) {
            if case let .badFile(file, reason) = $0 { return file.hasSuffix("log.1") && reason.contains("magic") } else { return false }
        }
    }
}

/// Files written by builds whose log format was version 1 (same layout, Jute txn payloads) stay readable, and
/// each record says which version its file has, so the caller knows how to decode the payload.
final class LogVersionTests: StorageTestCase {
    func testVersionOneFilesAreReadAndTagged() throws {
        var old = LogFormat.fileHeader(firstZxid: 1, version: 1)
        for record in records(1...3) { LogFormat.append(record, to: &old) }
        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        try writeBytes(old, to: path("log.1"))

        let log = try TxnLog.open(directory: logDir)
        XCTAssertEqual(log.lastZxid, 3)
        try log.append(records(4...5))
        try log.sync()
        try log.close()
        XCTAssertEqual(try fileBytes(path("log.1")), old, "a version 1 file is never appended to")

        let read = try TxnLog.open(directory: logDir).readRecords(after: 0)
        XCTAssertEqual(read.map(\.zxid), [1, 2, 3, 4, 5])
        XCTAssertEqual(read.map(\.fileVersion), [1, 1, 1, LogFormat.version, LogFormat.version])
        XCTAssertEqual(read.map(\.payload), records(1...5).map(\.payload))
    }

    func testUnknownVersionIsRefused() throws {
        var future = LogFormat.fileHeader(firstZxid: 1, version: 3)
        LogFormat.append(records(1...1)[0], to: &future)
        try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        try writeBytes(future, to: path("log.1"))
        XCTAssertThrowsError(try TxnLog.open(directory: logDir)) { error in
            XCTAssertTrue("\(error)".contains("unsupported log version 3"), "\(error)")
        }
    }
}
