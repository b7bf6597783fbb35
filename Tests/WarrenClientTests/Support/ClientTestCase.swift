import Foundation
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
        _ suffix: String = "", sessionTimeoutMs: Int32 = 10_000, connectString: String? = nil
    ) async throws -> ZooKeeperClient {
        let target = try connectString ?? server.connectString
        let config = ZooKeeperClient.Configuration(sessionTimeoutMs: sessionTimeoutMs)
        let client = try await ZooKeeperClient.connect(target + suffix, configuration: config)
        clients.append(client)
        return client
    }

    /// `root` + `/` + `name`.
    func path(_ name: String) -> String { "\(root)/\(name)" }
}

/// Waits for the next element of `stream` for at most `seconds`; nil on timeout or end of stream.
func next<T: Sendable>(_ stream: AsyncStream<T>, within seconds: Double = 10) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask {
            var iterator = stream.makeAsyncIterator()
            return await iterator.next()
        }
        group.addTask {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

/// Collects elements of `stream` until `done` holds for the collected list or `seconds` pass.
func collect<T: Sendable>(
    _ stream: AsyncStream<T>, within seconds: Double = 10, until done: @escaping @Sendable ([T]) -> Bool
) async -> [T] {
    await withTaskGroup(of: [T]?.self) { group in
        group.addTask {
            var got: [T] = []
            for await item in stream {
                got.append(item)
                if done(got) { break }
            }
            return got
        }
        group.addTask {
            try? await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000))
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? []
    }
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
