import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A ZooKeeper-compatible server process for tests, listening on 127.0.0.1 on a free port, with its own temporary
/// data directory and zoo.cfg.
///
/// Which server runs is chosen by `WARREN_CLIENT_TEST_SERVER`: `zookeeper` (default: Apache ZooKeeper from
/// Debian's package) or `warren` (the built `warren server`, path in `WARREN_BIN` or the build directory).
/// `ServerKind.custom` takes any command line for a zoo.cfg path.
final class TestServer {
    enum ServerKind {
        case zookeeper
        case warren(binary: String)
        /// The command line to run, given the zoo.cfg path.
        case custom((String) -> [String])

        /// The kind named by the environment.
        static func fromEnvironment() -> ServerKind {
            let env = ProcessInfo.processInfo.environment
            switch env["WARREN_CLIENT_TEST_SERVER"] ?? "zookeeper" {
            case "warren": return .warren(binary: env["WARREN_BIN"] ?? TestPaths.warrenBinary ?? "warren")
            default: return .zookeeper
            }
        }

        func command(configPath: String) -> [String] {
            switch self {
            case .zookeeper:
                let classpath = ["/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-simple.jar"]
                return [
                    "/usr/bin/java", "-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                    "-Dzookeeper.extendedTypesEnabled=true", "-Dzookeeper.admin.enableServer=false",
                    "-Dznode.container.checkIntervalMs=1000",
                    "-cp", classpath.joined(separator: ":"),
                    "org.apache.zookeeper.server.ZooKeeperServerMain", configPath,
                ]
            case let .warren(binary):
                return [binary, "server", "--config", configPath]
            case let .custom(make):
                return make(configPath)
            }
        }
    }

    /// The super user's digest: user "super", password "supersecret".
    static let superDigest = "super:v0rVv7p3ZvkPbkv/A6UcDaTV9qc="

    let kind: ServerKind
    let port: Int
    let directory: URL
    private var process: Process?

    var connectString: String { "127.0.0.1:\(port)" }

    init(kind: ServerKind = .fromEnvironment()) throws {
        self.kind = kind
        port = try freePort()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("warren-client-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"),
                                                withIntermediateDirectories: true)
        let config = [
            "tickTime=200",
            "dataDir=\(directory.appendingPathComponent("data").path)",
            "clientPort=\(port)",
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=100",
            "minSessionTimeout=600",
            "maxSessionTimeout=30000",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            "extendedTypesEnabled=true",
            // ZooKeeper turns unknown keys into "zookeeper.<key>" system properties.
            "DigestAuthenticationProvider.superDigest=\(TestServer.superDigest)",
        ].joined(separator: "\n") + "\n"
        try config.write(to: configURL, atomically: true, encoding: .utf8)
    }

    var configURL: URL { directory.appendingPathComponent("zoo.cfg") }

    /// Starts the process and returns once it answers `srvr` with a `Mode:` line (it serves sessions then).
    func start(timeoutSeconds: Double = 60) throws {
        // A shell watchdog runs the server and kills it when this test process goes away, even by SIGKILL or a
        // timeout, so that no server outlives its test run.
        let watchdog = """
            watched=$1; shift
            "$@" & child=$!
            trap 'kill -9 $child 2>/dev/null; wait $child; exit 0' TERM
            while kill -0 "$watched" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 0.2; done
            kill -9 $child 2>/dev/null
            wait
            """
        let command = kind.command(configPath: configURL.path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", watchdog, "watchdog", String(getpid())] + command
        p.currentDirectoryURL = directory
        let logURL = directory.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        p.standardOutput = log
        p.standardError = log
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while Date() < deadline {
            if !p.isRunning {
                throw TestServerError.exited("server exited with \(p.terminationStatus): \(logTail())")
            }
            if let answer = try? fourLetterWord("srvr", port: port), answer.contains("Mode:") { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        stop()
        throw TestServerError.timedOut("server did not come up on \(port): \(logTail())")
    }

    /// Kills the server (SIGKILL, so that nothing is flushed or closed politely) and waits until it is gone.
    func stop() {
        guard let p = process else { return }
        process = nil
        if p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
        }
    }

    /// Stops the server and starts it again on the same port with the same data, so that sessions survive.
    func restart() throws {
        stop()
        try start()
    }

    func logTail(lines: Int = 30) -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

enum TestServerError: Error {
    case exited(String)
    case timedOut(String)
    case socket(String)
}

enum TestPaths {
    /// The package root (this file is Tests/WarrenClientTests/Support/TestServer.swift).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `warren` binary next to the running test bundle (the same build directory), if it was built.
    static var warrenBinary: String? {
        if let env = ProcessInfo.processInfo.environment["WARREN_BIN"] { return env }
        var dir = Bundle.main.bundleURL
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("warren")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path)
            {
                return candidate.path
            }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestServerError.socket("socket: \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = 0
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestServerError.socket("bind: \(errno)") }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Sends a four-letter word and returns the whole answer.
func fourLetterWord(_ word: String, port: Int) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestServerError.socket("socket: \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 1, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TestServerError.socket("connect: \(errno)") }
    let bytes = Array(word.utf8)
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        answer.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: answer, as: UTF8.self)
}
