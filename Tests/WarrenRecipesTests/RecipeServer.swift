import Foundation
import WarrenClient
import XCTest

/// A `warren server` on 127.0.0.1 for the recipe tests, with its own data directory; with
/// `WARREN_RECIPES_TEST_SERVER=zookeeper`, Apache ZooKeeper (Debian's package) instead.
///
/// A minimal launcher of our own: the fuller one (`Tests/WarrenClientTests/Support/TestServer.swift`) lives in
/// another test target, which cannot be imported. The process runs under `timeout -s KILL`, so that it cannot
/// outlive a test run that was killed before its tear-down.
final class RecipeServer: @unchecked Sendable {
    static let lifetimeMaxSeconds = 900
    static let startTimeoutSeconds = 60.0

    let port: Int
    let directory: URL
    private let process = Process()

    var connectString: String { "127.0.0.1:\(port)" }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("warren-recipes-\(UUID().uuidString)")
        let data = directory.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        // Ports from below the ephemeral range, so that no outgoing connection holds the one we pick.
        port = Int.random(in: 20000..<32000)
        let config = """
            tickTime=200
            dataDir=\(data.path)
            clientPort=\(port)
            clientPortAddress=127.0.0.1
            minSessionTimeout=600
            maxSessionTimeout=30000
            4lw.commands.whitelist=*

            """
        let configPath = directory.appendingPathComponent("zoo.cfg").path
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["-s", "KILL", String(Self.lifetimeMaxSeconds)] + (try Self.command(configPath))
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    static func command(_ configPath: String) throws -> [String] {
        if ProcessInfo.processInfo.environment["WARREN_RECIPES_TEST_SERVER"] == "zookeeper" {
            return ["/usr/bin/java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dzookeeper.admin.enableServer=false",
                    "-cp", "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-nop.jar",
                    "org.apache.zookeeper.server.ZooKeeperServerMain", configPath]
        }
        return [try binary(), "server", "--config", configPath, "--log-level", "warning"]
    }

    /// The `warren` binary: `WARREN_BIN`, or the one in the build directory of this test bundle.
    static func binary() throws -> String {
        if let env = ProcessInfo.processInfo.environment["WARREN_BIN"] { return env }
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("warren").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        throw XCTSkip("no warren binary next to the tests: run `swift build` first or set WARREN_BIN")
    }

    /// A connected client, retried until the server answers.
    func connect(sessionTimeoutMs: Int32 = 4000) async throws -> ZooKeeperClient {
        let deadline = ContinuousClock.now.advanced(by: .seconds(Self.startTimeoutSeconds))
        while true {
            guard process.isRunning else { throw RecipeServerError("server exited with \(process.terminationStatus)") }
            do {
                let config = ZooKeeperClient.Configuration(sessionTimeoutMs: sessionTimeoutMs,
                                                           initialConnectTimeoutMs: 2000)
                return try await ZooKeeperClient.connect(connectString, configuration: config)
            } catch {
                if ContinuousClock.now >= deadline { throw error }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}

struct RecipeServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One server per test class, a fresh root znode per test, every client closed at the end of its test.
class RecipeTestCase: XCTestCase {
    nonisolated(unsafe) static var shared: RecipeServer?
    nonisolated(unsafe) static var startError: Error?

    override class func setUp() {
        super.setUp()
        do { shared = try RecipeServer() } catch { startError = error }
    }

    override class func tearDown() {
        shared?.stop()
        shared = nil
        super.tearDown()
    }

    private var clients: [ZooKeeperClient] = []
    private(set) var root = ""

    override func setUp() async throws {
        try await super.setUp()
        root = "/recipes-\(UUID().uuidString.prefix(8).lowercased())"
        try await connect().create(root)
    }

    override func tearDown() async throws {
        for client in clients { await client.close() }
        clients = []
        try await super.tearDown()
    }

    func connect(sessionTimeoutMs: Int32 = 4000) async throws -> ZooKeeperClient {
        if let error = Self.startError { throw error }
        guard let server = Self.shared else { throw RecipeServerError("no server") }
        let client = try await server.connect(sessionTimeoutMs: sessionTimeoutMs)
        clients.append(client)
        return client
    }

    func path(_ name: String) -> String { "\(root)/\(name)" }
}
