import Foundation
import XCTest
@testable import WarrenStorage

final class PurgeTests: StorageTestCase {
    func testPurgeKeepsNewestSnapshotsAndTheLogAfterTheOldestKept() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 5))
        let store = try SnapshotStore(directory: snapDir)
        for zxid in Int64(1)...55 {
            try log.append(records(zxid...zxid))
            if zxid % 10 == 0 {
                try log.roll()
                try store.writeSnapshot(zxid: zxid, payload: [UInt8(zxid)])
            }
        }
        try log.sync()
        try writeBytes([], to: path("snapshot.3c.tmp", in: snapDir))

        let result = try Autopurge.purge(snapshots: store, log: log, retain: 3)
        XCTAssertEqual(result.oldestRetainedZxid, 30)
        XCTAssertEqual(Set(result.removedSnapshots.map { ($0 as NSString).lastPathComponent }),
                       ["snapshot.a", "snapshot.14", "snapshot.3c.tmp"])
        XCTAssertEqual(try store.snapshotZxids(), [30, 40, 50])
        // Files start at 1, 6, 11, 16, 21, 26, 31, ...: the one holding 26...30 ends at the snapshot and goes too.
        XCTAssertEqual(result.removedLogFiles.count, 6)
        XCTAssertEqual(try logFiles().first, "log.1f")
        XCTAssertEqual(log.stats.logFileCount, try logFiles().count)
        try log.close()

        // Even with the two newest snapshots damaged, what was kept recovers everything.
        for name in ["snapshot.32", "snapshot.28"] { try writeBytes([0], to: path(name, in: snapDir)) }
        let state = try Recovery.load(dataDir: snapDir, dataLogDir: logDir)
        XCTAssertEqual(state.snapshot, Snapshot(zxid: 30, payload: [30]))
        XCTAssertEqual(state.records, records(31...55))
    }

    func testLogFileSpanningTheOldestSnapshotIsKept() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 4))
        try log.append(records(1...20))  // files at 1, 5, 9, 13, 17
        let store = try SnapshotStore(directory: snapDir)
        for zxid: Int64 in [7, 15, 18] { try store.writeSnapshot(zxid: zxid, payload: []) }
        let result = try Autopurge.purge(snapshots: store, log: log, retain: 1)  // counts as 3
        XCTAssertEqual(result.removedSnapshots, [])
        XCTAssertEqual(result.removedLogFiles.map { ($0 as NSString).lastPathComponent }, ["log.1"])
        XCTAssertEqual(try log.readRecords(after: 7), records(8...20))
    }

    func testNoSnapshotMeansNoLogIsRemoved() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileRecordsMax: 2))
        try log.append(records(1...9))
        let result = try Autopurge.purge(snapshots: try SnapshotStore(directory: snapDir), log: log, retain: 5)
        XCTAssertEqual(result, PurgeReport(removedSnapshots: [], removedLogFiles: [], oldestRetainedZxid: nil))
        XCTAssertEqual(try logFiles().count, 5)
    }

    func testAutopurgeConfigEnforcesTheMinimum() {
        let low = AutopurgeConfig(snapRetainCount: 1, purgeIntervalHours: 24)
        XCTAssertEqual(low.snapRetainCount, 3)
        XCTAssertEqual(low.warnings.count, 1)
        XCTAssertTrue(low.isEnabled)
        XCTAssertEqual(low.intervalSeconds, 86_400)
        let off = AutopurgeConfig(snapRetainCount: 10)
        XCTAssertEqual(off.snapRetainCount, 10)
        XCTAssertFalse(off.isEnabled)
        XCTAssertEqual(off.warnings, [])
    }
}
