import Foundation
import XCTest
@testable import WarrenStorage

/// A snapshot file written while its payload arrives (a SNAP sync): nothing visible until committed, the same
/// snapshot as `writeSnapshot` once it is, nothing left behind when discarded.
final class StagedSnapshotTests: StorageTestCase {
    private func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: snapDir).sorted() }

    func testPiecesOfAnySizeCommitToTheSnapshotRecoveryFinds() throws {
        // Several blocks plus a tail, with pieces that start and end inside blocks and pieces larger than a block.
        let data = payload(7, count: 3 * SnapshotBlocks.blockBytes + 12_345)
        for pieces in [[1, 4095, 700_000], [SnapshotBlocks.blockBytes * 2 + 1], [data.count]] {
            try? FileManager.default.removeItem(atPath: snapDir)
            let store = try SnapshotStore(directory: snapDir)
            let staged = try store.stage(zxid: 0x2_0000_0009, payloadBytes: Int64(data.count))
            var offset = 0
            var i = 0
            while offset < data.count {
                let end = min(data.count, offset + pieces[i % pieces.count])
                try data.withUnsafeBytes { try staged.append(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
                offset = end
                i += 1
            }
            XCTAssertNil(try store.latestValidSnapshot().snapshot, "nothing to recover before commit (\(pieces))")
            try staged.seal()
            XCTAssertNil(try store.latestValidSnapshot().snapshot, "nothing to recover before commit, sealed (\(pieces))")
            try staged.commit()
            XCTAssertEqual(try entries(), ["snapshot.200000009"], "\(pieces)")
            let (loaded, report) = try SnapshotStore(directory: snapDir).latestValidSnapshot()
            XCTAssertTrue(loaded == Snapshot(zxid: 0x2_0000_0009, payload: data), "\(pieces)")
            XCTAssertEqual(report, [])
            XCTAssertEqual(store.stats.lastSnapshotZxid, 0x2_0000_0009)
            XCTAssertEqual(store.stats.lastSnapshotPayloadBytes, Int64(data.count))
        }
    }

    /// Files larger than a few write-behind windows (`WriteBehind`: writeback started every window (1 MiB), the window
    /// before waited for) read back whole, staged or written at once.
    func testFilesLargerThanTheWriteBehindWindowsReadBack() throws {
        let data = payload(11, count: 3 * Int(WriteBehind.windowBytes) + 4321)
        let store = try SnapshotStore(directory: snapDir, compressionLevel: 0)
        try store.writeSnapshot(zxid: 0x30, payload: data)
        let staged = try store.stage(zxid: 0x31, payloadBytes: Int64(data.count))
        try data.withUnsafeBytes { raw in
            for start in stride(from: 0, to: raw.count, by: 5_000_000) {
                try staged.append(UnsafeRawBufferPointer(rebasing: raw[start..<min(raw.count, start + 5_000_000)]))
            }
        }
        try staged.seal()
        try staged.commit()
        let (staged31, report) = try SnapshotStore(directory: snapDir).latestValidSnapshot()
        XCTAssertTrue(staged31 == Snapshot(zxid: 0x31, payload: data), "the staged one")
        XCTAssertEqual(report, [])
        try FileManager.default.removeItem(atPath: path("snapshot.31", in: snapDir))
        XCTAssertTrue(try SnapshotStore(directory: snapDir).latestValidSnapshot().snapshot == Snapshot(zxid: 0x30, payload: data),
                      "the one written at once")
    }

    func testDiscardLeavesNothingAtAnyPoint() throws {
        let store = try SnapshotStore(directory: snapDir)
        let data = payload(3, count: 50_000)
        let unsealed = try store.stage(zxid: 0x10, payloadBytes: Int64(data.count))
        try data.withUnsafeBytes { try unsealed.append(UnsafeRawBufferPointer(rebasing: $0[..<1000])) }
        XCTAssertEqual(try entries().count, 1, "the temp file exists while staging")
        unsealed.discard()
        XCTAssertEqual(try entries(), [])

        let sealed = try store.stage(zxid: 0x11, payloadBytes: Int64(data.count))
        try data.withUnsafeBytes { try sealed.append($0) }
        try sealed.seal()
        sealed.discard()
        XCTAssertEqual(try entries(), [])
        XCTAssertNil(try store.latestValidSnapshot().snapshot)

        // Dropped without a word (a stream abandoned, a crash of the owner): no file either.
        do {
            let forgotten = try store.stage(zxid: 0x12, payloadBytes: 10)
            try [UInt8](repeating: 1, count: 5).withUnsafeBytes { try forgotten.append($0) }
        }
        XCTAssertEqual(try entries(), [])
    }

    /// A learner re-synced at the same zxid (its first sync abandoned, or taken by the core when Zab no longer
    /// waited for it) stages the same snapshot twice: dropping the first file must not touch the second.
    func testSnapshotsStagedTwiceAtOneZxidKeepTheirOwnFiles() throws {
        let store = try SnapshotStore(directory: snapDir)
        let data = payload(5, count: 20_000)
        let first = try store.stage(zxid: 0x1_0000_0000, payloadBytes: Int64(data.count))
        try data.withUnsafeBytes { try first.append(UnsafeRawBufferPointer(rebasing: $0[..<100])) }
        let second = try store.stage(zxid: 0x1_0000_0000, payloadBytes: Int64(data.count))
        try data.withUnsafeBytes { try first.append(UnsafeRawBufferPointer(rebasing: $0[100...])) }
        try first.seal()
        try data.withUnsafeBytes { try second.append($0) }
        first.discard()
        XCTAssertEqual(try entries().count, 1, "the second stage's file is still there")
        try second.seal()
        try second.commit()
        XCTAssertEqual(try entries(), ["snapshot.100000000"])
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 0x1_0000_0000, payload: data))

        // Discarded in the other order, and a purge between: nothing of either is left, nothing else removed.
        let third = try store.stage(zxid: 0x1_0000_0000, payloadBytes: 10)
        let fourth = try store.stage(zxid: 0x1_0000_0000, payloadBytes: 10)
        _ = try store.purge(retain: 3)
        XCTAssertEqual(try entries().count, 3, "purge spares both staged files")
        fourth.discard()
        third.discard()
        XCTAssertEqual(try entries(), ["snapshot.100000000"])
    }

    /// A purge (after a periodic snapshot) while a SNAP sync is staged must not take the file being written; a
    /// staged temp file left by a crash is removed like any other temp file.
    func testPurgeSparesTheFileBeingStagedAndRemovesLeftovers() throws {
        let store = try SnapshotStore(directory: snapDir)
        for z in Int64(1)...4 { try store.writeSnapshot(zxid: z, payload: payload(z)) }
        try writeBytes([1, 2, 3], to: path("snapshot.3.sync.tmp", in: snapDir))  // a crash's leftover
        let data = payload(9, count: 5000)
        let staged = try store.stage(zxid: 9, payloadBytes: Int64(data.count))
        try data.withUnsafeBytes { try staged.append($0) }
        let (removed, _) = try store.purge(retain: 3)
        XCTAssertEqual(Set(removed.map { ($0 as NSString).lastPathComponent }), ["snapshot.1", "snapshot.3.sync.tmp"])
        try staged.seal()
        try staged.commit()
        XCTAssertEqual(try store.snapshotZxids(), [2, 3, 4, 9])
        XCTAssertTrue(try store.latestValidSnapshot().snapshot == Snapshot(zxid: 9, payload: data))
    }
}
