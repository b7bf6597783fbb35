import WarrenJute
import WarrenZab
import XCTest

@testable import WarrenServer

/// The SNAP sync stream codec: a snapshot cut into chunk frames and put back together, and every way a peer's
/// stream can be broken being refused with its own error.
final class SnapshotStreamTests: XCTestCase {
    private let state: [UInt8] = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 7) }

    private func frames(_ state: [UInt8], chunkBytes: Int) -> [[UInt8]] {
        var chunker = SnapshotChunker(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), state: state, chunkBytes: chunkBytes)
        var out: [[UInt8]] = []
        while let next = chunker.next() { out.append(next.frame) }
        return out
    }

    /// Feeds frames; returns the message of the last one, or the error that stopped it.
    private func feed(_ frames: [[UInt8]], into r: inout SnapshotReassembler) -> Result<ZabMessage?, SnapshotStreamError> {
        var last: ZabMessage?
        for frame in frames {
            XCTAssertTrue(SnapshotStream.isStreamFrame(frame))
            do { last = try r.accept(frame) } catch { return .failure(error) }
        }
        return .success(last)
    }

    private func assertFails(_ frames: [[UInt8]], _ expected: SnapshotStreamError, reassembler: SnapshotReassembler = .init(),
                             file: StaticString = #filePath, line: UInt = #line) {
        var r = reassembler
        XCTAssertEqual(feed(frames, into: &r), .failure(expected), file: file, line: line)
    }

    func testChunksReassembleToTheSnapshotMessage() {
        let f = frames(state, chunkBytes: 1024)
        XCTAssertEqual(f.count, 1 + 10 + 1)  // begin, ten chunks (the last one shorter), end
        var r = SnapshotReassembler()
        XCTAssertEqual(feed(Array(f.dropLast()), into: &r), .success(nil))
        XCTAssertTrue(r.isOpen)
        XCTAssertEqual(feed([f.last!], into: &r), .success(.snapshot(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), state: state)))
        XCTAssertFalse(r.isOpen)
        // The same reassembler takes the next stream (a restarted transfer on the same connection).
        XCTAssertEqual(feed(frames([1, 2, 3], chunkBytes: 2), into: &r),
                       .success(.snapshot(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), state: [1, 2, 3])))
    }

    /// A snapshot serialized in parts streams as their concatenation, no chunk spanning two parts (empty parts
    /// send nothing).
    func testPartsStreamAsTheirConcatenation() {
        let parts: [[UInt8]] = [Array(state[..<1500]), [], Array(state[1500..<1501]), Array(state[1501...])]
        var chunker = SnapshotChunker(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), parts: parts, chunkBytes: 1024)
        var f: [[UInt8]] = []
        var chunkSizes: [Int] = []
        while let (frame, isChunk) = chunker.next() {
            f.append(frame)
            if isChunk { chunkSizes.append(frame.count - 12) }
        }
        XCTAssertEqual(chunkSizes, [1024, 476, 1] + Array(repeating: 1024, count: (state.count - 1501) / 1024)
                       + ((state.count - 1501) % 1024 == 0 ? [] : [(state.count - 1501) % 1024]))
        var r = SnapshotReassembler()
        XCTAssertEqual(feed(f, into: &r), .success(.snapshot(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), state: state)))
    }

    /// A receiver that took the bytes elsewhere stops keeping them: the stream is still counted and checked, and
    /// the message carries no state.
    func testBytesNoLongerKeptAreStillChecked() {
        let f = frames(state, chunkBytes: 1024)
        var r = SnapshotReassembler()
        XCTAssertEqual(feed(Array(f.prefix(3)), into: &r), .success(nil))
        XCTAssertEqual(r.keptPrefix.map(Array.init), Array(state.prefix(16)))
        r.stopKeepingBytes()
        XCTAssertNil(r.keptPrefix)
        XCTAssertEqual(feed(Array(f.dropFirst(3)), into: &r), .success(.snapshot(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), state: [])))
        var damaged = f
        damaged[5][20] ^= 1
        var again = SnapshotReassembler()
        XCTAssertEqual(feed(Array(damaged.prefix(2)), into: &again), .success(nil))
        again.stopKeepingBytes()
        guard case .failure(.checksumMismatch) = feed(Array(damaged.dropFirst(2)), into: &again) else {
            return XCTFail("a damaged chunk passed")
        }
    }

    func testEmptyStateIsBeginAndEndOnly() {
        let f = frames([], chunkBytes: 64)
        XCTAssertEqual(f.count, 2)
        var r = SnapshotReassembler()
        XCTAssertEqual(feed(f, into: &r), .success(.snapshot(epoch: 7, lastZxid: Zxid(raw: 0x7_0000_0042), state: [])))
    }

    func testZabMessagesAreNotStreamFrames() {
        var w = JuteWriter()
        ZabMessage.ping(epoch: 1, committed: .zero).encode(to: &w)
        XCTAssertFalse(SnapshotStream.isStreamFrame(w.bytes))
        XCTAssertFalse(SnapshotStream.isStreamFrame([0, 0]))
    }

    func testChecksumMismatchIsRefused() {
        var f = frames(state, chunkBytes: 1024)
        f[3][f[3].count - 1] ^= 0x01  // one flipped bit in a chunk's state
        guard case .failure(.checksumMismatch) = { var r = SnapshotReassembler(); return feed(f, into: &r) }() else {
            return XCTFail("a corrupted chunk was accepted")
        }
    }

    func testTruncatedStreamIsRefused() {
        let f = frames(state, chunkBytes: 1024)
        var withoutChunk = f
        withoutChunk.remove(at: f.count - 2)  // the last chunk lost, the end frame arrives
        assertFails(withoutChunk, .truncated(receivedBytes: 9216, totalBytes: 10_000))
    }

    func testDuplicateAndOutOfOrderChunksAreRefused() {
        let f = frames(state, chunkBytes: 1024)
        assertFails([f[0], f[1], f[1]], .outOfOrder(expected: 1, got: 0))
        assertFails([f[0], f[2]], .outOfOrder(expected: 0, got: 1))
    }

    func testFramesOutsideAStreamAreRefused() {
        let f = frames(state, chunkBytes: 1024)
        assertFails([f[1]], .unexpected("chunk outside a stream"))
        assertFails([f.last!], .unexpected("end frame outside a stream"))
        assertFails([f[0], f[1], f[0]], .unexpected("begin frame inside a stream"))
    }

    func testSizesOverTheBoundsAreRefused() {
        let f = frames(state, chunkBytes: 4096)
        assertFails([f[0]], .tooLarge(totalBytes: 10_000, snapshotBytesMax: 9999),
                    reassembler: SnapshotReassembler(snapshotBytesMax: 9999))
        assertFails([f[0], f[1]], .badChunkSize(bytes: 4096, chunkBytesMax: 4095),
                    reassembler: SnapshotReassembler(chunkBytesMax: 4095))
        // More chunk bytes than announced: a begin frame of 100 bytes followed by a 4 KiB chunk.
        let small = frames(Array(state.prefix(100)), chunkBytes: 4096)
        assertFails([small[0], f[1]], .overrun(totalBytes: 100))
    }

    func testMalformedFramesAreRefused() {
        let f = frames(state, chunkBytes: 1024)
        guard case .failure(.malformed) = { var r = SnapshotReassembler(); return feed([Array(f[0].prefix(10))], into: &r) }() else {
            return XCTFail("a cut-off begin frame was accepted")
        }
        guard case .failure(.malformed) = { var r = SnapshotReassembler(); return feed([f[0], Array(f[1].dropLast())], into: &r) }() else {
            return XCTFail("a cut-off chunk was accepted")
        }
    }
}
