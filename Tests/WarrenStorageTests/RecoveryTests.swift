import Foundation
import XCTest
@testable import WarrenStorage

final class RecoveryTests: StorageTestCase {
    private func writeLog(_ zxids: ClosedRange<Int64>, recordsPerFile: Int = 5) throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: recordsPerFile))
        try log.append(records(zxids))
        try log.close()
    }

    func testEmptyDirectories() throws {
        let state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertNil(state.snapshot)
        XCTAssertEqual(state.records, [])
        XCTAssertEqual(state.lastZxid, 0)
        XCTAssertEqual(state.report.count, 1)
    }

    func testLogOnlyAndSnapshotPlusLog() throws {
        try writeLog(1...12)
        var state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertNil(state.snapshot)
        XCTAssertEqual(state.records, records(1...12))

        try SnapshotStore(directory: snapDir).writeSnapshot(zxid: 7, payload: [7, 7])
        state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertEqual(state.snapshot, Snapshot(zxid: 7, payload: [7, 7]))
        XCTAssertEqual(state.records, records(8...12))
        XCTAssertEqual(state.lastZxid, 12)
        XCTAssertTrue(state.report.last?.contains("5 log records up to 0xc") == true, "\(state.report)")
    }

    func testTornTailAndSnapshotFallbackAreReported() throws {
        try writeLog(1...12)
        let store = try SnapshotStore(directory: snapDir)
        try store.writeSnapshot(zxid: 4, payload: [4])
        try store.writeSnapshot(zxid: 9, payload: [9])
        try writeBytes([0x42], to: path("snapshot.9", in: snapDir))
        let newestLog = path(try logFiles().last!)
        try writeBytes(try fileBytes(newestLog) + [0, 0, 0, 9], to: newestLog)

        let state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertEqual(state.snapshot?.zxid, 4)
        XCTAssertEqual(state.records, records(5...12))
        XCTAssertEqual(state.report.count, 3, "\(state.report)")
        XCTAssertTrue(state.report[0].contains("snapshot.9"))
        XCTAssertTrue(state.report[1].contains("truncated torn tail"))
    }

    func testGapBetweenSnapshotAndLogIsAnError() throws {
        try writeLog(10...12)
        try SnapshotStore(directory: snapDir).writeSnapshot(zxid: 7, payload: [])
        assertStorageError(try Recovery.load(dataDir: snapDir, dataLogDir: logDir)) {
            if case let .zxidOrder(_, _, previous, zxid) = $0 { return previous == 7 && zxid == 10 } else { return false }
        }
    }

    func testSnapshotAheadOfTheLogThenAppendingContinues() throws {
        // A follower synced by snapshot: its log stops at 3, the snapshot is at 50.
        try writeLog(1...3)
        try SnapshotStore(directory: snapDir).writeSnapshot(zxid: 50, payload: [50])
        var state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertEqual(state.records, [])
        XCTAssertEqual(state.lastZxid, 50)
        let log = try TxnLog.open(directory: logDir)
        try log.append(records(51...52))
        try log.close()
        state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertEqual(state.records, records(51...52))
    }

    func testAllSnapshotsDamagedIsUnrecoverable() throws {
        try writeLog(1...3)
        try FileManager.default.createDirectory(atPath: snapDir, withIntermediateDirectories: true)
        try writeBytes([1, 2, 3], to: path("snapshot.2", in: snapDir))
        assertStorageError(try Recovery.load(dataDir: snapDir, dataLogDir: logDir)) {
            if case let .unrecoverable(reason) = $0 { return reason.contains("snapshot.2") } else { return false }
        }
    }

    func testLogNotStartingAnEpochWithoutSnapshotIsUnrecoverable() throws {
        let log = try TxnLog.open(directory: logDir)
        try log.append(records((1 << 32 | 7)...(1 << 32 | 9)))
        try log.close()
        assertStorageError(try Recovery.load(dataDir: snapDir, dataLogDir: logDir)) {
            if case .unrecoverable = $0 { return true } else { return false }
        }
    }

    func testCorruptRecordAfterSnapshotIsAnError() throws {
        try writeLog(1...12)
        try SnapshotStore(directory: snapDir).writeSnapshot(zxid: 2, payload: [])
        var bytes = try fileBytes(path("log.6"))
        bytes[16 + 30] ^= 1
        try writeBytes(bytes, to: path("log.6"))
        assertStorageError(try Recovery.load(dataDir: snapDir, dataLogDir: logDir)) {
            $0 == .corruptRecord(file: self.path("log.6"), offset: 16, zxid: 6)
        }
    }
}
