import Foundation
import XCTest
@testable import WarrenStorage

final class TxnLogTests: StorageTestCase {
    func testAppendSyncReopenReadBack() throws {
        let written = records(1...10)
        let log = try TxnLog.open(directory: logDir)
        XCTAssertEqual(log.lastZxid, 0)
        try log.append(Array(written[0..<4]))
        try log.append(Array(written[4...]))
        try log.sync()
        XCTAssertEqual(try log.readRecords(after: 0), written, "readable before close")
        try log.close()

        let reopened = try TxnLog.open(directory: logDir)
        XCTAssertEqual(reopened.recoveryReport, [])
        XCTAssertEqual(reopened.lastZxid, 10)
        XCTAssertEqual(try reopened.readRecords(after: 0), written)
        XCTAssertEqual(try reopened.readRecords(after: 6), Array(written[6...]))
        XCTAssertEqual(try reopened.readRecords(after: 10), [])
        XCTAssertEqual(try logFiles(), ["log.1"])
    }

    func testReadSeesUnsyncedAppendsAndLaterAppendsGoToANewFile() throws {
        let log = try TxnLog.open(directory: logDir)
        try log.append(records(1...3))
        XCTAssertEqual(try log.readRecords(after: 0).map(\.zxid), [1, 2, 3])
        try log.close()
        let reopened = try TxnLog.open(directory: logDir)
        try reopened.append(records(4...5))
        try reopened.sync()
        XCTAssertEqual(try logFiles(), ["log.1", "log.4"])
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...5))
    }

    func testRollOverBySizeAndByCountAcrossFiles() throws {
        // 40-byte payloads make 60-byte records; 16-byte file header.
        var options = TxnLog.Options(logFileBytesMax: 16 + 3 * 60, logFileRecordsMax: 1000)
        let log = try TxnLog.open(directory: logDir, options: options)
        try log.append(records(1...10))
        try log.sync()
        XCTAssertEqual(try logFiles(), ["log.1", "log.4", "log.7", "log.a"])
        XCTAssertEqual(log.stats.logFileCount, 4)
        for name in try logFiles().dropLast() {
            XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path(name))[.size] as? Int, 16 + 3 * 60)
        }
        XCTAssertEqual(try log.readRecords(after: 0), records(1...10))
        XCTAssertEqual(try log.readRecords(after: 5), records(6...10), "starts inside the second file")
        try log.close()

        options = TxnLog.Options(logFileBytesMax: 1 << 20, logFileRecordsMax: 4)
        let byCount = try TxnLog.open(directory: logDir, options: options)
        try byCount.append(records(11...20))
        try byCount.roll()
        try byCount.append(records(21...21))
        try byCount.sync()
        XCTAssertEqual(try logFiles(), ["log.1", "log.4", "log.7", "log.a", "log.b", "log.f", "log.13", "log.15"])
        let reopened = try TxnLog.open(directory: logDir, options: options)
        XCTAssertEqual(try reopened.readRecords(after: 0), records(1...21))
    }

    func testGroupOfThousandRecordsWithOneSync() throws {
        let log = try TxnLog.open(directory: logDir)
        let group = records(1...1000, bytes: 100)
        for record in group { try log.append([record]) }
        XCTAssertEqual(log.stats.fsyncCount, 0)
        try log.sync()
        try log.sync()  // nothing pending: no second fsync
        let stats = log.stats
        XCTAssertEqual(stats.fsyncCount, 1)
        XCTAssertEqual(stats.lastZxid, 1000)
        XCTAssertEqual(stats.bytesWritten, UInt64(16 + 1000 * 120))
        XCTAssertEqual(stats.logFileCount, 1)
        // While open the file holds a zero-filled runway after the data (see TxnLogRunwayTests); closed, just the data.
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path("log.1"))[.size] as? Int, 1 << 20)
        try log.close()
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: path("log.1"))[.size] as? Int, 16 + 1000 * 120)
        XCTAssertEqual(try TxnLog.open(directory: logDir).readRecords(after: 0), group)
    }

    /// Exercises a larger volume through the whole path; prints the rate but asserts only correctness.
    func testThroughputCheckAssertsOnlyCorrectness() throws {
        let options = TxnLog.Options(logFileBytesMax: 1 << 20)
        let log = try TxnLog.open(directory: logDir, options: options)
        let start = Date()
        var expectedBytes: UInt64 = 0
        for group in 0..<200 {
            let batch = records(Int64(group * 100 + 1)...Int64(group * 100 + 100), bytes: 200)
            expectedBytes += UInt64(batch.count * 220)
            try log.append(batch)
            try log.sync()
        }
        let seconds = Date().timeIntervalSince(start)
        print("storage throughput: 20000 records in 200 synced groups, \(String(format: "%.3f", seconds)) s")
        let stats = log.stats
        XCTAssertEqual(stats.fsyncCount, UInt64(200 + stats.logFileCount - 1), "one per group plus one per roll")
        XCTAssertEqual(stats.bytesWritten, expectedBytes + UInt64(16 * stats.logFileCount))
        try log.close()
        var iterator = try TxnLog.open(directory: logDir, options: options).records(after: 0)
        var zxid: Int64 = 0
        while let record = try iterator.next() {
            zxid += 1
            XCTAssertEqual(record.zxid, zxid)
            if record.payload != payload(zxid, count: 200) { XCTFail("payload of \(zxid) differs"); break }
        }
        XCTAssertEqual(zxid, 20000)
    }

    func testAppendRejectsOutOfOrderZxidsWithoutWriting() throws {
        let log = try TxnLog.open(directory: logDir)
        try log.append(records(1...3))
        assertStorageError(try log.append(records(3...4))) { $0 == .appendOutOfOrder(previous: 3, zxid: 3) }
        assertStorageError(try log.append([LogRecord(zxid: 5, payload: []), LogRecord(zxid: 5, payload: [])])) {
            $0 == .appendOutOfOrder(previous: 5, zxid: 5)
        }
        XCTAssertEqual(log.lastZxid, 3, "a rejected batch writes nothing")
        try log.append(records(4...4))  // still usable
        try log.sync()
        XCTAssertEqual(try log.readRecords(after: 0), records(1...4))

        let fresh = try TxnLog.open(directory: root + "/other")
        assertStorageError(try fresh.append([LogRecord(zxid: 0, payload: [1])])) { $0 == .appendOutOfOrder(previous: 0, zxid: 0) }
    }

    func testReadingAcrossAGapOrAcrossEpochs() throws {
        let log = try TxnLog.open(directory: logDir)
        let epoch1: Int64 = 1 << 32
        try log.append(records(1...3) + [LogRecord(zxid: 5, payload: [5])]
            + [LogRecord(zxid: epoch1 + 1, payload: [6]), LogRecord(zxid: epoch1 + 2, payload: [7])])
        try log.sync()
        assertStorageError(try log.readRecords(after: 0)) {
            if case let .zxidOrder(_, _, previous, zxid) = $0 { return previous == 3 && zxid == 5 }
            return false
        }
        // A reader starting where a snapshot covers the gap sees a gap-free history, including the epoch change.
        XCTAssertEqual(try log.readRecords(after: 4).map(\.zxid), [5, epoch1 + 1, epoch1 + 2])
        XCTAssertEqual(try log.readRecords(after: 5).map(\.zxid), [epoch1 + 1, epoch1 + 2])
        XCTAssertEqual(try log.readRecords(after: epoch1).map(\.zxid), [epoch1 + 1, epoch1 + 2])
    }

    func testOverlappingFilesAreAnOrderError() throws {
        let other = root + "/other"
        let a = try TxnLog.open(directory: logDir)
        try a.append(records(1...5))
        try a.close()
        let b = try TxnLog.open(directory: other)
        try b.append(records(3...6))
        try b.close()
        try FileManager.default.copyItem(atPath: other + "/log.3", toPath: path("log.3"))
        let log = try TxnLog.open(directory: logDir)
        assertStorageError(try log.readRecords(after: 0)) {
            if case let .zxidOrder(file, _, previous, zxid) = $0 { return file.hasSuffix("log.3") && previous == 5 && zxid == 3 }
            return false
        }
    }

    func testReadersAndStatsWhileAnotherThreadAppends() throws {
        let log = try TxnLog.open(directory: logDir, options: TxnLog.Options(logFileBytesMax: 8 << 10))
        var batchesToWrite: [[LogRecord]] = []
        for group in Int64(0)..<50 { batchesToWrite.append(records((group * 20 + 1)...(group * 20 + 20))) }
        let batches = batchesToWrite
        let writer = Thread {
            for batch in batches {
                try! log.append(batch)
                try! log.sync()
            }
        }
        writer.start()
        var reads = 0
        while log.stats.lastZxid < 1000 || reads == 0 {
            let seen = try log.readRecords(after: 0)
            XCTAssertEqual(seen.map(\.zxid), (0..<seen.count).map { Int64($0 + 1) }, "every read is a gap-free prefix")
            reads += 1
        }
        while !writer.isFinished { usleep(1000) }
        XCTAssertEqual(try log.readRecords(after: 0), records(1...1000))
        XCTAssertEqual(log.stats.fsyncCount, UInt64(50 + log.stats.logFileCount - 1))
    }

    func testCloseThenUseIsAnError() throws {
        let log = try TxnLog.open(directory: logDir)
        try log.append(records(1...2))
        try log.close()
        assertStorageError(try log.append(records(3...3))) { $0 == .closed }
        XCTAssertEqual(try TxnLog.open(directory: logDir).readRecords(after: 0), records(1...2), "close synced")
    }
}
