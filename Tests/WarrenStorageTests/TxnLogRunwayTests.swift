import Foundation
import XCTest
@testable import WarrenStorage

/// The zero-filled runway ahead of the current file's data: present while appending, never read as data, cut off
/// by roll, close and truncate, and removed as a torn tail when a crash leaves it behind.
final class TxnLogRunwayTests: StorageTestCase {
    private let runway = 4096
    private var options: TxnLog.Options { TxnLog.Options(runwayBytes: runway) }

    /// Appends and syncs `zxids`, then drops the log without closing it, as a crash would: the runway stays.
    private func crashAfterSyncingRecords(_ zxids: ClosedRange<Int64>) throws {
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(zxids))
        try log.sync()
    }

    private func size(_ name: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path(name))[.size] as! Int
    }

    func testRunwayGrowsInStepsAheadOfTheData() throws {
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...10))  // 16 + 10 × 60 bytes
        try log.sync()
        XCTAssertEqual(try size("log.1"), runway)
        let data = try fileBytes(path("log.1"))
        XCTAssertTrue(data[(16 + 600)...].allSatisfy { $0 == 0 }, "zeros after the data")
        try log.append(records(11...100))  // 16 + 100 × 60 = 6016 bytes: past the first step
        try log.sync()
        XCTAssertEqual(try size("log.1"), 2 * runway)
        XCTAssertEqual(try log.readRecords(after: 0), records(1...100), "readers stop at the data's end")
        try log.close()
        XCTAssertEqual(try size("log.1"), 16 + 100 * 60)
    }

    func testRollTrimsTheFileBeforeTheNextStarts() throws {
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...3))
        try log.roll()
        try log.append(records(4...5))
        try log.sync()
        XCTAssertEqual(try size("log.1"), 16 + 3 * 60)
        XCTAssertEqual(try size("log.4"), runway)
        XCTAssertEqual(try log.readRecords(after: 0), records(1...5))
    }

    func testTruncateCutsTheRunwayAndTheRecordsAfter() throws {
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...8))
        try log.sync()
        let report = try log.truncate(after: 5)
        XCTAssertEqual(report.count, 1, "\(report)")
        XCTAssertEqual(try size("log.1"), 16 + 5 * 60)
        XCTAssertEqual(log.lastZxid, 5)
        try log.append(records(6...6))
        try log.sync()
        XCTAssertEqual(try log.readRecords(after: 0), records(1...6))
    }

    /// A crash (the log is dropped without close) leaves the runway on disk; open removes it and keeps every record.
    func testCrashLeavesZeroFillThatOpenRemoves() throws {
        try crashAfterSyncingRecords(1...7)
        XCTAssertEqual(try size("log.1"), runway)
        let reopened = try TxnLog.open(directory: logDir, options: options)
        XCTAssertEqual(reopened.recoveryReport.count, 1)
        XCTAssertTrue(reopened.recoveryReport.first?.contains("zero bytes at the end") == true, "\(reopened.recoveryReport)")
        XCTAssertEqual(try size("log.1"), 16 + 7 * 60)
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...7))
    }

    func testZeroRunwayTurnsPreallocationOff() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(runwayBytes: 0))
        try log.append(records(1...3))
        try log.sync()
        XCTAssertEqual(try size("log.1"), 16 + 3 * 60)
    }

    /// A disk too full for the runway still takes the data: the log stays usable and the file grows as written.
    func testRunwayFailureKeepsTheLogUsable() throws {
        var options = self.options
        let faults = FaultInjector()
        options.faults = faults
        let log = try TxnLog.open(directory: logDir, options: options)
        faults.fail("pwrite", errno: ENOSPC)
        try log.append(records(1...3))
        try log.sync()
        XCTAssertEqual(try size("log.1"), 16 + 3 * 60, "no runway, nothing left behind")
        XCTAssertEqual(log.stats.runwayFailures, 1)
        faults.clear()
        try log.append(records(4...100))
        try log.sync()
        XCTAssertEqual(log.stats.runwayFailures, 1, "not retried for this file")
        XCTAssertEqual(try size("log.1"), 16 + 100 * 60)
        try log.roll()
        try log.append(records(101...101))
        try log.sync()
        XCTAssertEqual(try size("log.65"), runway, "the next file has a runway again")
        XCTAssertEqual(try log.readRecords(after: 0), records(1...101))
    }

    /// A crash can persist the first sectors of the last record into the runway and not the rest: the record's tail
    /// is still zeros, so its checksum fails. That is a torn tail, cut off like any other.
    func testLastRecordWhoseLastSectorsNeverArrivedIsATornTail() throws {
        try crashAfterSyncingRecords(1...7)
        let dataEnd = 16 + 7 * 60
        var eighth: [UInt8] = []
        LogFormat.append(LogRecord(zxid: 8, payload: payload(8, count: 1500)), to: &eighth)
        var bytes = try fileBytes(path("log.1"))
        let sectorEnd = (dataEnd / 512 + 2) * 512  // inside the new record: its later sectors stay zero
        bytes.replaceSubrange(dataEnd..<sectorEnd, with: eighth[0..<(sectorEnd - dataEnd)])
        try writeBytes(bytes, to: path("log.1"))

        let reopened = try TxnLog.open(directory: logDir, options: options)
        XCTAssertTrue(reopened.recoveryReport.first?.contains("partly written") == true, "\(reopened.recoveryReport)")
        XCTAssertEqual(try size("log.1"), dataEnd)
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...7))
    }

    /// A flipped bit in the last record leaves no zero run inside it: still corrupt, never cut off.
    func testFlippedBitInLastRecordBeforeTheRunwayIsCorrupt() throws {
        try crashAfterSyncingRecords(1...7)
        var bytes = try fileBytes(path("log.1"))
        bytes[16 + 6 * 60 + 30] ^= 0x04  // payload of record 7, the last one
        try writeBytes(bytes, to: path("log.1"))
        assertStorageError(try TxnLog.open(directory: logDir, options: options)) {
            $0 == .corruptRecord(file: self.path("log.1"), offset: 16 + 6 * 60, zxid: 7)
        }
    }
}
