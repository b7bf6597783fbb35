import Foundation
import Synchronization
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
            ("block 0", { $0[$0.count / 2] ^= 0x04 }),  // inside the (one, deflated) block: zlib's check or the CRC
            ("block 0", { $0[SnapshotFormat.headerBytes + 5] ^= 0x01 }),  // the first block's length
            ("block 0 checksum mismatch", { $0[SnapshotFormat.headerBytes + 15] ^= 0x01 }),  // its checksum
            ("header checksum", { $0[20] ^= 0x01 }),  // payload length field
            ("compressed bytes", { $0.removeLast(100) }),
            ("compressed bytes", { $0 += [0] }),
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

    /// Version 1 files (one zlib stream) still load, with the same checks.
    func testPayloadChecksumIsVerifiedAfterDecompression() throws {
        var stream: [UInt8] = []
        try Zlib.compress([1, 2, 3, 4], level: 6) { stream += $0 }
        let good = SnapshotFormat.Header(zxid: 9, payloadBytes: 4, compressedBytes: Int64(stream.count),
                                         payloadCrc: CRC32.checksum([1, 2, 3, 4]))
        let v1 = SnapshotFormat.versionStream
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(good, version: v1) + stream, nameZxid: 9),
                       .success(Snapshot(zxid: 9, payload: [1, 2, 3, 4])))
        var bad = good
        bad.payloadCrc ^= 1
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(bad, version: v1) + stream, nameZxid: 9),
                       .failure(.init("payload checksum mismatch")))
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(good, version: v1) + stream, nameZxid: 8),
                       .failure(.init("header zxid 0x9 differs from the file name")))
        var flipped = stream
        flipped[flipped.count / 2] ^= 0x04
        guard case let .failure(damage) = SnapshotFormat.decode(SnapshotFormat.encode(good, version: v1) + flipped, nameZxid: 9) else {
            return XCTFail("a damaged version 1 stream loaded")
        }
        XCTAssertTrue(["compressed stream", "checksum"].contains { damage.description.contains($0) }, "\(damage)")
        XCTAssertEqual(SnapshotFormat.decode(SnapshotFormat.encode(good, version: 3) + stream, nameZxid: 9),
                       .failure(.init("unsupported snapshot version 3")))
    }

    func testVersion1FileInTheDirectoryStillLoads() throws {
        let payload = snapshotPayload(3)
        var stream: [UInt8] = []
        try Zlib.compress(payload, level: 6) { stream += $0 }
        let header = SnapshotFormat.Header(zxid: 0x30, payloadBytes: Int64(payload.count), compressedBytes: Int64(stream.count),
                                           payloadCrc: CRC32.checksum(payload))
        let store = try SnapshotStore(directory: snapDir)
        try writeBytes(SnapshotFormat.encode(header, version: SnapshotFormat.versionStream) + stream, to: path("snapshot.30", in: snapDir))
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 0x30, payload: payload))
        try store.writeSnapshot(zxid: 0x31, payload: payload)  // newer ones are version 2
        XCTAssertEqual(Array(try fileBytes(path("snapshot.31", in: snapDir))[4..<8]), [0, 0, 0, 2])
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 0x31, payload: payload))
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
        let payloads = (1...6).map { snapshotPayload(Int64($0), count: 50_000) }
        let errors = Mutex<[any Error]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            do {
                try store.writeSnapshot(zxid: Int64(i + 1), payload: payloads[i])
                _ = store.stats
            } catch {
                errors.withLock { $0.append(error) }
            }
        }
        errors.withLock { XCTAssertTrue($0.isEmpty, "\($0)") }
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

/// Snapshot file version 2: blocks stored or deflated, each checked.
final class SnapshotBlockTests: StorageTestCase {
    typealias Block = (method: UInt32, rawBytes: Int, stored: [UInt8])

    /// The blocks of a version 2 file, as written.
    private func blocks(_ file: [UInt8]) -> [Block] {
        var found: [Block] = []
        var at = SnapshotFormat.headerBytes
        file.withUnsafeBytes { raw in
            while at < raw.count {
                let stored = Int(BigEndian.uint32(raw, at: at + 8))
                found.append((BigEndian.uint32(raw, at: at), Int(BigEndian.uint32(raw, at: at + 4)),
                              Array(file[at + 16..<at + 16 + stored])))
                at += 16 + stored
            }
        }
        return found
    }

    /// A version 2 file of these blocks under a correct header for `payload`; each block's checksum is right for
    /// its share of `decodesTo` (by default `payload`).
    private func file(_ blocks: [Block], payload: [UInt8], decodesTo: [UInt8]? = nil, zxid: Int64 = 9) -> [UInt8] {
        let raw = decodesTo ?? payload
        var body: [UInt8] = []
        var at = 0
        for b in blocks {
            let share = raw[min(at, raw.count)..<min(at + b.rawBytes, raw.count)]
            at += b.rawBytes
            body += SnapshotBlocks.blockHeader(method: b.method, rawBytes: b.rawBytes, storedBytes: b.stored.count,
                                               rawCrc: CRC32.checksum(Array(share))) + b.stored
        }
        let header = SnapshotFormat.Header(zxid: zxid, payloadBytes: Int64(payload.count), compressedBytes: Int64(body.count),
                                           payloadCrc: CRC32.checksum(payload))
        return SnapshotFormat.encode(header) + body
    }

    private func zlib(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream: [UInt8] = []
        try Zlib.compress(bytes, level: 1) { stream += $0 }
        return stream
    }

    /// Compressible records then random values, as a version 3 tree snapshot lays them out: the records' blocks
    /// are deflated, the values' stored, and the file is smaller than the payload.
    func testCompressibleBlocksAreDeflatedAndRandomOnesStored() throws {
        let text = Array(String(repeating: "\u{1}\u{6}k123456\u{65}\u{0}\u{0}\u{87}\u{3}", count: 300_000).utf8)
        let payload = Array(text.prefix(3 << 20)) + self.payload(7, count: 3 << 20 + 12_345)
        let store = try SnapshotStore(directory: snapDir)
        let fileBytes = try store.writeSnapshot(zxid: 5, payload: payload)
        let onDisk = try self.fileBytes(path("snapshot.5", in: snapDir))
        XCTAssertEqual(Int64(onDisk.count), fileBytes)
        let written = blocks(onDisk)
        XCTAssertEqual(written.map(\.method), [1, 1, 1, 0, 0, 0, 0])
        XCTAssertEqual(written.map(\.rawBytes), [1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 12_345])
        XCTAssertLessThan(written.prefix(3).map(\.stored.count).reduce(0, +), 1 << 20)
        XCTAssertEqual(Array(written[6].stored), Array(payload.suffix(12_345)))
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 5, payload: payload))

        let noise = self.payload(8, count: 2 << 20)
        let noiseBytes = try store.writeSnapshot(zxid: 6, payload: noise)
        XCTAssertEqual(noiseBytes, Int64(SnapshotFormat.headerBytes + noise.count + 2 * SnapshotBlocks.headerBytes), "stored as is")
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 6, payload: noise))

        let level0 = try SnapshotStore(directory: snapDir + "/level0", compressionLevel: 0)
        let textBlocks = (text.count + (1 << 20) - 1) >> 20
        XCTAssertEqual(try level0.writeSnapshot(zxid: 1, payload: text), Int64(SnapshotFormat.headerBytes + text.count + 16 * textBlocks))
        XCTAssertTrue(try level0.latestValidSnapshot().snapshot == Snapshot(zxid: 1, payload: text))
    }

    func testHandBuiltBlocksDecode() throws {
        let payload = Array("hello, blocks; hello, blocks; hello, blocks".utf8)
        let good = file([(1, 20, try zlib(Array(payload[..<20]))), (0, payload.count - 20, Array(payload[20...]))], payload: payload)
        XCTAssertEqual(SnapshotFormat.decode(good, nameZxid: 9), .success(Snapshot(zxid: 9, payload: payload)))
        XCTAssertEqual(SnapshotFormat.decode(file([], payload: []), nameZxid: 9), .success(Snapshot(zxid: 9, payload: [])))
    }

    /// Every kind of damage a block can carry is reported, never loaded: each file below has a valid header and
    /// valid block checksums, so only the block checks can catch it.
    func testEveryBlockDamageIsDetected() throws {
        let payload = Array("0123456789abcdefghij".utf8)
        let head = Array(payload[..<10]), tail = Array(payload[10...])
        let cases: [(String, [Block], [UInt8])] = [
            ("claims 11 payload bytes, 10 remain", [(0, 10, head), (0, 11, tail + [0])], payload),
            ("claims 0 payload bytes", [(0, 0, []), (0, 20, payload)], payload),
            ("stored block 1 has 9 bytes for 10", [(0, 10, head), (0, 10, Array(tail.dropLast()))], payload),
            ("unknown method 2", [(0, 10, head), (2, 10, tail)], payload),
            ("block 1: stream decompressed to 9 bytes", [(0, 10, head), (1, 10, try zlib(Array(tail.dropLast())))], payload),
            ("block 1: stream decompressed to 10 bytes", [(0, 10, head), (1, 10, try zlib(tail + [1]))], payload),
            ("block 1: bytes after the end", [(0, 10, head), (1, 10, try zlib(tail) + [0])], payload),
            ("block 1: compressed stream ends early", [(0, 10, head), (1, 10, Array(try zlib(tail).dropLast(2)))], payload),
            ("block 1: compressed stream is invalid", [(0, 10, head), (1, 10, tail)], payload),
            ("block 1 at 66 is cut short", [(0, 10, head)], payload),
            ("26 bytes after the last block", [(0, 10, head), (0, 10, tail), (0, 10, tail)], payload),
        ]
        for (expected, blocks, payload) in cases {
            guard case let .failure(damage) = SnapshotFormat.decode(file(blocks, payload: payload), nameZxid: 9) else {
                XCTFail("\(expected): loaded")
                continue
            }
            XCTAssertTrue(damage.description.contains(expected), "expected '\(expected)', got '\(damage)'")
        }
        let swapped = file([(0, 10, tail), (0, 10, head)], payload: payload, decodesTo: tail + head)
        XCTAssertEqual(SnapshotFormat.decode(swapped, nameZxid: 9), .failure(.init("payload checksum mismatch")))
        var bad = file([(0, 10, head), (0, 10, tail)], payload: payload)
        bad[bad.count - 1] ^= 0x20
        XCTAssertEqual(SnapshotFormat.decode(bad, nameZxid: 9), .failure(.init("block 1 checksum mismatch")))
        bad = file([(1, 10, try zlib(head)), (0, 10, tail)], payload: payload)
        bad[SnapshotFormat.headerBytes + 3] = 0  // deflated → stored, same length: only the checksum can tell
        XCTAssertEqual(SnapshotFormat.decode(bad, nameZxid: 9), .failure(.init("stored block 0 has \(try zlib(head).count) bytes for 10")))
        bad = file([(0, 10, head), (0, 10, tail)], payload: payload)
        bad[SnapshotFormat.headerBytes + 26 + 11] ^= 0x01  // the second block's stored length
        XCTAssertEqual(SnapshotFormat.decode(bad, nameZxid: 9), .failure(.init("block 1 at 66 is cut short: 11 bytes, 10 left")))
    }

    /// A file cut anywhere, or with bytes added, is refused, whatever the block the cut falls in.
    func testEveryTruncationIsDetected() throws {
        let payload = Array(String(repeating: "records ", count: 300).utf8) + self.payload(3, count: 3000)
        var good: [UInt8] = []
        _ = try payload.withUnsafeBytes { try SnapshotBlocks.write($0, level: 1, blockBytes: 1000) { good += $0 } }
        let header = SnapshotFormat.Header(zxid: 9, payloadBytes: Int64(payload.count), compressedBytes: Int64(good.count),
                                           payloadCrc: CRC32.checksum(payload))
        let whole = SnapshotFormat.encode(header) + good
        XCTAssertEqual(blocks(whole).map(\.method), [1, 1, 1, 0, 0, 0])
        XCTAssertEqual(SnapshotFormat.decode(whole, nameZxid: 9), .success(Snapshot(zxid: 9, payload: payload)))
        for cut in stride(from: 0, to: good.count, by: 97) {
            var h = header
            h.compressedBytes = Int64(cut)  // a header that agrees with the cut file: the blocks must catch it
            XCTAssertThrowsError(try SnapshotFormat.decode(SnapshotFormat.encode(h) + good.prefix(cut), nameZxid: 9).get(), "cut at \(cut)")
        }
    }
}
