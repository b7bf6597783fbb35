import XCTest
@testable import ZKFS

final class OpenFileTests: XCTestCase {
    private func handle(_ data: String, append: Bool = false, truncated: Bool = false) -> OpenFile {
        OpenFile(ino: 5, path: "/f", readable: true, writable: true, append: append,
                   data: truncated ? [] : Array(data.utf8), version: 3, dirty: truncated)
    }

    private func write(_ h: OpenFile, _ text: String, at offset: Int, limit: Int = 1 << 20) -> Bool {
        Array(text.utf8).withUnsafeBytes { h.write($0, offset: offset, limit: limit) }
    }

    private func contents(_ h: OpenFile) -> String {
        String(decoding: h.read(offset: 0, size: 1 << 20), as: UTF8.self)
    }

    func testReadsServeTheSnapshot() {
        let h = handle("hello world")
        XCTAssertEqual(String(decoding: h.read(offset: 6, size: 100), as: UTF8.self), "world")
        XCTAssertEqual(h.read(offset: 11, size: 10), [])
        XCTAssertEqual(h.read(offset: 50, size: 10), [])
        XCTAssertNil(h.pendingCommit(at: .fsync), "nothing to commit before a write")
    }

    func testOverwriteExtendAndGapFill() {
        let h = handle("abcdef")
        XCTAssertTrue(write(h, "XY", at: 2))
        XCTAssertEqual(contents(h), "abXYef")
        XCTAssertTrue(write(h, "123", at: 5))
        XCTAssertEqual(contents(h), "abXYe123")
        XCTAssertTrue(write(h, "!", at: 10))
        XCTAssertEqual(h.read(offset: 0, size: 100), Array("abXYe123".utf8) + [0, 0, 33])
    }

    func testAppendIgnoresTheKernelsOffset() {
        let h = handle("one\n", append: true)
        XCTAssertTrue(write(h, "two\n", at: 0))
        XCTAssertEqual(contents(h), "one\ntwo\n")
    }

    func testLimitRefusesWithoutChangingAnything() {
        let h = handle("abc")
        XCTAssertFalse(write(h, "defg", at: 3, limit: 6))
        XCTAssertEqual(contents(h), "abc")
        XCTAssertNil(h.pendingCommit(at: .fsync))
        XCTAssertTrue(write(h, "def", at: 3, limit: 6))
    }

    func testCommitPoints() throws {
        let h = handle("", truncated: true)
        XCTAssertNil(h.pendingCommit(at: .flush), "a truncation alone waits for the last close")
        XCTAssertEqual(h.pendingCommit(at: .release)?.data, [])
        XCTAssertEqual(h.pendingCommit(at: .fsync)?.version, 3)
        XCTAssertTrue(write(h, "x", at: 0))
        let pending = try XCTUnwrap(h.pendingCommit(at: .flush))
        XCTAssertEqual(pending.data, [120])
        h.committed(generation: pending.generation, newVersion: 4)
        XCTAssertNil(h.pendingCommit(at: .flush))
        XCTAssertNil(h.pendingCommit(at: .release))
        XCTAssertEqual(h.version, 4)
    }

    func testAWriteDuringACommitKeepsTheBufferDirty() throws {
        let h = handle("a")
        XCTAssertTrue(write(h, "b", at: 1))
        let pending = try XCTUnwrap(h.pendingCommit(at: .flush))
        XCTAssertTrue(write(h, "c", at: 2))
        h.committed(generation: pending.generation, newVersion: 4)
        let next = try XCTUnwrap(h.pendingCommit(at: .flush))
        XCTAssertEqual(next.version, 4)
        XCTAssertEqual(next.data, Array("abc".utf8))
    }

    func testReleaseDoesNotRepeatAFailedCommit() {
        let h = handle("a")
        XCTAssertTrue(write(h, "b", at: 1))
        h.commitDidFail()
        XCTAssertNil(h.pendingCommit(at: .release))
        XCTAssertNotNil(h.pendingCommit(at: .flush), "a later close reports the conflict again")
    }

    func testTruncate() {
        let h = handle("abcdef")
        h.truncate(to: 2)
        XCTAssertEqual(contents(h), "ab")
        h.truncate(to: 4)
        XCTAssertEqual(h.read(offset: 0, size: 10), [97, 98, 0, 0])
        XCTAssertNotNil(h.pendingCommit(at: .flush))
    }
}
