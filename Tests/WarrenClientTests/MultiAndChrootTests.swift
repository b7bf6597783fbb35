import WarrenClient
import WarrenJute
import XCTest

/// Transactions, multiRead, and the chroot mapping.
final class MultiAndChrootTests: ClientTestCase {
    func testMultiSuccessReturnsEachResult() async throws {
        let client = try await connect()
        try await client.create(path("existing"), data: "old".bytes)
        let results = try await client.multi {
            $0.create(path("new"), data: "n".bytes)
            $0.create(path("seq-"), mode: .persistentSequential)
            $0.setData(path("existing"), data: "new".bytes, version: 0)
            $0.check(path("existing"), version: 1)
            $0.delete(path("new"))
        }
        XCTAssertEqual(results.count, 5)
        guard case let .create(created, createStat) = results[0] else { return XCTFail("\(results[0])") }
        XCTAssertEqual(created, path("new"))
        // ZooKeeper 3.8 answers a create2 inside a multi with a plain create result (no stat).
        if let createStat { XCTAssertEqual(createStat.version, 0) }
        guard case let .create(seq, _) = results[1] else { return XCTFail("\(results[1])") }
        XCTAssertEqual(seq, path("seq-0000000002"), "parent cversion was 2 after two creates")
        guard case let .setData(stat) = results[2] else { return XCTFail("\(results[2])") }
        XCTAssertEqual(stat.version, 1)
        XCTAssertEqual(results[3], .check)
        XCTAssertEqual(results[4], .delete)
        let data = try await client.getData(path("existing")).data
        XCTAssertEqual(data, "new".bytes)
        let gone = try await client.exists(path("new"))
        XCTAssertNil(gone)
    }

    func testMultiFailureRollsBackAndReportsPerOp() async throws {
        let client = try await connect()
        try await client.create(path("v"))
        do {
            _ = try await client.multi {
                $0.create(path("a"))
                $0.check(path("v"), version: 7)
                $0.create(path("b"))
            }
            XCTFail("multi should fail")
        } catch let error as ZooKeeperError {
            XCTAssertEqual(error.code, .badVersion)
            XCTAssertEqual(error.path, path("v"))
            XCTAssertEqual(error.multiResults, [.error(.ok), .error(.badVersion), .error(.runtimeInconsistency)])
        }
        let a = try await client.exists(path("a"))
        XCTAssertNil(a, "the first create was rolled back")
        await assertZooKeeperError(.badArguments) {
            try await client.multi { $0.getData(self.path("v")) }
        }
    }

    func testMultiRead() async throws {
        let client = try await connect()
        try await client.create(path("m"), data: "data".bytes)
        try await client.create(path("m/k1"))
        let results = try await client.multiRead {
            $0.getData(path("m"))
            $0.getChildren(path("m"))
            $0.getData(path("missing"))
        }
        XCTAssertEqual(results.count, 3)
        guard case let .getData(data, stat) = results[0] else { return XCTFail("\(results[0])") }
        XCTAssertEqual(data, "data".bytes)
        XCTAssertEqual(stat.numChildren, 1)
        XCTAssertEqual(results[1], .getChildren(["k1"]))
        XCTAssertEqual(results[2], .error(.noNode))
    }

    func testChrootMapsEveryPath() async throws {
        let outside = try await connect()
        try await outside.create(path("jail"))
        let jailed = try await connect(root + "/jail")
        XCTAssertEqual(jailed.connectString.chroot, root + "/jail")

        let created = try await jailed.create("/x", data: "in".bytes)
        XCTAssertEqual(created, "/x")
        let seq = try await jailed.create("/s-", mode: .ephemeralSequential)
        XCTAssertTrue(seq.hasPrefix("/s-"), seq)
        let (viaOutside, _) = try await outside.getData(path("jail/x"))
        XCTAssertEqual(viaOutside, "in".bytes)
        let rootChildren = try await jailed.getChildren("/")
        XCTAssertEqual(Set(rootChildren), ["x", String(seq.dropFirst())])
        let ephemerals = try await jailed.getEphemerals()
        XCTAssertEqual(ephemerals, [seq])
        let synced = try await jailed.sync("/x")
        XCTAssertEqual(synced, "/x")

        let results = try await jailed.multi { $0.create("/y") }
        XCTAssertEqual(results.count, 1)
        if case let .create(p, _) = results[0] { XCTAssertEqual(p, "/y") } else { XCTFail("\(results[0])") }

        let events = Recorder(jailed.watchEvents())
        _ = try await jailed.getData("/x", watch: true)
        try await outside.setData(path("jail/x"), data: [])
        let event = await next(events)
        XCTAssertEqual(event, WatchEvent(type: .nodeDataChanged, state: .syncConnected, path: "/x"))
        await assertZooKeeperError(.noNode, path: "/nope") { try await jailed.getData("/nope") }
    }
}

/// Connect-string parsing and path checks, without a server.
final class ConnectStringTests: XCTestCase {
    func testParsesHostsPortsAndChroot() throws {
        let cs = try ConnectString(parsing: "h1:2182, h2 ,[::1]:2000/app/x")
        XCTAssertEqual(cs.hosts, [
            HostAndPort(host: "h1", port: 2182), HostAndPort(host: "h2", port: 2181),
            HostAndPort(host: "::1", port: 2000),
        ])
        XCTAssertEqual(cs.chroot, "/app/x")
        XCTAssertEqual(cs.description, "h1:2182,h2:2181,[::1]:2000/app/x")
        XCTAssertNil(try ConnectString(parsing: "h:1/").chroot)
    }

    func testRejectsBadConnectStrings() {
        for bad in ["", "/chroot", "h:0", "h:99999", "h:abc", "h:1/a/", "h:1/a//b", "[::1:2181"] {
            XCTAssertThrowsError(try ConnectString(parsing: bad), bad) { error in
                XCTAssertEqual((error as? ZooKeeperError)?.code, .badArguments, bad)
            }
        }
    }

    func testPathValidation() throws {
        for good in ["/", "/a", "/a/b.c", "/a/..b"] { XCTAssertNoThrow(try validatePath(good), good) }
        XCTAssertNoThrow(try validatePath("/a/", isSequential: true))
        for bad in ["", "a", "/a/", "/a//b", "/a/./b", "/a/..", "/a\u{0}b", "/a\u{1}"] {
            XCTAssertThrowsError(try validatePath(bad), bad)
        }
    }
}
