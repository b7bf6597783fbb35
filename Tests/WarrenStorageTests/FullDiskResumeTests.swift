import Foundation
import XCTest
@testable import WarrenStorage

/// A log that failed because its disk was full is made usable again in place (`resumeAfterFullDisk`): what was
/// synced stays, what was not is cut off, and appends go on after the last durable zxid.
final class FullDiskResumeTests: StorageTestCase {
    private func openLog(_ faults: FaultInjector) throws -> TxnLog {
        var options = TxnLog.Options()
        options.faults = faults
        return try TxnLog.open(directory: logDir, options: options)
    }

    func testWriteFailureForSpaceResumesAfterTheLastSyncedRecord() throws {
        let faults = FaultInjector()
        let log = try openLog(faults)
        try log.append(records(1...3))
        try log.sync()
        faults.fail("write", errno: ENOSPC)
        try log.append(records(4...5))  // buffered only
        assertStorageError(try log.sync()) { $0 == .io(op: "write", path: self.path("log.1"), errno: ENOSPC) }
        XCTAssertTrue(log.failedForSpace)
        assertStorageError(try log.append(records(6...6))) { if case .logFailed = $0 { return true } else { return false } }
        // Still full: the resume itself does no write, so it succeeds; the next sync fails again, and resumes again.
        try log.resumeAfterFullDisk()
        XCTAssertEqual(log.lastZxid, 3, "4...5 were never synced, so never acknowledged")
        try log.append(records(4...4))
        assertStorageError(try log.sync()) { if case .io(_, _, ENOSPC) = $0 { return true } else { return false } }
        faults.clear()
        try log.resumeAfterFullDisk()
        try log.append(records(4...6))
        try log.sync()
        try log.close()
        let reopened = try openLog(FaultInjector())
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...6))
        XCTAssertEqual(reopened.recoveryReport, [], "no torn tail: the unsynced bytes were cut off")
    }

    func testFileWithNothingSyncedIsRemoved() throws {
        let faults = FaultInjector()
        let log = try openLog(faults)
        try log.append(records(1...2))
        try log.roll()  // the next append starts log.3
        faults.fail("write", errno: ENOSPC)
        try log.append(records(3...4))
        assertStorageError(try log.sync()) { if case .io(_, _, ENOSPC) = $0 { return true } else { return false } }
        faults.clear()
        try log.resumeAfterFullDisk()
        XCTAssertEqual(log.fileNames, ["log.1"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("log.3")))
        try log.append(records(3...3))
        try log.sync()
        try log.close()
        XCTAssertEqual(try openLog(FaultInjector()).readRecords(after: 0), records(1...3))
    }

    func testOtherFailuresAreNotResumed() throws {
        let faults = FaultInjector()
        let log = try openLog(faults)
        try log.append(records(1...2))
        faults.fail("fdatasync", errno: EIO)
        assertStorageError(try log.sync()) { if case .io(_, _, EIO) = $0 { return true } else { return false } }
        faults.clear()
        XCTAssertFalse(log.failedForSpace)
        assertStorageError(try log.resumeAfterFullDisk()) { if case .logFailed = $0 { return true } else { return false } }
        assertStorageError(try log.append(records(3...3))) { if case .logFailed = $0 { return true } else { return false } }
    }
}
