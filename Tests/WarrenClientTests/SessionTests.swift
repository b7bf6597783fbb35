import WarrenClient
import WarrenJute
import XCTest

/// Authentication, reconnects that keep the session, expiry and close.
final class SessionTests: ClientTestCase {
    /// "alice:pw" in ZooKeeper's digest form.
    let aliceDigest = "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="

    func testDigestAuthAndACL() async throws {
        let alice = try await connect()
        try await alice.addAuth(scheme: "digest", auth: "alice:pw".bytes)
        try await alice.create(path("creator"), data: "secret".bytes, acl: ACL.creatorAll)
        let (acl, _) = try await alice.getACL(path("creator"))
        XCTAssertEqual(acl, [ACL(perms: .all, id: Id(scheme: "digest", id: aliceDigest))])
        try await alice.create(path("explicit"), acl: [
            ACL(perms: .read, id: .anyoneUnsafe), ACL(perms: .all, id: Id(scheme: "digest", id: aliceDigest)),
        ])
        let who = try await alice.whoAmI()
        XCTAssertTrue(who.contains(ClientInfo(authScheme: "digest", user: "alice")), "\(who)")

        let stranger = try await connect()
        await assertZooKeeperError(.noAuth, path: path("creator")) { try await stranger.getData(self.path("creator")) }
        let readable = try await stranger.getData(path("explicit")).data
        XCTAssertEqual(readable, [])
        await assertZooKeeperError(.noAuth) { try await stranger.setData(self.path("explicit"), data: [1]) }
        try await stranger.addAuth(scheme: "digest", auth: "alice:wrong".bytes)
        await assertZooKeeperError(.noAuth) { try await stranger.getData(self.path("creator")) }

        let again = try await connect()
        try await again.addAuth(scheme: "digest", auth: "alice:pw".bytes)
        let data = try await again.getData(path("creator")).data
        XCTAssertEqual(data, "secret".bytes)

        let superUser = try await connect()
        try await superUser.addAuth(scheme: "digest", auth: "super:supersecret".bytes)
        let bySuper = try await superUser.getData(path("creator")).data
        XCTAssertEqual(bySuper, "secret".bytes)
    }

    func testUnknownAuthSchemeStopsTheClient() async throws {
        let client = try await connect()
        let events = Recorder(client.sessionEvents())
        await assertZooKeeperError(.authFailed) {
            try await client.addAuth(scheme: "no-such-scheme", auth: "x".bytes)
        }
        let event = await next(events)
        XCTAssertEqual(event, .authFailed)
        XCTAssertEqual(client.state, .authFailed)
        await assertZooKeeperError(.authFailed) { try await client.exists("/") }
    }

    func testReconnectKeepsSessionAuthAndWatches() async throws {
        let proxy = try TCPProxy(targetPort: try server.port)
        defer { proxy.stop() }
        let client = try await connect(sessionTimeoutMs: 8000, connectString: proxy.connectString)
        let writer = try await connect()
        try await client.addAuth(scheme: "digest", auth: "alice:pw".bytes)
        try await client.create(path("private"), data: "p".bytes, acl: ACL.creatorAll)
        try await client.create(path("eph"), mode: .ephemeral)
        try await client.create(path("watched"))
        try await client.create(path("persistent"))
        let sessionId = client.sessionId
        let watchEvents = Recorder(client.watchEvents())
        let sessionEvents = Recorder(client.sessionEvents())
        _ = try await client.getData(path("watched"), watch: true)
        try await client.addWatch(path("persistent"), mode: .persistent)

        proxy.setRefusing(true)
        proxy.cutConnections()
        let lost = await next(sessionEvents)
        XCTAssertEqual(lost, .disconnected)
        XCTAssertEqual(client.state, .connecting)
        await assertZooKeeperError(.connectionLoss) { try await client.exists(self.path("eph")) }
        // Changes made while the client is away must still fire its watches once it is back.
        try await writer.setData(path("watched"), data: "changed".bytes)
        try await writer.setData(path("persistent"), data: "changed".bytes)
        proxy.setRefusing(false)

        let back = await next(sessionEvents)
        XCTAssertEqual(back, .connected(readOnly: false))
        XCTAssertEqual(client.sessionId, sessionId)
        // The one-shot watch catches up on the change it missed (setWatches carries the last zxid seen); a
        // persistent watch is only re-registered, as ZooKeeper does not replay changes for those.
        let fired = await next(watchEvents)
        XCTAssertEqual(fired, WatchEvent(type: .nodeDataChanged, state: .syncConnected, path: path("watched")))
        let eph = try await writer.exists(path("eph"))
        XCTAssertEqual(eph?.ephemeralOwner, sessionId)
        let secret = try await client.getData(path("private")).data
        XCTAssertEqual(secret, "p".bytes, "credentials were re-sent")
        // The persistent watch is still registered on the server.
        try await writer.setData(path("persistent"), data: "again".bytes)
        let again = await next(watchEvents)
        XCTAssertEqual(again, WatchEvent(type: .nodeDataChanged, state: .syncConnected, path: path("persistent")))
    }

    func testDropConnectionReconnectsToAnotherHost() async throws {
        let proxyA = try TCPProxy(targetPort: try server.port)
        let proxyB = try TCPProxy(targetPort: try server.port)
        defer { proxyA.stop(); proxyB.stop() }
        let client = try await connect(connectString: "\(proxyA.connectString),\(proxyB.connectString)")
        let first = try XCTUnwrap(client.connectedHost)
        let events = Recorder(client.sessionEvents())
        client.dropConnection()
        let lost = await next(events)
        XCTAssertEqual(lost, .disconnected)
        let back = await next(events)
        XCTAssertEqual(back, .connected(readOnly: false))
        let second = try XCTUnwrap(client.connectedHost)
        XCTAssertNotEqual(first, second, "the next host of the list is tried first")
        let stat = try await client.exists(root)
        XCTAssertNotNil(stat)
    }

    func testDeadHostInListIsSkipped() async throws {
        let dead = try freePort()
        for _ in 0..<3 {
            let client = try await connect(connectString: "127.0.0.1:\(dead),\(try server.connectString)")
            XCTAssertEqual(client.connectedHost?.port, try server.port)
            await client.close()
        }
    }

    func testSessionExpiryIsReportedAndStopsTheClient() async throws {
        let proxy = try TCPProxy(targetPort: try server.port)
        defer { proxy.stop() }
        let client = try await connect(sessionTimeoutMs: 1000, connectString: proxy.connectString)
        XCTAssertEqual(client.negotiatedTimeoutMs, 1000)
        try await client.create(path("eph"), mode: .ephemeral)
        let events = Recorder(client.sessionEvents())
        let watches = Recorder(client.watchEvents())
        proxy.setRefusing(true)
        proxy.cutConnections()
        let lost = await next(events)
        XCTAssertEqual(lost, .disconnected)
        // Long enough for the server to expire the session (timeout plus a few ticks).
        let observer = try await connect()
        for _ in 0..<50 {
            if try await observer.exists(path("eph")) == nil { break }
            try await Task.sleep(nanoseconds: 100_000_000)
        }
        proxy.setRefusing(false)
        let expired = await next(events)
        XCTAssertEqual(expired, .expired)
        XCTAssertEqual(client.state, .expired)
        let ended = await next(events, within: 2)
        XCTAssertNil(ended, "the session stream ends after expiry")
        let watchEnded = await next(watches, within: 2)
        XCTAssertNil(watchEnded, "watch streams end too")
        await assertZooKeeperError(.sessionExpired) { try await client.exists("/") }
        let late = Recorder(client.sessionEvents())
        let replay = await next(late)
        XCTAssertEqual(replay, .expired, "a late subscriber learns the terminal state")
    }

    func testServerRestartKeepsSession() async throws {
        let own = try TestServer()
        try own.start()
        defer { own.stop() }
        // ZooKeeper 3.8 accepts connections before its database is loaded and, failing with a NullPointerException
        // while closing such a connection, can leave it open and unanswered; with one host the client would wait
        // sessionTimeout / hosts (15 s) for that handshake, and ZooKeeper expires the session meanwhile.
        let client = try await connect(sessionTimeoutMs: 15_000, connectString: own.connectString,
                                       connectAttemptTimeoutMs: 2_000)
        try await client.create("/restart-\(root.dropFirst())", mode: .ephemeral)
        let sessionId = client.sessionId
        let events = Recorder(client.sessionEvents())
        try own.restart()
        let lost = await next(events)
        XCTAssertEqual(lost, .disconnected)
        let back = await next(events, within: 20)
        XCTAssertEqual(back, .connected(readOnly: false))
        XCTAssertEqual(client.sessionId, sessionId)
        let stat = try await client.exists("/restart-\(root.dropFirst())")
        XCTAssertEqual(stat?.ephemeralOwner, sessionId)
        await client.close()
    }

    func testCloseEndsSessionAndFailsLaterRequests() async throws {
        let client = try await connect()
        let observer = try await connect()
        try await client.create(path("eph"), mode: .ephemeral)
        let events = Recorder(client.sessionEvents())
        await client.close()
        let closed = await next(events)
        XCTAssertEqual(closed, .closed)
        XCTAssertEqual(client.state, .closed)
        let eph = try await observer.exists(path("eph"))
        XCTAssertNil(eph, "closing ends the session at once")
        await assertZooKeeperError(.sessionExpired) { try await client.getData(self.root) }
        await client.close()
    }

    func testConnectFailsWhenNoServerAnswers() async throws {
        let dead = try freePort()
        let config = ZooKeeperClient.Configuration(sessionTimeoutMs: 2000, initialConnectTimeoutMs: 500)
        let started = Date()
        await assertZooKeeperError(.connectionLoss) {
            try await ZooKeeperClient.connect("127.0.0.1:\(dead)", configuration: config)
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }
}
