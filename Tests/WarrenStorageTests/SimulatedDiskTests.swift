import WarrenRandom
import XCTest

@testable import WarrenStorage

/// The simulated disk's crash model, and the real log and snapshot code run on it through crashes at random
/// moments: everything synced survives, recovery never refuses what a crash can leave, and nothing unsynced comes
/// back altered.
final class SimulatedDiskTests: XCTestCase {
    func testCrashKeepsSyncedBytesAndDirectoryEntriesOnly() throws {
        let disk = SimulatedDisk()
        let faults = FaultInjector(disk: disk)
        try Directory.ensure("/d", faults: faults)
        let synced = try PosixFile.create("/d/synced", faults: faults)
        try synced.writeAll(Array(repeating: 1, count: 1000))
        try synced.dataSync()
        try Directory.sync("/d", faults: faults)
        try synced.writeAll(Array(repeating: 2, count: 3000))  // never synced
        let unlisted = try PosixFile.create("/d/unlisted", faults: faults)
        try unlisted.writeAll([9])
        try unlisted.dataSync()  // the data is durable, its directory entry is not
        var random = SeededRandom(seed: 7)
        disk.crash(under: "/d", random: &random)
        XCTAssertEqual(try Directory.list("/d", faults: faults), ["synced"])
        let bytes = try PosixFile.open("/d/synced", writable: false, faults: faults).readAll()
        XCTAssertEqual(Array(bytes.prefix(1000)), Array(repeating: 1, count: 1000), "synced bytes survive")
        XCTAssertTrue((1000...4000).contains(bytes.count), "between the synced and the written length: \(bytes.count)")
        XCTAssertTrue(bytes.dropFirst(1000).allSatisfy { $0 == 2 || $0 == 0 }, "unsynced sectors: written or not, never other bytes")
    }

    func testTornWritesPersistAPrefixInOrderOrAnySectorsOtherwise() {
        var random = SeededRandom(seed: 1)
        var mixedOutOfOrder = false
        for _ in 0..<100 {
            let synced = [UInt8](repeating: 1, count: 4096), written = [UInt8](repeating: 2, count: 4096)
            let inOrder = SimulatedDisk.torn(synced, written, writeback: .inOrder, random: &random)
            let sectors = stride(from: 0, to: 4096, by: 512).map { inOrder[$0] }
            XCTAssertEqual(inOrder.count, 4096)
            XCTAssertEqual(sectors, sectors.sorted(by: >), "in order: new sectors (2) only before old ones (1)")
            let anyOrder = SimulatedDisk.torn(synced, written, writeback: .anyOrder, random: &random)
            let any = stride(from: 0, to: 4096, by: 512).map { anyOrder[$0] }
            XCTAssertTrue(Set(any).isSubset(of: [1, 2]))
            if any != any.sorted(by: >) { mixedOutOfOrder = true }
        }
        XCTAssertTrue(mixedOutOfOrder, "any order: some crash keeps a later sector and loses an earlier one")
    }

    /// The log through 300 random crashes with in-order writeback (what its torn-tail repair assumes): every record
    /// synced before a crash is recovered, in order, with its payload; records not synced are either recovered
    /// intact or gone; opening never throws.
    func testTxnLogSurvivesRandomCrashesWithEverySyncedRecord() throws {
        try crashLogRepeatedly(SimulatedDisk(writeback: .inOrder), allowCorrupt: false)
    }

    /// With writeback in any order a crash can leave a hole in the unsynced tail with newer records after it, which
    /// the log cannot tell from a damaged synced record: it refuses to start (`corruptRecord`), as ZooKeeper does,
    /// rather than guess — but it never loses a synced record silently or returns an altered one.
    func testTxnLogAfterOutOfOrderWritebackRecoversOrRefusesButNeverLosesSilently() throws {
        try crashLogRepeatedly(SimulatedDisk(writeback: .anyOrder), allowCorrupt: true)
    }

    private func crashLogRepeatedly(_ disk: SimulatedDisk, allowCorrupt: Bool) throws {
        var options = TxnLog.Options(logFileBytesMax: 6000, logFileRecordsMax: 40, writeBufferBytes: 700, runwayBytes: 2048)
        options.faults = FaultInjector(disk: disk)
        var random = SeededRandom(seed: 42)
        var syncedLast: Int64 = 0
        var written: [Int64: [UInt8]] = [:]
        var next: Int64 = 1
        var refused = 0
        for round in 0..<300 {
            let log: TxnLog
            let recovered: [LogRecord]
            do {
                log = try TxnLog.open(directory: "/sim/log", options: options)
                recovered = try log.readRecords(after: 0)
            } catch StorageError.corruptRecord where allowCorrupt {
                refused += 1
                disk.wipe(under: "/sim")  // the operator restores the server from a replica
                syncedLast = 0
                written = [:]
                continue
            }
            XCTAssertGreaterThanOrEqual(recovered.last?.zxid ?? 0, syncedLast, "round \(round): a synced record was lost")
            for (i, r) in recovered.enumerated() {
                XCTAssertEqual(r.zxid, Int64(i + 1), "round \(round): records in order, without gaps")
                XCTAssertEqual(r.payload, written[r.zxid], "round \(round): record \(r.zxid) altered")
            }
            next = (recovered.last?.zxid ?? 0) + 1
            syncedLast = recovered.last?.zxid ?? 0
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                var batch: [LogRecord] = []
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    let payload = (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                    written[next] = payload
                    batch.append(LogRecord(zxid: next, payload: payload))
                    next += 1
                }
                try log.append(batch)
                if Bool.random(using: &random) {
                    try log.sync()
                    syncedLast = next - 1
                }
            }
            disk.crash(under: "/sim", random: &random)
        }
        if !allowCorrupt { XCTAssertEqual(refused, 0) }
        print("log crashed 300 times (\(disk.writeback)): \(refused) recoveries refused a hole in the unsynced tail")
    }

    /// A TRUNC that cuts nothing from the current file still closes it for good: its runway must be cut off durably,
    /// or a crash after the next file exists leaves zero fill at the end of what is now an older file, and the log
    /// refuses to start (EnsembleSim seed 3164). Every crash of every seed tried must recover all synced records.
    func testTruncationThatCutsNothingLeavesNoZeroFillBehindAfterACrash() throws {
        for seed in UInt64(1)...40 {
            let disk = SimulatedDisk()
            var options = TxnLog.Options(logFileBytesMax: 1 << 20, logFileRecordsMax: 1000, writeBufferBytes: 64, runwayBytes: 4096)
            options.faults = FaultInjector(disk: disk)
            let log = try TxnLog.open(directory: "/sim/log", options: options)
            try log.append((1...5).map { LogRecord(zxid: 0x1_0000_0000 + $0, payload: [UInt8](repeating: 7, count: 40)) })
            try log.sync()
            try log.truncate(after: 0x1_0000_0005)  // nothing after it: no cut, but the file is done
            try log.append([LogRecord(zxid: 0x2_0000_0001, payload: [1, 2, 3])])
            try log.sync()
            var random = SeededRandom(seed: seed)
            disk.crash(under: "/sim", random: &random)
            let reopened = try TxnLog.open(directory: "/sim/log", options: options)
            XCTAssertEqual(try reopened.readRecords(after: 0).map(\.zxid), (1...5).map { 0x1_0000_0000 + $0 } + [0x2_0000_0001], "seed \(seed)")
        }
    }

    /// A snapshot written on the simulated disk is found after a crash once `writeSnapshot` returned; one being
    /// written when the crash came is not, and the older one is still used.
    func testSnapshotWrittenBeforeACrashIsTheNewestAfterIt() throws {
        let disk = SimulatedDisk()
        let faults = FaultInjector(disk: disk)
        let store = try SnapshotStore(directory: "/sim/snap", faults: faults)
        _ = try store.writeSnapshot(zxid: 5, payload: Array(repeating: 5, count: 10_000))
        var random = SeededRandom(seed: 3)
        disk.crash(under: "/sim", random: &random)
        let after = try SnapshotStore(directory: "/sim/snap", faults: faults).latestValidSnapshot()
        XCTAssertEqual(after.snapshot?.zxid, 5)
        XCTAssertEqual(after.snapshot?.payload, Array(repeating: 5, count: 10_000))
    }
}
