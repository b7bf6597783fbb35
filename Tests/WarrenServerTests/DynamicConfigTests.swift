import Foundation
import WarrenJute
import WarrenZab
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// ZooKeeper's dynamic configuration text, the reconfig request forms applied to it, and the files a reconfig
/// leaves (`<zoo.cfg>.dynamic.<version>`, zoo.cfg pointing at it) read back at start.
final class DynamicConfigTests: XCTestCase {
    let three = """
        server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181
        server.2=10.0.0.2:2888:3888;2182
        server.3=10.0.0.3:2888:3888:participant
        version=100000004
        """

    func testParsesAndWritesZooKeepersFormat() throws {
        let c = try DynamicConfig.parse(three)
        XCTAssertEqual(c.version, 0x1_0000_0004)
        XCTAssertEqual(c.members, [1: .participant, 2: .participant, 3: .participant])
        XCTAssertEqual(c.text, """
            server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181
            server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2182
            server.3=10.0.0.3:2888:3888:participant
            version=100000004
            """)
        XCTAssertEqual(try DynamicConfig.parse(c.text).text, c.text, "its own text reads back the same")
        XCTAssertThrowsError(try DynamicConfig.parse("server.1=a:1:2\nserver.1=b:1:2\n"))
        XCTAssertThrowsError(try DynamicConfig.parse("tickTime=2000\n"))
        XCTAssertThrowsError(try DynamicConfig.parse("version=xyz\n"))
    }

    func testIncrementalAndBulkForms() throws {
        let c = try DynamicConfig.parse(three)
        let added = try c.applying(joining: "server.4=10.0.0.4:2888:3888:observer;2184", leaving: "2", newMembers: nil)
        XCTAssertEqual(added.members, [1: .participant, 3: .participant, 4: .observer])
        XCTAssertEqual(added.version, c.version, "the caller sets the reconfig's zxid")
        let promoted = try added.applying(joining: "server.4=10.0.0.4:2888:3888:participant;2184", leaving: nil, newMembers: nil)
        XCTAssertEqual(promoted.members[4], .participant, "a joining line for a member changes its role")
        let bulk = try c.applying(joining: nil, leaving: nil, newMembers: "server.1=10.0.0.1:2888:3888, server.5=10.0.0.5:2888:3888")
        XCTAssertEqual(bulk.members, [1: .participant, 5: .participant])
        for (j, l, m) in [("server.9=x", nil, nil), (nil, "7", nil), (nil, "2", "server.1=a:1:2"), (nil, nil, nil),
                          ("server.2=10.0.0.2:2888:3888:participant;0.0.0.0:2182", nil, nil), (nil, "1,2,3", nil),
                          (nil, nil, "server.1=a:1:2,server.1=b:1:2")] as [(String?, String?, String?)] {
            XCTAssertThrowsError(try c.applying(joining: j, leaving: l, newMembers: m), "\(j ?? "-") \(l ?? "-") \(m ?? "-")") {
                XCTAssertEqual($0 as? ErrorCode, .badArguments)
            }
        }
    }

    func testAReconfigsFilesAreWhatTheNextStartReads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dyncfg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = dir + "/zoo.cfg"
        try "tickTime=2000\ndataDir=\(dir)\nserver.1=10.0.0.1:2888:3888\nserver.2=10.0.0.2:2888:3888\nreconfigEnabled=true\n"
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        try "2\n".write(toFile: dir + "/myid", atomically: true, encoding: .utf8)
        let before = try ServerConfig.load(path: cfg)
        XCTAssertEqual(before.configVersion, 0)
        var next = try before.dynamicConfig.applying(joining: "server.3=10.0.0.3:2888:3888:participant;2181", leaving: nil, newMembers: nil)
        next.version = 0x2_0000_0007
        try DynamicConfigFiles.write(next, zooCfg: cfg)
        let zooCfg = try String(contentsOfFile: cfg, encoding: .utf8)
        XCTAssertFalse(zooCfg.contains("server."), zooCfg)
        XCTAssertTrue(zooCfg.hasSuffix("reconfigEnabled=true\ndynamicConfigFile=\(cfg).dynamic.200000007\n"), zooCfg)
        let after = try ServerConfig.load(path: cfg)
        XCTAssertEqual(after.configVersion, 0x2_0000_0007)
        XCTAssertEqual(after.dynamicConfig.members, next.members)
        XCTAssertEqual(after.peers.first { $0.id == 3 }?.clientPort, 2181)
        XCTAssertTrue(after.reconfigEnabled)
    }
}
