import Foundation
import XCTest
@testable import WarrenStorage

final class TruncateTests: StorageTestCase {
    private func makeLog() throws -> TxnLog {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 5))
        try log.append(records(1...22))
        try log.sync()
        XCTAssertEqual(try logFiles(), ["log.1", "log.6", "log.b", "log.10", "log.15"])
        return log
    }

    func testTruncateInsideAnOlderFileRemovesNewerFiles() throws {
        let log = try makeLog()
        let report = try log.truncate(after: 8)
        XCTAssertEqual(report.count, 4, "\(report)")  // three files removed, one cut
        XCTAssertEqual(try logFiles(), ["log.1", "log.6"])
        XCTAssertEqual(log.lastZxid, 8)
        XCTAssertEqual(log.stats.logFileCount, 2)
        XCTAssertEqual(try log.readRecords(after: 0), records(1...8))
        assertStorageError(try log.append(records(8...8))) { $0 == .appendOutOfOrder(previous: 8, zxid: 8) }
        try log.append(records(9...12))
        try log.sync()
        try log.close()
        let reopened = try TxnLog.open(directory: logDir)
        XCTAssertEqual(reopened.recoveryReport, [])
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...12))
        XCTAssertEqual(try logFiles(), ["log.1", "log.6", "log.9"])
    }

    func testTruncateAtAFileBoundaryAndAtTheEnd() throws {
        let log = try makeLog()
        XCTAssertEqual(try log.truncate(after: 22), [], "nothing after the last record")
        try log.truncate(after: 15)
        XCTAssertEqual(try logFiles(), ["log.1", "log.6", "log.b"])
        XCTAssertEqual(try log.readRecords(after: 10), records(11...15))
    }

    func testTruncateUnsyncedAppendsAndEverything() throws {
        let log = try makeLog()
        try log.append(records(23...24))  // still buffered
        try log.truncate(after: 23)
        XCTAssertEqual(try log.readRecords(after: 20).map(\.zxid), [21, 22, 23])
        try log.truncate(after: 0)
        XCTAssertEqual(try logFiles(), [])
        XCTAssertEqual(try log.readRecords(after: 0), [])
        XCTAssertEqual(log.lastZxid, 0)
        try log.append(records(1...2))
        try log.sync()
        XCTAssertEqual(try TxnLog.open(directory: logDir).readRecords(after: 0), records(1...2))
    }

    func testTruncateToAZxidInAGapKeepsTheRecordBeforeIt() throws {
        let log = try TxnLog.open(directory: logDir)
        try log.append([LogRecord(zxid: 1, payload: [1]), LogRecord(zxid: 2, payload: [2]), LogRecord(zxid: 7, payload: [7])])
        try log.truncate(after: 5)
        XCTAssertEqual(log.lastZxid, 2)
        XCTAssertEqual(try log.readRecords(after: 0).map(\.zxid), [1, 2])
    }

    func testRemoveFilesKeepsTheFileSpanningTheZxid() throws {
        let log = try makeLog()
        XCTAssertEqual(log.oldestZxid, 1)
        XCTAssertEqual(try log.removeFiles(notNeededAfter: 4), [])
        XCTAssertEqual(try log.removeFiles(notNeededAfter: 12).map { ($0 as NSString).lastPathComponent }, ["log.1", "log.6"])
        XCTAssertEqual(try log.readRecords(after: 12), records(13...22))
        XCTAssertEqual(log.oldestZxid, 11)
        assertStorageError(try log.readRecords(after: 9)) {
            if case let .zxidOrder(_, _, previous, zxid) = $0 { return previous == 9 && zxid == 11 } else { return false }
        }
        // A file ending right at the zxid is not needed: the next one starts at zxid + 1.
        XCTAssertEqual(try log.removeFiles(notNeededAfter: 15).map { ($0 as NSString).lastPathComponent }, ["log.b"])
        XCTAssertEqual(try log.removeFiles(notNeededAfter: 1000).map { ($0 as NSString).lastPathComponent }, ["log.10"])
        XCTAssertEqual(try logFiles(), ["log.15"], "the newest file is never removed")
        XCTAssertEqual(log.stats.logFileCount, 1)
        try log.append(records(23...23))
        try log.sync()
        XCTAssertEqual(try log.readRecords(after: 20).map(\.zxid), [21, 22, 23])
    }
}
