import Foundation
import WarrenClient
import WarrenJute
import XCTest

/// Runs the built `warren cli` against the server, one-shot and with commands on standard input.
final class CLITests: ClientTestCase {
    struct Run {
        var status: Int32
        var out: String
        var err: String
    }

    private func binary() throws -> String {
        guard let path = TestPaths.warrenBinary else {
            throw XCTSkip("warren binary not built next to the tests (build the `warren` product or set WARREN_BIN)")
        }
        let help = try run(path, ["cli", "--help"], stdin: nil)
        guard help.out.contains("-server") else {
            throw XCTSkip("\(path) has no `cli` subcommand registered")
        }
        return path
    }

    private func run(_ binary: String, _ args: [String], stdin: String?, home: String? = nil) throws -> Run {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binary)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        if let home { env["HOME"] = home }
        p.environment = env
        let outPipe = Pipe(), errPipe = Pipe(), inPipe = Pipe()
        p.standardOutput = outPipe
        p.standardError = errPipe
        p.standardInput = inPipe
        try p.run()
        if let stdin { inPipe.fileHandleForWriting.write(Data(stdin.utf8)) }
        try inPipe.fileHandleForWriting.close()
        let out = outPipe.fileHandleForReading.readDataToEndOfFile()
        let err = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Run(status: p.terminationStatus, out: String(decoding: out, as: UTF8.self),
                   err: String(decoding: err, as: UTF8.self))
    }

    /// `warren cli -server <server> <words>`.
    private func cli(_ words: String..., chroot: String = "") throws -> Run {
        try run(try binary(), ["cli", "-server", try server.connectString + chroot] + words, stdin: nil)
    }

    func testOneShotCommandsPrintLikeZkCli() async throws {
        var r = try cli("create", path("a"), "hello")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "Created \(path("a"))\n")
        r = try cli("create", "-s", path("a/s-"), "x")
        XCTAssertEqual(r.out, "Created \(path("a/s-0000000000"))\n")
        r = try cli("create", "-e", path("a/e"))
        XCTAssertEqual(r.status, 0, r.err)
        r = try cli("create", path("a/b"))
        r = try cli("ls", path("a"))
        XCTAssertEqual(r.out, "[b, s-0000000000]\n", "the ephemeral went with the one-shot session")
        r = try cli("get", path("a"))
        XCTAssertEqual(r.out, "hello\n")
        r = try cli("get", path("a/b"))
        XCTAssertEqual(r.out, "null\n")

        r = try cli("set", "-s", path("a"), "world")
        XCTAssertEqual(r.status, 0, r.err)
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { $0.components(separatedBy: " = ").first ?? "" }, [
            "cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
            "ephemeralOwner", "dataLength", "numChildren",
        ])
        let client = try await connect()
        let (_, stat) = try await client.getData(path("a"))
        XCTAssertEqual(lines[0], "cZxid = 0x" + String(stat.czxid, radix: 16))
        XCTAssertEqual(lines[6], "dataVersion = 1")
        XCTAssertEqual(lines[8], "ephemeralOwner = 0x0")
        XCTAssertEqual(lines[9], "dataLength = 5")
        XCTAssertEqual(lines[10], "numChildren = 2")
        XCTAssertNotNil(lines[1].range(of: #"^ctime = \w{3} \w{3} \d{2} \d{2}:\d{2}:\d{2} \S+ \d{4}$"#,
                                       options: .regularExpression), lines[1])

        r = try cli("stat", path("a"))
        XCTAssertEqual(r.out.split(separator: "\n").count, 11)
        r = try cli("ls", "-R", path("a"))
        XCTAssertEqual(r.out, [path("a"), path("a/b"), path("a/s-0000000000")].joined(separator: "\n") + "\n")
        r = try cli("getAllChildrenNumber", path("a"))
        XCTAssertEqual(r.out, "2\n")
        r = try cli("sync", path("a"))
        XCTAssertEqual(r.out, "Sync is OK\n")
        r = try cli("getEphemerals", path("a"))
        XCTAssertEqual(r.out, "[]\n")
        r = try cli("whoami")
        XCTAssertEqual(r.out, "Auth scheme: User\nip: 127.0.0.1\n")
    }

    func testOneShotErrorsExitNonZero() throws {
        var r = try cli("get", path("missing"))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.err, "Node does not exist: \(path("missing"))\n")
        XCTAssertEqual(r.out, "")
        _ = try cli("create", path("p"))
        _ = try cli("create", path("p/c"))
        r = try cli("create", path("p"))
        XCTAssertEqual(r.err, "Node already exists: \(path("p"))\n")
        XCTAssertNotEqual(r.status, 0)
        r = try cli("delete", path("p"))
        XCTAssertEqual(r.err, "Node not empty: \(path("p"))\n")
        r = try cli("delete", "-v", "7", path("p/c"))
        XCTAssertEqual(r.err, "version No is not valid : \(path("p/c"))\n")
        r = try cli("get")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.err, "get [-s] [-w] path\n")
        r = try cli("frobnicate")
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("ls [-s] [-w] [-R] path"), r.err)
        r = try cli("deleteall", path("p"))
        XCTAssertEqual(r.status, 0, r.err)
        r = try cli("ls", root)
        XCTAssertEqual(r.out, "[]\n")
    }

    func testACLCommandsAndChroot() throws {
        _ = try cli("create", path("acl"))
        var r = try cli("setAcl", path("acl"), "world:anyone:r,digest:alice:V55/p2T0OpjQ+low3NVAH4aLvm0=:cdrwa")
        XCTAssertEqual(r.status, 0, r.err)
        r = try cli("getAcl", path("acl"))
        // ZooKeeper hides the digest from sessions without admin rights ("alice:x"); either form is fine here.
        let lines = r.out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, r.out)
        XCTAssertEqual(Array(lines.prefix(2)), ["'world,'anyone", ": r"])
        XCTAssertTrue(lines[2].hasPrefix("'digest,'alice:"), lines[2])
        XCTAssertEqual(lines[3], ": cdrwa")
        r = try cli("set", path("acl"), "x")
        XCTAssertEqual(r.err, "Insufficient permission : \(path("acl"))\n")

        r = try cli("create", "/inside", "v", chroot: root)
        XCTAssertEqual(r.out, "Created /inside\n")
        r = try cli("ls", "/", chroot: root)
        XCTAssertEqual(r.out, "[acl, inside]\n")
    }

    func testInteractivePromptKeepsSessionAndHistory() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("cli-home-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: home) }
        let script = [
            "addauth digest alice:pw",
            "create \(path("mine")) secret auth::cdrwa",
            "get \(path("mine"))",
            "create -e \(path("eph"))",
            "getEphemerals \(root)",
            "get -w \(path("mine"))",
            "set \(path("mine")) changed",
            "quit",
        ].joined(separator: "\n") + "\n"
        let r = try run(try binary(), ["cli", "-server", try server.connectString], stdin: script, home: home.path)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix("[zk: \(try server.connectString)(CONNECTED) 0] "), r.out)
        XCTAssertTrue(r.out.contains("Created \(path("mine"))\n"), r.out)
        XCTAssertTrue(r.out.contains("] secret\n"), r.out)
        XCTAssertTrue(r.out.contains("[\(path("eph"))]"), r.out)
        XCTAssertTrue(r.out.contains("WatchedEvent state:SyncConnected type:NodeDataChanged path:\(path("mine"))"),
                      r.out)
        let history = try String(contentsOf: home.appendingPathComponent(".warren_cli_history"), encoding: .utf8)
        XCTAssertEqual(history.split(separator: "\n").count, 8)
        XCTAssertTrue(history.hasPrefix("addauth digest alice:pw\n"))
        // Without alice's credentials the node is unreadable.
        let denied = try cli("get", path("mine"))
        XCTAssertEqual(denied.err, "Insufficient permission : \(path("mine"))\n")
    }
}
