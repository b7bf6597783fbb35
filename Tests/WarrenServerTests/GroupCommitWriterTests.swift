import Foundation
import XCTest

@testable import WarrenServer

/// The group-commit log writer, over an in-memory "disk". Waits are bounded; nothing sleeps for a fixed time.
final class GroupCommitWriterTests: XCTestCase {
    /// What the writer did, recorded from its thread and read from the test's (every access under `lock`).
    private final class Disk: @unchecked Sendable {
        private let lock = NSLock()
        private var written: [Int64] = []
        private var synced: [Int64] = []
        private var durable: [(zxid: Int64, count: Int)] = []
        private var durableBeforeSync: [Int64] = []
        private var failures: [[Int64]] = []
        private var syncs = 0
        private let failOnZxid: Int64?
        /// When set, the first sync blocks until `releaseFirstSync`, so the test can queue records behind it.
        private let firstSyncGate: DispatchSemaphore?

        init(failOnZxid: Int64? = nil, holdFirstSync: Bool = false) {
            self.failOnZxid = failOnZxid
            firstSyncGate = holdFirstSync ? DispatchSemaphore(value: 0) : nil
        }

        func write(_ records: [GroupCommitWriter.Record]) throws {
            struct WriteFailed: Error {}
            if let bad = failOnZxid, records.contains(where: { $0.zxid == bad }) { throw WriteFailed() }
            lock.withLock { written += records.map(\.zxid) }
        }

        func sync() {
            let first = lock.withLock { () -> Bool in
                syncs += 1
                return syncs == 1
            }
            if first, let gate = firstSyncGate { _ = gate.wait(timeout: .now() + 5) }
            lock.withLock { synced = written }
        }

        func releaseFirstSync() { firstSyncGate?.signal() }

        func reportDurable(_ zxid: Int64, _ count: Int) {
            lock.withLock {
                if !synced.contains(zxid) { durableBeforeSync.append(zxid) }
                durable.append((zxid, count))
            }
        }

        func reportFailure(_ lost: [GroupCommitWriter.Record]) {
            lock.withLock { failures.append(lost.map(\.zxid)) }
        }

        /// Polls (at most 5 s) until `condition` holds; returns whether it did.
        func wait(until condition: (Disk) -> Bool) -> Bool {
            let deadline = Date().addingTimeInterval(5)
            while !condition(self) {
                if Date() > deadline { return false }
                usleep(1000)
            }
            return true
        }

        var writtenZxids: [Int64] { lock.withLock { written } }
        var durableReports: [(zxid: Int64, count: Int)] { lock.withLock { durable } }
        var reportsBeforeSync: [Int64] { lock.withLock { durableBeforeSync } }
        var failureReports: [[Int64]] { lock.withLock { failures } }
        var syncCount: Int { lock.withLock { syncs } }
    }

    private func makeWriter(_ disk: Disk) -> GroupCommitWriter {
        GroupCommitWriter(
            write: { try disk.write($0) }, sync: { disk.sync() },
            onDurable: { disk.reportDurable($0, $1) }, onFailure: { _, lost, _ in disk.reportFailure(lost) })
    }

    private func records(_ zxids: ClosedRange<Int64>) -> [GroupCommitWriter.Record] {
        zxids.map { ($0, [UInt8(truncatingIfNeeded: $0)]) }
    }

    func testRecordsBecomeDurableInSubmissionOrder() {
        let disk = Disk()
        let writer = makeWriter(disk)
        writer.start()
        defer { writer.stop() }
        for z in Int64(1)...20 { writer.submit(records(z...z)) }
        XCTAssertTrue(disk.wait { $0.durableReports.last?.zxid == 20 })
        XCTAssertEqual(disk.writtenZxids, Array(1...20))
        let reports = disk.durableReports
        XCTAssertEqual(reports.map(\.zxid), reports.map(\.zxid).sorted(), "durable reports only move forward")
        XCTAssertEqual(reports.map(\.count).reduce(0, +), 20, "every record reported exactly once")
        XCTAssertEqual(disk.reportsBeforeSync, [], "durable is reported only after the sync")
    }

    func testRecordsSubmittedDuringASyncShareTheNextOne() {
        let disk = Disk(holdFirstSync: true)
        let writer = makeWriter(disk)
        writer.start()
        defer { writer.stop() }
        writer.submit(records(1...1))
        XCTAssertTrue(disk.wait { $0.writtenZxids == [1] })
        // The writer is inside the first sync now; these queue up behind it.
        writer.submit(records(2...3))
        writer.submit(records(4...4))
        writer.submit(records(5...7))
        XCTAssertTrue(disk.wait { _ in writer.queuedCount == 6 })
        disk.releaseFirstSync()
        XCTAssertTrue(disk.wait { $0.durableReports.last?.zxid == 7 })
        XCTAssertEqual(disk.durableReports.map(\.zxid), [1, 7], "one durable report per batch: its last zxid")
        XCTAssertEqual(disk.durableReports.map(\.count), [1, 6])
        XCTAssertEqual(disk.syncCount, 2, "six records, one fsync")
        XCTAssertEqual(disk.writtenZxids, Array(1...7))
    }

    func testAFailedWriteReportsOnceAndRefusesLaterSubmissions() {
        let disk = Disk(failOnZxid: 3)
        let writer = makeWriter(disk)
        writer.start()
        defer { writer.stop() }
        writer.submit(records(1...2))
        XCTAssertTrue(disk.wait { $0.durableReports.last?.zxid == 2 })
        writer.submit(records(3...4))
        XCTAssertTrue(disk.wait { $0.failureReports.count == 1 })
        XCTAssertEqual(disk.failureReports, [[3, 4]], "the failed batch is reported lost, once")

        writer.submit(records(5...5))
        XCTAssertTrue(disk.wait { $0.failureReports.count == 2 })
        XCTAssertEqual(disk.failureReports.last, [5], "a later submission is refused the same way")
        XCTAssertEqual(disk.writtenZxids, [1, 2], "nothing is written after the failure")
        XCTAssertEqual(disk.durableReports.map(\.zxid), [2])
    }

    func testStopFinishesWhatIsQueued() {
        let disk = Disk()
        let writer = makeWriter(disk)
        writer.start()
        writer.submit(records(1...3))
        writer.submit(records(4...5))
        writer.stop()
        XCTAssertEqual(disk.writtenZxids, Array(1...5))
        XCTAssertEqual(disk.durableReports.last?.zxid, 5)
    }

    func testEmptySubmissionIsIgnored() {
        let disk = Disk()
        let writer = makeWriter(disk)
        writer.start()
        writer.submit([])
        writer.submit(records(1...1))
        writer.stop()
        XCTAssertEqual(disk.durableReports.map(\.zxid), [1])
        XCTAssertEqual(disk.syncCount, 1)
    }
}
