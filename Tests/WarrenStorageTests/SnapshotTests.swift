import Foundation
import XCTest
@testable import WarrenStorage

final class SnapshotTests: StorageTestCase {
    /// Half repetitive text, half pseudo-random bytes: compresses, but not to nothing.
    private func snapshotPayload(_ seed: Int64, count: Int = 200_000) -> [UInt8] {
        let text = Array(String(repeating: "/zookeeper/quota/node-\(seed) ", count: count / 60 + 1).utf8)
        return Array(text.prefix(count / 2)) + payload(seed, count: count - count / 2)
    }

    func testRoundTripIsCompressedAndVerified() throws {
        let store = try SnapshotStore(directory: snapDir)
        let payload = snapshotPayload(1)
        let fileBytes = try store.writeSnapshot(zxid: 0x1_0000_0005, payload: payload)
        let path = path("snapshot.100000005", in: snapDir)
        let onDisk = try self.fileBytes(path)
        XCTAssertEqual(Int64(onDisk.count), fileBytes)
        XCTAssertLessThan(onDisk.count, payload.count, "compressed")
        XCTAssertEqual(Array(onDisk[0..<4]), Array("WSNP".utf8))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: snapDir), ["snapshot.100000005"], "no temp file left")

        let (loaded, report) = try SnapshotStore(directory: snapDir).latestValidSnapshot()
        XCTAssertTrue(loaded == Snapshot(zxid: 0x1_0000_0005, payload: payload))
        XCTAssertEqual(report, [])
        let stats = store.stats
        XCTAssertEqual(stats.snapshotsWritten, 1)
        XCTAssertEqual(stats.lastSnapshotZxid, 0x1_0000_0005)
        XCTAssertEqual(stats.lastSnapshotFileBytes, fileBytes)
        XCTAssertEqual(stats.lastSnapshotPayloadBytes, Int64(payload.count))
    }

    func testEmptyAndIncompressiblePayloads() throws {
        let store = try SnapshotStore(directory: snapDir, compressionLevel: 1)
        try store.writeSnapshot(zxid: 1, payload: [])
        XCTAssertEqual(try store.latestValidSnapshot().snapshot, Snapshot(zxid: 1, payload: []))
        let noise = payload(99, count: 1 << 20)
        try store.writeSnapshot(zxid: 2, payload: noise)
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 2, payload: noise))
        XCTAssertEqual(try store.snapshotZxids(), [1, 2])
    }

    func testRewritingTheSameZxidReplacesIt() throws {
        let store = try SnapshotStore(directory: snapDir)
        try store.writeSnapshot(zxid: 7, payload: [1, 2, 3])
        try store.writeSnapshot(zxid: 7, payload: [4, 5])
        XCTAssertEqual(try store.latestValidSnapshot().snapshot, Snapshot(zxid: 7, payload: [4, 5]))
    }

    /// Each kind of damage to the newest snapshot makes the store fall back to the previous one, with a report.
    func testDamagedNewestSnapshotFallsBack() throws {
        let damages: [(String, (inout [UInt8]) -> Void)] = [
            ("compressed stream is invalid", { $0[$0.count / 2] ^= 0x04 }),  // zlib's own check catches it first
            ("header checksum", { $0[20] ^= 0x01 }),  // payload length field
            ("compressed bytes", { $0.removeLast(100) }),
            ("less than a header", { $0 = Array($0[0..<10]) }),
            ("bad magic", { $0[0] = 0x5A }),
        ]
        for (expected, damage) in damages {
            try? FileManager.default.removeItem(atPath: snapDir)
            let store = try SnapshotStore(directory: snapDir)
            let older = snapshotPayload(10)
            try store.writeSnapshot(zxid: 10, payload: older)
            try store.writeSnapshot(zxid: 20, payload: snapshotPayload(20))
            let newest = path("snapshot.14", in: snapDir)
            var bytes = try fileBytes(newest)
            damage(&bytes)
            try writeBytes(bytes, to: newest)

            let (loaded, report) = try store.latestValidSnapshot()
            XCTAssertTrue(loaded == Snapshot(zxid: 10, payload: older), "\(expected): got \(String(describing: loaded?.zxid))")
            XCTAssertEqual(report.count, 1, expected)
            XCTAssertTrue(report.first?.contains("snapshot.14") == true, "\(report)")
            XCTAssertTrue(report.first?.contains(expected) == true, "expected '\(expected)' in \(report)")
        }
    }

    func testPayloadChecksumIsVerifiedAfterDecompression() throws {
        var stream: [UInt8] = []
        try Zlib.compress([1, 2, 3, 4], level: 6) { stream += $0 }
        let good = SnapshotFormat.Header(zxid: 9, payloadBytes: 4, compressedBytes: Int64(stream.count),
                                         payloadCrc: CRC32.checksum([1, 2, 3, 4]))
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(good) + stream, nameZxid: 9), .success(Snapshot(zxid: 9, payload: [1, 2, 3, 4])))
        var bad = good
        bad.payloadCrc ^= 1
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(bad) + stream, nameZxid: 9), .failure(.init("payload checksum mismatch")))
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(good) + stream, nameZxid: 8),
                       .failure(.init("header zxid 0x9 differs from the file name")))
    }

    func testFileRenamedToAnotherZxidIsRejected() throws {
        let store = try SnapshotStore(directory: snapDir)
        try store.writeSnapshot(zxid: 5, payload: [5])
        try store.writeSnapshot(zxid: 6, payload: [6])
        try FileManager.default.moveItem(atPath: path("snapshot.5", in: snapDir), toPath: path("snapshot.9", in: snapDir))
        let (loaded, report) = try store.latestValidSnapshot()
        XCTAssertEqual(loaded?.zxid, 6)
        XCTAssertTrue(report.first?.contains("differs from the file name") == true, "\(report)")
    }

    func testNoValidSnapshotGivesNilWithAReportPerFile() throws {
        let store = try SnapshotStore(directory: snapDir)
        XCTAssertEqual(try store.latestValidSnapshot().snapshot, nil)
        try store.writeSnapshot(zxid: 1, payload: [1])
        try writeBytes([1, 2, 3], to: path("snapshot.2", in: snapDir))
        try writeBytes([], to: path("snapshot.3.tmp", in: snapDir))  // leftover temp: not a snapshot
        var bytes = try fileBytes(path("snapshot.1", in: snapDir))
        bytes[bytes.count - 1] ^= 0xFF
        try writeBytes(bytes, to: path("snapshot.1", in: snapDir))
        let (loaded, report) = try store.latestValidSnapshot()
        XCTAssertNil(loaded)
        XCTAssertEqual(report.count, 2)
    }

    func testConcurrentWritesFromBackgroundThreads() throws {
        let store = try SnapshotStore(directory: snapDir)
        let failures = NSLock()
        var errors: [Error] = []
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            do {
                try store.writeSnapshot(zxid: Int64(i + 1), payload: snapshotPayload(Int64(i + 1), count: 50_000))
                _ = store.stats
            } catch {
                failures.lock()
                errors.append(error)
                failures.unlock()
            }
        }
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        XCTAssertEqual(try store.snapshotZxids(), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(store.stats.snapshotsWritten, 6)
        XCTAssertEqual(store.stats.lastSnapshotZxid, 6)
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 6, payload: snapshotPayload(6, count: 50_000)))
    }

    func testIOErrorsAreTypedAndLeaveNoFile() throws {
        try writeBytes([0], to: root + "/plainfile")
        assertStorageError(try SnapshotStore(directory: root + "/plainfile")) {
            if case let .io(_, _, code) = $0 { return code == ENOTDIR } else { return false }
        }
        let store = try SnapshotStore(directory: snapDir)
        let faults = FaultInjector()
        store.faults = faults
        faults.fail("fdatasync", errno: EIO)
        assertStorageError(try store.writeSnapshot(zxid: 3, payload: [1, 2, 3])) {
            $0 == .io(op: "fdatasync", path: self.path("snapshot.3.tmp", in: self.snapDir), errno: EIO)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: snapDir), [])
        faults.clear()
        try store.writeSnapshot(zxid: 3, payload: [1, 2, 3])
        XCTAssertEqual(try store.latestValidSnapshot().snapshot?.payload, [1, 2, 3])
    }

    func testDecompressionRejectsTrailingAndMissingBytes() throws {
        var stream: [UInt8] = []
        try Zlib.compress(Array(repeating: 7, count: 1000), level: 6) { stream += $0 }
        XCTAssertTrue(try Zlib.decompress(stream, expectedBytes: 1000).get() == Array(repeating: 7, count: 1000))
        XCTAssertEqual(Zlib.decompress(stream + [0], expectedBytes: 1000), .failure(.trailingBytes))
        XCTAssertEqual(Zlib.decompress(Array(stream.dropLast(3)), expectedBytes: 1000), .failure(.truncated))
        XCTAssertEqual(Zlib.decompress(stream, expectedBytes: 999), .failure(.wrongLength(1000)))
        XCTAssertEqual(Zlib.decompress(stream, expectedBytes: 1001), .failure(.wrongLength(1000)))
        XCTAssertEqual(Zlib.decompress([], expectedBytes: 0), .failure(.truncated))
    }
}
