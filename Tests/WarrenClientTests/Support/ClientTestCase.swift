import Foundation
import Logging
import WarrenClient
import WarrenJute
import XCTest

/// A test case with one server per test class (started in the class `setUp`, killed in the class `tearDown`), and
/// a fresh root znode per test so that tests do not see each other's nodes.
class ClientTestCase: XCTestCase {
    nonisolated(unsafe) static var sharedServer: TestServer?
    nonisolated(unsafe) static var serverStartError: Error?

    override class func setUp() {
        super.setUp()
        do {
            let server = try TestServer()
            try server.start()
            sharedServer = server
        } catch {
            serverStartError = error
        }
    }

    override class func tearDown() {
        sharedServer?.stop()
        sharedServer = nil
        super.tearDown()
    }

    var server: TestServer {
        get throws {
            if let error = Self.serverStartError { throw error }
            guard let server = Self.sharedServer else { throw TestServerError.exited("no server") }
            return server
        }
    }

    private var clients: [ZooKeeperClient] = []
    /// This test's own root znode, created by `setUp` (e.g. `/testCreate-1a2b3c`).
    private(set) var root = ""

    override func setUp() async throws {
        try await super.setUp()
        let name = name.split(separator: " ").last.map { String($0.dropLast()) } ?? "test"
        root = "/\(name)-\(UUID().uuidString.prefix(8))"
        let admin = try await connect()
        try await admin.create(root)
    }

    override func tearDown() async throws {
        for client in clients { await client.close() }
        clients = []
        try await super.tearDown()
    }

    /// A connected client to the shared server (plus `suffix`, e.g. a chroot), closed at the end of the test.
    func connect(
        _ suffix: String = "", sessionTimeoutMs: Int32 = 10_000, connectString: String? = nil,
        connectAttemptTimeoutMs: Int64? = nil
    ) async throws -> ZooKeeperClient {
        let target = try connectString ?? server.connectString
        var logger = Logger(label: "test.client")
        // WARREN_CLIENT_TEST_LOG=debug shows the client's connection chatter.
        logger.logLevel = ProcessInfo.processInfo.environment["WARREN_CLIENT_TEST_LOG"]
            .flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let config = ZooKeeperClient.Configuration(
            sessionTimeoutMs: sessionTimeoutMs, connectAttemptTimeoutMs: connectAttemptTimeoutMs, logger: logger)
        let client = try await ZooKeeperClient.connect(target + suffix, configuration: config)
        clients.append(client)
        return client
    }

    /// `root` + `/` + `name`.
    func path(_ name: String) -> String { "\(root)/\(name)" }
}

/// Records every element of a stream from the moment it is made, so that tests can wait for elements with a
/// timeout without cancelling (and so ending) the stream.
final class Recorder<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T] = []
    private var finished = false
    private var cursor = 0
    private var task: Task<Void, Never>?

    init(_ stream: AsyncStream<T>) {
        task = Task { [weak self] in
            for await item in stream {
                guard let self else { return }
                self.lock.withLock { self.items.append(item) }
            }
            self?.lock.withLock { self?.finished = true }
        }
    }

    deinit { task?.cancel() }

    /// Everything recorded so far.
    var all: [T] { lock.withLock { items } }

    /// Whether the stream has ended and every element was read with `next`.
    var isExhausted: Bool { lock.withLock { finished && cursor == items.count } }

    /// The next unread element, waiting at most `seconds`; nil on timeout or at the end of the stream.
    func next(within seconds: Double = 10) async -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            let (item, done): (T?, Bool) = lock.withLock {
                if cursor < items.count {
                    cursor += 1
                    return (items[cursor - 1], false)
                }
                return (nil, finished)
            }
            if let item { return item }
            if done || Date() >= deadline { return nil }
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
    }

    /// Unread elements until `done` holds for them or `seconds` pass; returns what was read either way.
    func collect(within seconds: Double = 10, until done: ([T]) -> Bool) async -> [T] {
        var got: [T] = []
        let deadline = Date().addingTimeInterval(seconds)
        while !done(got) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0, let item = await next(within: left) else { break }
            got.append(item)
        }
        return got
    }
}

func next<T: Sendable>(_ recorder: Recorder<T>, within seconds: Double = 10) async -> T? {
    await recorder.next(within: seconds)
}

func collect<T: Sendable>(_ recorder: Recorder<T>, within seconds: Double = 10, until done: ([T]) -> Bool) async -> [T] {
    await recorder.collect(within: seconds, until: done)
}

/// Asserts that `body` throws a `ZooKeeperError` with `code` (and `path`, if given).
func assertZooKeeperError<T>(
    _ code: ErrorCode, path: String? = nil, file: StaticString = #filePath, line: UInt = #line,
    _ body: () async throws -> T
) async {
    do {
        _ = try await body()
        XCTFail("expected \(code), got success", file: file, line: line)
    } catch let error as ZooKeeperError {
        XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
        if let path { XCTAssertEqual(error.path, path, file: file, line: line) }
    } catch {
        XCTFail("expected ZooKeeperError(\(code)), got \(error)", file: file, line: line)
    }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
