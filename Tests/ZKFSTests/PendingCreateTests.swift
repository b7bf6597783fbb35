import XCTest
@testable import ZKFS

/// The commit points of a file whose create is deferred, and the registry of pending files.
final class PendingCreateTests: XCTestCase {
    private func intent(_ name: String) throws -> CreateIntent {
        let spec = try NameSpec.parse(name)
        let path = "/d/" + spec.base
        return CreateIntent(serverPath: path, spec: spec, inodePath: spec.sequential ? path + "\u{0}1" : path)
    }

    private func write(_ h: OpenFile, _ text: String, at offset: Int) {
        XCTAssertTrue(Array(text.utf8).withUnsafeBytes { h.write($0, offset: offset, limit: 1 << 20) })
    }

    func testWrittenDataIsCreatedAtTheFirstFlush() throws {
        let h = OpenFile(ino: 7, creating: try intent("cfg"), readable: false, writable: true, append: false,
                         createsEmptyAtFlush: false)
        XCTAssertNil(h.pendingCommit(at: .flush), "the shell's > closes a duplicate before writing")
        write(h, "a=1\n", at: 0)
        write(h, "b=2\n", at: 4)
        let commit = try XCTUnwrap(h.pendingCommit(at: .flush))
        XCTAssertEqual(commit.create, try intent("cfg"))
        XCTAssertEqual(commit.data, Array("a=1\nb=2\n".utf8), "one create carries every write")
        h.created(path: "/d/cfg", generation: commit.generation, version: 0)
        XCTAssertNil(h.pendingCreate)
        XCTAssertNil(h.pendingCommit(at: .release))
        write(h, "c", at: 8)
        let later = try XCTUnwrap(h.pendingCommit(at: .flush))
        XCTAssertNil(later.create, "after the create, commits are setData")
        XCTAssertEqual(later.version, 0)
    }

    func testEmptyCreates() throws {
        let touch = OpenFile(ino: 7, creating: try intent("t"), readable: false, writable: true, append: false,
                             createsEmptyAtFlush: true)
        XCTAssertEqual(touch.pendingCommit(at: .flush)?.data, [], "touch: created by its close")
        let truncating = OpenFile(ino: 8, creating: try intent("e"), readable: false, writable: true,
                                  append: false, createsEmptyAtFlush: false)
        XCTAssertNil(truncating.pendingCommit(at: .flush))
        XCTAssertEqual(truncating.pendingCommit(at: .release)?.data, [], ": > e is created at the last close")
        truncating.commitDidFail()
        XCTAssertNil(truncating.pendingCommit(at: .release), "a failed create is not repeated at release")
    }

    func testSequentialLimitAndRename() throws {
        let seq = try intent("job-@e@s")
        XCTAssertEqual(seq.longestServerPath, "/d/job-0000000000")
        let h = OpenFile(ino: 9, creating: seq, readable: false, writable: true, append: false,
                         createsEmptyAtFlush: false)
        XCTAssertEqual(h.path, "/d/job-\u{0}1")
        write(h, "x", at: 0)
        h.created(path: "/d/job-0000000042", generation: try XCTUnwrap(h.pendingCommit(at: .fsync)).generation,
                  version: 0)
        XCTAssertEqual(h.path, "/d/job-0000000042")
    }

    func testRegistryCountsHandlesAndListsNamedFilesOnly() throws {
        let pending = PendingCreates()
        let cfg = try intent("cfg")
        pending.add(cfg)
        pending.add(cfg)
        let placeholder = pending.placeholder(for: "/d/job-")
        pending.add(CreateIntent(serverPath: "/d/job-", spec: try NameSpec.parse("job-@s"), inodePath: placeholder))
        XCTAssertNotEqual(placeholder, pending.placeholder(for: "/d/job-"))
        XCTAssertEqual(pending.names(in: "/d"), ["cfg"])
        XCTAssertEqual(pending.entry("/d/cfg")?.handles, 2)
        XCTAssertFalse(pending.handleClosed("/d/cfg"))
        XCTAssertTrue(pending.handleClosed("/d/cfg"), "gone with its last handle")
        XCTAssertNil(pending.entry("/d/cfg"))
        pending.created(placeholder)
        XCTAssertNil(pending.entry(placeholder))
    }
}

final class SerialTasksTests: XCTestCase {
    /// The second body starts only after the first ended, though the first is still waiting when it is queued.
    func testBodiesRunOneAfterTheOther() async throws {
        let serial = SerialTasks()
        let log = Log()
        let (gate, open) = AsyncStream<Void>.makeStream()
        let first = Task {
            try await serial.run {
                log.add("first started")
                for await _ in gate { break }
                log.add("first ended")
            }
        }
        while log.entries.isEmpty { await Task.yield() }
        let second = Task { try await serial.run { log.add("second") } }
        for _ in 0..<100 { await Task.yield() }
        XCTAssertEqual(log.entries, ["first started"], "the second waits for the first")
        open.yield()
        try await first.value
        try await second.value
        XCTAssertEqual(log.entries, ["first started", "first ended", "second"])
    }

    private final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var items: [String] = []
        func add(_ s: String) { lock.withLock { items.append(s) } }
        var entries: [String] { lock.withLock { items } }
    }
}
