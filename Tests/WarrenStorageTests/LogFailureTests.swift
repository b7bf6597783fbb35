import Foundation
import XCTest
@testable import WarrenStorage

/// I/O errors surface as `StorageError.io`, and a log whose write or sync failed accepts nothing until reopened.
final class LogFailureTests: StorageTestCase {
    func testDirectoryPathThatIsAFileIsAnIOError() throws {
        try writeBytes([1, 2, 3], to: root + "/plainfile")
        assertStorageError(try TxnLog.open(directory: root + "/plainfile")) {
            if case let .io(_, path, code) = $0 { return path.hasSuffix("plainfile") && code == ENOTDIR } else { return false }
        }
        assertStorageError(try TxnLog.open(directory: root + "/plainfile/log")) {
            if case let .io(_, _, code) = $0 { return code == ENOTDIR } else { return false }
        }
    }

    func testFailedFileCreationFailsTheLog() throws {
        let log = try TxnLog.open(directory: logDir)
        try log.append(records(1...2))
        try log.roll()
        // Something else holds the name the next file needs: a directory.
        try FileManager.default.createDirectory(atPath: path("log.3"), withIntermediateDirectories: false)
        assertStorageError(try log.append(records(3...3))) {
            $0 == .io(op: "open", path: self.path("log.3"), errno: EEXIST)
        }
        assertStorageError(try log.append(records(4...4))) {
            if case .logFailed(.io(op: "open", _, EEXIST)) = $0 { return true } else { return false }
        }
        assertStorageError(try log.sync()) { if case .logFailed = $0 { return true } else { return false } }
    }

    func testFailedSyncRefusesFurtherAppendsUntilReopened() throws {
        var options = TxnLog.Options()
        let faults = FaultInjector()
        options.faults = faults
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...3))
        try log.sync()
        try log.append(records(4...5))
        faults.fail("fdatasync", errno: EIO)
        assertStorageError(try log.sync()) { $0 == .io(op: "fdatasync", path: self.path("log.1"), errno: EIO) }
        faults.clear()
        // The disk may have recovered, but durability of 4...5 is unknown: the log stays failed.
        assertStorageError(try log.append(records(6...6))) {
            $0 == .logFailed(cause: .io(op: "fdatasync", path: self.path("log.1"), errno: EIO))
        }
        assertStorageError(try log.sync()) { if case .logFailed = $0 { return true } else { return false } }
        assertStorageError(try log.roll()) { if case .logFailed = $0 { return true } else { return false } }
        assertStorageError(try log.truncate(after: 2)) { if case .logFailed = $0 { return true } else { return false } }
        XCTAssertEqual(log.stats.fsyncCount, 1)
        try log.close()

        // Reopening re-reads what is on disk; here the writes did reach the file.
        let reopened = try TxnLog.open(directory: logDir, options: options)
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...5))
        try reopened.append(records(6...6))
        try reopened.sync()
    }

    func testFailedWriteFailsTheLog() throws {
        var options = TxnLog.Options(writeBufferBytes: 1)  // every append writes at once
        let faults = FaultInjector()
        options.faults = faults
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...1))
        faults.fail("write", errno: ENOSPC)
        assertStorageError(try log.append(records(2...2))) { $0 == .io(op: "write", path: self.path("log.1"), errno: ENOSPC) }
        faults.clear()
        assertStorageError(try log.append(records(3...3))) { if case .logFailed = $0 { return true } else { return false } }
        try log.close()  // releases the file without syncing
        XCTAssertEqual(try TxnLog.open(directory: logDir).readRecords(after: 0), records(1...1))
    }

    func testFailedDirectorySyncFailsTheLog() throws {
        var options = TxnLog.Options()
        let faults = FaultInjector()
        options.faults = faults
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...1))
        faults.fail("fsync-dir", errno: EIO)
        assertStorageError(try log.sync()) { if case .io(op: "fsync-dir", _, EIO) = $0 { return true } else { return false } }
        faults.clear()
        assertStorageError(try log.append(records(2...2))) { if case .logFailed = $0 { return true } else { return false } }
    }

    func testUnreadableFileIsAnIOErrorWhenRead() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 2))
        try log.append(records(1...5))
        try log.sync()
        try Directory.remove(path("log.1"))
        try FileManager.default.createDirectory(atPath: path("log.1"), withIntermediateDirectories: false)
        assertStorageError(try log.readRecords(after: 0)) {
            if case let .io(_, path, code) = $0 { return path.hasSuffix("log.1") && code == EISDIR } else { return false }
        }
    }
}
