import Foundation
import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Four-letter words in ZooKeeper's text formats, gated by the whitelist.
final class FourLetterWordTests: XCTestCase {
    private func driver(whitelist: Set<String> = ServerConfig.allFourLetterWords) throws -> CoreDriver {
        try CoreDriver(config: CoreDriver.config { $0.fourLetterWordWhitelist = whitelist })
    }

    private func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    func testRuok() throws {
        let d = try driver()
        XCTAssertEqual(d.core.fourLetterWord("ruok", host: HostFacts(), now: d.now), "imok")
    }

    func testWordOutsideTheWhitelistIsRefusedWithZooKeepersMessage() throws {
        let d = try CoreDriver()  // the default whitelist: srvr only
        XCTAssertEqual(
            d.core.fourLetterWord("ruok", host: HostFacts(), now: d.now), "ruok is not executed because it is not in the whitelist.\n")
        XCTAssertEqual(
            d.core.fourLetterWord("mntr", host: HostFacts(), now: d.now), "mntr is not executed because it is not in the whitelist.\n")
        XCTAssertTrue(d.core.fourLetterWord("srvr", host: HostFacts(), now: d.now).hasPrefix("Zookeeper version: "))
    }

    func testSrvrOnAFreshTree() throws {
        let d = try CoreDriver()
        let out = lines(d.core.fourLetterWord("srvr", host: HostFacts(), now: d.now))
        XCTAssertTrue(out.contains("Mode: standalone"), "\(out)")
        XCTAssertTrue(out.contains("Zxid: 0x0"), "\(out)")
        XCTAssertTrue(out.contains("Node count: 5"), "\(out)")
        XCTAssertTrue(out.contains("Connections: 0"), "\(out)")
        XCTAssertTrue(out.contains("Outstanding: 0"), "\(out)")
        XCTAssertEqual(out.last, "", "the answer ends with a newline")
    }

    func testSrvrFollowsTheTree() throws {
        let d = try driver()
        let (a, _) = try d.connectNewSession()
        _ = d.write(a, xid: 1, .create("/x"))
        _ = d.send(a, xid: 2, .create("/y"))  // pending: counted as outstanding, not in the tree
        let out = lines(d.core.fourLetterWord("srvr", host: HostFacts(), now: d.now))
        XCTAssertTrue(out.contains("Zxid: 0x2"), "\(out)")
        XCTAssertTrue(out.contains("Node count: 6"), "\(out)")
        XCTAssertTrue(out.contains("Connections: 1"), "\(out)")
        XCTAssertTrue(out.contains("Outstanding: 1"), "\(out)")
        let stat = lines(d.core.fourLetterWord("stat", host: HostFacts(), now: d.now))
        XCTAssertEqual(stat[1], "Clients:")
        XCTAssertTrue(stat[2].hasPrefix(" /127.0.0.1:40001[1](queued=1,"), stat[2])
    }

    func testMntrIsTabSeparatedKeyValueLines() throws {
        let d = try driver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .getData("/zookeeper", watch: true))
        let text = d.core.fourLetterWord("mntr", host: HostFacts(), now: d.now.advanced(byMs: 500))
        XCTAssertTrue(text.hasSuffix("\n"))
        var values: [String: String] = [:]
        for line in text.dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            XCTAssertEqual(fields.count, 2, "line '\(line)'")
            XCTAssertTrue(fields[0].hasPrefix("zk_"), "line '\(line)'")
            XCTAssertFalse(fields[1].isEmpty, "line '\(line)'")
            XCTAssertNil(values[String(fields[0])], "duplicate key in '\(line)'")
            values[String(fields[0])] = fields.count == 2 ? String(fields[1]) : nil
        }
        XCTAssertEqual(values["zk_server_state"], "standalone")
        XCTAssertEqual(values["zk_znode_count"], "5")
        XCTAssertEqual(values["zk_num_alive_connections"], "1")
        XCTAssertEqual(values["zk_global_sessions"], "1")
        XCTAssertEqual(values["zk_watch_count"], "1")
        XCTAssertEqual(values["zk_last_zxid"], "0x1")
        XCTAssertEqual(values["zk_uptime"], "500")
        XCTAssertEqual(values["zk_approximate_data_size"], "44")
    }

    /// What the shell read of the host is what mntr, conf, dirs and envi print; the core reads nothing itself.
    func testHostFactsHandedInAreReported() throws {
        let d = try driver()
        var host = HostFacts()
        host.openFileDescriptors = 17
        host.fileDescriptorLimit = 4096
        host.residentBytes = 123_456
        host.dataDirBytes = 1000
        host.dataLogDirBytes = 2000
        host.environment = [("host.name", "sim-1"), ("process.id", "42")]
        let mntr = lines(d.core.fourLetterWord("mntr", host: host, now: d.now))
        XCTAssertTrue(mntr.contains("zk_open_file_descriptor_count\t17"), "\(mntr)")
        XCTAssertTrue(mntr.contains("zk_max_file_descriptor_count\t4096"))
        XCTAssertTrue(mntr.contains("zk_resident_bytes\t123456"))
        XCTAssertEqual(d.core.fourLetterWord("dirs", host: host, now: d.now), "datadir_size: 1000\nlogdir_size: 2000\n")
        let conf = lines(d.core.fourLetterWord("conf", host: host, now: d.now))
        XCTAssertTrue(conf.contains("dataDirSize=1000") && conf.contains("dataLogSize=2000"), "\(conf)")
        XCTAssertEqual(lines(d.core.fourLetterWord("envi", host: host, now: d.now)),
                       ["Environment:", "zookeeper.version=\(ServerCore.versionString)", "host.name=sim-1", "process.id=42", ""])
        XCTAssertEqual(HostFacts.parts(forFourLetterWord: "mntr"), .process)
        XCTAssertEqual(HostFacts.parts(forFourLetterWord: "srvr"), [])
    }

    /// The shell's reading of this process: real values, not the unknown marks.
    func testGatheredHostFactsAreReal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hostfacts-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/version-2", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data(repeating: 1, count: 300).write(to: URL(fileURLWithPath: dir + "/version-2/log.1"))
        var config = ServerConfig()
        config.dataDir = dir
        config.dataLogDir = dir
        let host = HostFacts.gather([.process, .directories, .environment], dataDir: config.dataDir, dataLogDir: config.dataLogDir)
        XCTAssertGreaterThan(host.openFileDescriptors, 2)
        XCTAssertGreaterThan(host.fileDescriptorLimit, 0)
        XCTAssertGreaterThan(host.residentBytes, 1 << 20)
        XCTAssertEqual(host.dataDirBytes, 300)
        XCTAssertEqual(host.environment.first { $0.0 == "process.id" }?.1, "\(getpid())")
        XCTAssertNil(HostFacts.gather([], dataDir: config.dataDir, dataLogDir: config.dataLogDir).lastSnapshot)
        XCTAssertEqual(HostFacts.gather([], dataDir: config.dataDir, dataLogDir: config.dataLogDir).openFileDescriptors, -1, "only the parts asked for are read")
    }

    /// Like ZooKeeper's (which reports only its data-watch table), `wchs` counts data and exists watches, not
    /// child watches.
    func testWatchSummariesCountDataAndExistsWatches() throws {
        let d = try driver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .getData("/zookeeper", watch: true))
        _ = d.send(a, xid: 2, .exists("/missing", watch: true))
        _ = d.send(a, xid: 3, .getChildren("/", watch: true))
        XCTAssertEqual(
            d.core.fourLetterWord("wchs", host: HostFacts(), now: d.now), "1 connections watching 2 paths\nTotal watches:2\n")
        let sessionHex = "0x" + String(d.core.conns[a]!.sessionId, radix: 16)
        XCTAssertEqual(d.core.fourLetterWord("wchc", host: HostFacts(), now: d.now), "\(sessionHex)\n\t/missing\n\t/zookeeper\n\n")
    }

    func testResetWords() throws {
        let d = try driver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .exists("/"))
        XCTAssertEqual(d.core.fourLetterWord("srst", host: HostFacts(), now: d.now), "Server stats reset.\n")
        XCTAssertTrue(lines(d.core.fourLetterWord("srvr", host: HostFacts(), now: d.now)).contains("Received: 0"))
        XCTAssertEqual(d.core.fourLetterWord("crst", host: HostFacts(), now: d.now), "Connection stats reset.\n")
        XCTAssertEqual(d.core.fourLetterWord("isro", host: HostFacts(), now: d.now), "rw")
    }

    func testFrameDecoderRecognisesOnlyKnownWords() {
        func prefix(_ s: String) -> Int32 {
            let b = Array(s.utf8)
            return Int32(bitPattern: UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3]))
        }
        for word in ServerConfig.allFourLetterWords {
            XCTAssertEqual(LengthPrefixedFrameDecoder.fourLetterWord(prefix(word)), word)
        }
        XCTAssertNil(LengthPrefixedFrameDecoder.fourLetterWord(prefix("abcd")), "unknown words are packet lengths")
        XCTAssertNil(LengthPrefixedFrameDecoder.fourLetterWord(prefix("RUOK")))
        XCTAssertNil(LengthPrefixedFrameDecoder.fourLetterWord(44), "an ordinary ConnectRequest length")
    }
}
