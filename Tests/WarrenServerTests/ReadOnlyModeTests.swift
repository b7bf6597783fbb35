import WarrenJute
import WarrenTree
import WarrenZab
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Read-only mode on the pure core: a `MiniEnsemble` member cut off from both peers.
final class ReadOnlyModeTests: XCTestCase {
    private func ensemble(readOnlyMode: Bool = true) throws -> MiniEnsemble {
        let e = try MiniEnsemble(readOnlyMode: readOnlyMode)
        for _ in 0..<30 where e.modes.values.sorted() != ["follower", "follower", "leader"] { e.tick() }
        XCTAssertEqual(e.modes.values.sorted(), ["follower", "follower", "leader"])
        return e
    }

    /// Zab and core ticks at 50 ms for `ms`.
    private func run(_ e: MiniEnsemble, ms: Int64) {
        let end = e.nowMs + ms
        while e.nowMs < end {
            e.now.advance(byMs: 50)
            for id in e.cores.keys.sorted() {
                e.perform(id, e.cores[id]!.onZabTick(now: e.now))
                e.perform(id, e.cores[id]!.onTick(now: e.now))
            }
            e.settle()
        }
    }

    private func cutOff(_ e: MiniEnsemble, _ id: ServerId) {
        e.isolated = [id]
        for peer in e.cores.keys where peer != id {
            e.perform(id, e.cores[id]!.onPeerDisconnected(peer, now: e.now))
            e.perform(peer, e.cores[peer]!.onPeerDisconnected(id, now: e.now))
        }
        e.settle()
    }

    /// Sends a handshake on a new connection; returns the ConnectResponse if one was sent.
    private func handshake(_ e: MiniEnsemble, _ id: ServerId, conn: UInt64, readOnly: Bool?, sessionId: Int64 = 0,
                           passwd: [UInt8] = [UInt8](repeating: 0, count: 16)) -> ConnectResponse? {
        e.cores[id]!.onOpened(conn, remote: "/127.0.0.1:\(40000 + conn)", ip: "127.0.0.1", now: e.now)
        let request = ConnectRequest(lastZxidSeen: 0, timeOut: 4000, sessionId: sessionId, passwd: passwd,
                                     readOnly: readOnly)
        e.perform(id, e.cores[id]!.onPacket(conn, request.juteBytes(), now: e.now))
        e.settle()
        guard let packet = e.takeSent(id).first(where: { $0.0 == conn }) else { return nil }
        var r = JuteReader(packet.1)
        return try? ConnectResponse(from: &r)
    }

    func testCutOffMemberServesReadOnlyClientsAfterTheGraceAndClosesThemWhenItRejoins() throws {
        let e = try ensemble()
        let (writer, _) = e.connect(1, conn: 1)
        XCTAssertEqual(e.request(1, conn: writer, xid: 1,
                                 .create(CreateRequest(path: "/kept", data: [4, 2], acl: ACL.openUnsafe, flags: 0))).map(\.0.err), [0])
        cutOff(e, 1)
        XCTAssertEqual(e.modes[1], "looking")
        XCTAssertEqual(e.cores[1]!.fourLetterWordText("isro"), "null", "ZooKeeper's answer while serving nothing")
        run(e, ms: 1500)
        XCTAssertFalse(e.cores[1]!.isReadOnly, "not before max(2 s, tickTime) of looking")
        // A read-only-capable client that arrives during the grace is held, then answered read-only.
        XCTAssertNil(handshake(e, 1, conn: 5, readOnly: true))
        run(e, ms: 600)
        XCTAssertTrue(e.cores[1]!.isReadOnly)
        XCTAssertEqual(e.modes[1], "read-only")
        XCTAssertEqual(e.cores[1]!.fourLetterWordText("isro"), "ro")
        XCTAssertTrue(e.cores[1]!.fourLetterWordText("srvr").contains("Mode: read-only"))

        e.closed = [:]
        XCTAssertNil(handshake(e, 1, conn: 6, readOnly: false), "a client that does not allow read-only is refused")
        XCTAssertNil(handshake(e, 1, conn: 7, readOnly: nil), "as is one too old to say")
        XCTAssertEqual(e.closed[1], [6, 7])

        let response = try XCTUnwrap(handshake(e, 1, conn: 8, readOnly: true))
        XCTAssertEqual(response.readOnly, true)
        XCTAssertNotEqual(response.sessionId, 0)
        XCTAssertEqual(response.timeOut, 4000)
        let roSession = response.sessionId
        XCTAssertTrue(e.cores[1]!.ensemble!.readOnlySessions.contains(roSession))
        XCTAssertNil(e.cores[1]!.tree.sessions[roSession], "a local session: no transaction")

        let read = e.request(1, conn: 8, xid: 1, .getData(GetDataRequest(path: "/kept", watch: false)))
        XCTAssertEqual(read.map(\.0.err), [0])
        let refused: [Request] = [
            .create(CreateRequest(path: "/new", data: nil, acl: ACL.openUnsafe, flags: 0)),
            .setData(SetDataRequest(path: "/kept", data: [], version: -1)),
            .delete(DeleteRequest(path: "/kept", version: -1)),
            .sync(SyncRequest(path: "/")),
            .check(CheckVersionRequest(path: "/kept", version: 0)),
            .multi([]),
        ]
        for (n, request) in refused.enumerated() {
            let reply = e.request(1, conn: 8, xid: Int32(10 + n), request)
            XCTAssertEqual(reply.map(\.0.err), [ErrorCode.notReadOnly.rawValue], "\(request)")
            XCTAssertEqual(reply.map(\.0.xid), [Int32(10 + n)])
        }
        XCTAssertNil(e.cores[1]!.tree.exists("/new"))
        XCTAssertNotNil(e.cores[1]!.tree.exists("/kept"))
        XCTAssertEqual(e.request(1, conn: 8, xid: 20, .exists(ExistsRequest(path: "/kept", watch: true))).map(\.0.err), [0])

        // Resuming the read-only session on another connection works while read-only.
        let resumed = try XCTUnwrap(handshake(e, 1, conn: 9, readOnly: true, sessionId: roSession,
                                              passwd: response.passwd))
        XCTAssertEqual(resumed.sessionId, roSession)
        XCTAssertEqual(resumed.readOnly, true)

        // Heal: the member rejoins, closes every client and forgets its local sessions.
        e.closed = [:]
        e.isolated = []
        run(e, ms: 3000)
        XCTAssertEqual(e.modes.values.sorted(), ["follower", "follower", "leader"], "modes \(e.modes)")
        XCTAssertFalse(e.cores[1]!.isReadOnly)
        XCTAssertEqual(e.cores[1]!.fourLetterWordText("isro"), "rw")
        XCTAssertTrue(Set(e.closed[1] ?? []).isSuperset(of: [5, 9]), "closed \(e.closed)")
        XCTAssertTrue(e.cores[1]!.ensemble!.readOnlySessions.isEmpty)
        XCTAssertFalse(e.cores[1]!.sessions.isTracked(roSession))
        // The read-only session is unknown once read-write: the client is told it expired and starts a new one.
        let expired = try XCTUnwrap(handshake(e, 1, conn: 20, readOnly: true, sessionId: roSession,
                                              passwd: response.passwd))
        XCTAssertEqual(expired.timeOut, 0)
        let fresh = try XCTUnwrap(handshake(e, 1, conn: 21, readOnly: true))
        XCTAssertEqual(fresh.readOnly, false)
        XCTAssertNotEqual(fresh.sessionId, 0)
    }

    func testWithoutTheSettingACutOffMemberNeverGoesReadOnly() throws {
        let e = try ensemble(readOnlyMode: false)
        cutOff(e, 1)
        run(e, ms: 3000)
        XCTAssertFalse(e.cores[1]!.isReadOnly)
        XCTAssertEqual(e.modes[1], "looking")
        e.closed = [:]
        XCTAssertNil(handshake(e, 1, conn: 5, readOnly: true))
        run(e, ms: 1100)
        XCTAssertEqual(e.closed[1], [5], "held, then refused as before")
    }

    func testACutOffObserverGoesReadOnlyAndBackToObserving() throws {
        let e = try MiniEnsemble(size: 4, observers: [4], readOnlyMode: true)
        for _ in 0..<30 where e.modes.values.sorted() != ["follower", "follower", "leader", "observer"] { e.tick() }
        XCTAssertEqual(e.modes[4], "observer")
        cutOff(e, 4)
        run(e, ms: 2100)
        XCTAssertEqual(e.modes[4], "read-only")
        XCTAssertEqual(e.modes.values.filter { $0 == "leader" }.count, 1, "the voters never noticed: \(e.modes)")
        XCTAssertEqual(try XCTUnwrap(handshake(e, 4, conn: 3, readOnly: true)).readOnly, true)
        e.closed = [:]
        e.isolated = []
        run(e, ms: 3000)
        XCTAssertEqual(e.modes[4], "observer")
        XCTAssertEqual(e.closed[4], [3])
    }
}
