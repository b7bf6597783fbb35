import WarrenClient
import WarrenJute
import XCTest

/// Every znode operation against a real server.
final class OperationTests: ClientTestCase {
    func testHandshakeGivesSessionAndTimeout() async throws {
        let client = try await connect(sessionTimeoutMs: 4000)
        XCTAssertNotEqual(client.sessionId, 0)
        XCTAssertEqual(client.sessionPassword.count, 16)
        XCTAssertEqual(client.negotiatedTimeoutMs, 4000)
        XCTAssertEqual(client.state, .connected)
        XCTAssertEqual(client.connectedHost?.port, try server.port)
        let other = try await connect()
        XCTAssertNotEqual(other.sessionId, client.sessionId)
    }

    func testCreateGetSetDelete() async throws {
        let client = try await connect()
        let p = path("a")
        let created = try await client.create(p, data: "one".bytes)
        XCTAssertEqual(created, p)
        let (data, stat) = try await client.getData(p)
        XCTAssertEqual(data, "one".bytes)
        XCTAssertEqual(stat.version, 0)
        XCTAssertEqual(stat.dataLength, 3)
        XCTAssertEqual(stat.czxid, stat.mzxid)

        let newStat = try await client.setData(p, data: "two!".bytes, version: 0)
        XCTAssertEqual(newStat.version, 1)
        XCTAssertEqual(newStat.dataLength, 4)
        XCTAssertGreaterThan(newStat.mzxid, stat.mzxid)
        await assertZooKeeperError(.badVersion, path: p) { try await client.setData(p, data: [], version: 0) }

        await assertZooKeeperError(.badVersion, path: p) { try await client.delete(p, version: 0) }
        try await client.delete(p, version: 1)
        let gone = try await client.exists(p)
        XCTAssertNil(gone)
        await assertZooKeeperError(.noNode, path: p) { try await client.getData(p) }
        await assertZooKeeperError(.noNode, path: p) { try await client.delete(p) }
    }

    func testCreateErrors() async throws {
        let client = try await connect()
        try await client.create(path("x"))
        await assertZooKeeperError(.nodeExists, path: path("x")) { try await client.create(path("x")) }
        await assertZooKeeperError(.noNode) { try await client.create(path("missing/child")) }
        await assertZooKeeperError(.badArguments) { try await client.create("no-slash") }
        await assertZooKeeperError(.badArguments) { try await client.create(path("trailing/")) }
        await assertZooKeeperError(.badArguments) { try await client.create(path("a//b")) }
        try await client.create(path("x/child"))
        await assertZooKeeperError(.notEmpty, path: path("x")) { try await client.delete(path("x")) }
    }

    func testNullAndEmptyDataAreDistinct() async throws {
        let client = try await connect()
        try await client.create(path("null"), data: nil)
        try await client.create(path("empty"), data: [])
        let null = try await client.getData(path("null")).data
        let empty = try await client.getData(path("empty")).data
        XCTAssertNil(null)
        XCTAssertEqual(empty, [])
    }

    func testCreateModes() async throws {
        let client = try await connect()
        let seq1 = try await client.create(path("s-"), mode: .persistentSequential)
        let seq2 = try await client.create(path("s-"), mode: .persistentSequential)
        XCTAssertEqual(seq1, path("s-0000000000"))
        XCTAssertEqual(seq2, path("s-0000000001"))

        let (eph, ephStat) = try await client.createWithStat(path("e"), mode: .ephemeral)
        XCTAssertEqual(eph, path("e"))
        XCTAssertEqual(ephStat.ephemeralOwner, client.sessionId)
        let ephSeq = try await client.create(path("es-"), mode: .ephemeralSequential)
        XCTAssertTrue(ephSeq.hasPrefix(path("es-")))
        XCTAssertEqual(ephSeq.count, path("es-").count + 10)
        await assertZooKeeperError(.noChildrenForEphemerals) { try await client.create(path("e/kid")) }

        let (container, containerStat) = try await client.createWithStat(path("c"), mode: .container)
        XCTAssertEqual(container, path("c"))
        XCTAssertEqual(containerStat.version, 0)
        let exists = try await client.exists(path("c"))
        XCTAssertNotNil(exists)

        let (ttl, ttlStat) = try await client.createWithStat(path("t"), mode: .persistentWithTTL, ttl: 60_000)
        XCTAssertEqual(ttl, path("t"))
        XCTAssertEqual(ttlStat.version, 0)
        let ttlSeq = try await client.create(path("ts-"), mode: .persistentSequentialWithTTL, ttl: 60_000)
        XCTAssertTrue(ttlSeq.hasPrefix(path("ts-")))
        await assertZooKeeperError(.badArguments) { try await client.create(path("t2"), mode: .persistentWithTTL) }

        // Ephemerals vanish with their session.
        let observer = try await connect()
        await client.close()
        let after = try await observer.exists(path("e"))
        XCTAssertNil(after)
        XCTAssertEqual(client.state, .closed)
    }

    func testChildrenAndCounts() async throws {
        let client = try await connect()
        for name in ["b", "a", "c"] { try await client.create(path(name)) }
        try await client.create(path("a/x"))
        try await client.create(path("a/x/y"))
        let children = try await client.getChildren(root)
        XCTAssertEqual(children.sorted(), ["a", "b", "c"])
        let (children2, stat) = try await client.getChildrenWithStat(root)
        XCTAssertEqual(children2.sorted(), ["a", "b", "c"])
        XCTAssertEqual(stat.numChildren, 3)
        let total = try await client.getAllChildrenNumber(root)
        XCTAssertEqual(total, 5)
        await assertZooKeeperError(.noNode) { try await client.getChildren(path("nope")) }
    }

    func testExistsStat() async throws {
        let client = try await connect()
        let missing = try await client.exists(path("n"))
        XCTAssertNil(missing)
        let (_, created) = try await client.createWithStat(path("n"), data: "abc".bytes)
        let stat = try await client.exists(path("n"))
        XCTAssertEqual(stat, created)
        XCTAssertEqual(stat?.dataLength, 3)
    }

    func testACLs() async throws {
        let client = try await connect()
        try await client.create(path("acl"))
        let (acl, stat) = try await client.getACL(path("acl"))
        XCTAssertEqual(acl, ACL.openUnsafe)
        XCTAssertEqual(stat.aversion, 0)
        await assertZooKeeperError(.badVersion) { try await client.setACL(path("acl"), acl: ACL.openUnsafe, version: 3) }
        let readOnly = [ACL(perms: .read, id: .anyoneUnsafe)]
        let newStat = try await client.setACL(path("acl"), acl: readOnly, version: 0)
        XCTAssertEqual(newStat.aversion, 1)
        let (updated, _) = try await client.getACL(path("acl"))
        XCTAssertEqual(updated, readOnly)
        await assertZooKeeperError(.noAuth, path: path("acl")) { try await client.setData(path("acl"), data: []) }
        await assertZooKeeperError(.noAuth) { try await client.setACL(path("acl"), acl: ACL.openUnsafe) }
        await assertZooKeeperError(.invalidACL) { try await client.create(path("bad"), acl: []) }
    }

    func testSyncCheckAndEphemerals() async throws {
        let client = try await connect()
        let synced = try await client.sync(root)
        XCTAssertEqual(synced, root)
        try await client.create(path("v"))
        try await client.check(path("v"), version: 0)
        await assertZooKeeperError(.badVersion) { try await client.check(path("v"), version: 3) }

        try await client.create(path("e1"), mode: .ephemeral)
        try await client.create(path("v/e2"), mode: .ephemeral)
        let other = try await connect()
        try await other.create(path("theirs"), mode: .ephemeral)
        let mine = try await client.getEphemerals(root)
        XCTAssertEqual(Set(mine), [path("e1"), path("v/e2")])
        let prefixed = try await client.getEphemerals(path("v"))
        XCTAssertEqual(prefixed, [path("v/e2")])
        let theirs = try await other.getEphemerals(root)
        XCTAssertEqual(theirs, [path("theirs")])
    }

    func testWhoAmI() async throws {
        let client = try await connect()
        do {
            let info = try await client.whoAmI()
            XCTAssertTrue(info.contains { $0.authScheme == "ip" }, "\(info)")
        } catch let error as ZooKeeperError where error.code == .unimplemented {
            // ZooKeeper 3.8 predates whoAmI (3.9); the point is that the client survives the answer.
            let stat = try await client.exists(root)
            XCTAssertNotNil(stat)
        }
    }

    func testPipelinedRequestsAnswerInOrder() async throws {
        let client = try await connect()
        let count = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                let p = path("n\(i)")
                group.addTask { try await client.create(p, data: Array("\(i)".utf8)) }
            }
            try await group.waitForAll()
        }
        let results = try await withThrowingTaskGroup(of: (Int, [UInt8]?).self) { group in
            for i in 0..<count {
                let p = path("n\(i)")
                group.addTask { (i, try await client.getData(p).data) }
            }
            var out: [Int: [UInt8]?] = [:]
            for try await (i, data) in group { out[i] = data }
            return out
        }
        for i in 0..<count { XCTAssertEqual(results[i] ?? nil, Array("\(i)".utf8)) }
    }

    func testBackpressureBoundsOutstandingRequests() async throws {
        let config = ZooKeeperClient.Configuration(sessionTimeoutMs: 10_000, outstandingRequestsMax: 3)
        let client = try await ZooKeeperClient.connect(try server.connectString, configuration: config)
        defer { Task { await client.close() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<50 {
                let p = path("bp\(i)")
                group.addTask { try await client.create(p) }
            }
            try await group.waitForAll()
        }
        let children = try await client.getChildren(root)
        XCTAssertEqual(children.count, 50)
        await client.close()
    }

    func testOversizedReplyDropsConnectionNotSession() async throws {
        let writer = try await connect()
        try await writer.create(path("big"), data: Array(repeating: 7, count: 4000))
        let config = ZooKeeperClient.Configuration(sessionTimeoutMs: 10_000, frameBytesMax: 2000)
        let client = try await ZooKeeperClient.connect(try server.connectString, configuration: config)
        let events = Recorder(client.sessionEvents())
        await assertZooKeeperError(.connectionLoss) { try await client.getData(self.path("big")) }
        let first = await next(events)
        XCTAssertEqual(first, .disconnected)
        let second = await next(events)
        XCTAssertEqual(second, .connected(readOnly: false))
        let stat = try await client.exists(path("big"))
        XCTAssertEqual(stat?.dataLength, 4000)
        await client.close()
    }
}
