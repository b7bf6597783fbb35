import WarrenJute
import WarrenTree
import WarrenZab
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// `reconfig` through three in-memory server cores: ZooKeeper's checks in its order, the reply, activation on
/// every member, and `/zookeeper/config`.
final class EnsembleReconfigTests: XCTestCase {
    private func ensemble(reconfigEnabled: Bool = true) throws -> MiniEnsemble {
        let e = try MiniEnsemble { config in
            config.reconfigEnabled = reconfigEnabled
            config.superDigest = ACLRules.digestId(user: "super", password: "pw")
            for i in config.peers.indices { config.peers[i].clientPort = 2180 + Int(config.peers[i].id) }
        }
        for _ in 0..<30 where Set(e.modes.values) != ["leader", "follower"] { e.tick() }
        XCTAssertEqual(e.modes.values.sorted(), ["follower", "follower", "leader"])
        return e
    }

    private func superConnection(_ e: MiniEnsemble, on id: ServerId, conn: UInt64) -> UInt64 {
        let (c, _) = e.connect(id, conn: conn)
        let auth = e.request(id, conn: c, xid: Xid.auth, .auth(AuthPacket(scheme: "digest", auth: Array("super:pw".utf8))))
        XCTAssertEqual(auth.map(\.0.err), [0])
        return c
    }

    private func reconfig(joining: String? = nil, leaving: String? = nil, members: String? = nil, from: Int64 = -1) -> Request {
        .reconfig(ReconfigRequest(joiningServers: joining, leavingServers: leaving, newMembers: members, curConfigId: from))
    }

    func testTheChecksComeInZooKeepersOrder() throws {
        let disabled = try ensemble(reconfigEnabled: false)
        let (plain, _) = disabled.connect(1, conn: 1)
        XCTAssertEqual(disabled.request(1, conn: plain, xid: 1, reconfig(leaving: "2")).map(\.0.err), [ErrorCode.reconfigDisabled.rawValue])

        let e = try ensemble()
        let (anyone, _) = e.connect(1, conn: 1)
        XCTAssertEqual(e.request(1, conn: anyone, xid: 1, reconfig(leaving: "2")).map(\.0.err), [ErrorCode.noAuth.rawValue])
        let admin = superConnection(e, on: 1, conn: 2)
        for (xid, bad) in [reconfig(leaving: "9"), reconfig(joining: "server.4=h", leaving: nil), reconfig(), reconfig(leaving: "x"),
                           reconfig(joining: "server.2=127.0.0.1:0:0:participant", leaving: "2")].enumerated() {
            XCTAssertEqual(e.request(1, conn: admin, xid: Int32(10 + xid), bad).map(\.0.err), [ErrorCode.badArguments.rawValue], "\(bad)")
        }
        XCTAssertEqual(e.request(1, conn: admin, xid: 20, reconfig(leaving: "2", from: 5)).map(\.0.err), [ErrorCode.badVersion.rawValue])
        // Server 4 is not connected to the leader: a membership of {1, 2, 3, 4, 5} would have 3 synced voters of 5
        // (a quorum), one of {1, 4, 5} only 1 of 3.
        XCTAssertEqual(e.request(1, conn: admin, xid: 21, reconfig(members: "server.1=127.0.0.1:0:0,server.4=127.0.0.1:1:1,server.5=127.0.0.1:2:2")).map(\.0.err),
                       [ErrorCode.newConfigNoQuorum.rawValue])
        XCTAssertEqual(e.membershipChanges.mapValues { $0.map(\.version) }, [1: [1 << 32], 2: [1 << 32], 3: [1 << 32]],
                       "only the versioning of zoo.cfg's membership when the first leadership began")
        let direct = Request.setData(SetDataRequest(path: "/zookeeper/config", data: Array("server.1=h:1:2".utf8), version: -1))
        XCTAssertEqual(e.request(1, conn: admin, xid: 22, direct).map(\.0.err), [ErrorCode.badArguments.rawValue],
                       "the membership changes only through reconfig")
    }

    func testRemovingAFollowerAnswersTheNewConfigAndEveryMemberActivatesIt() throws {
        let e = try ensemble()
        let admin = superConnection(e, on: 1, conn: 1)
        XCTAssertEqual(e.cores[2]!.configNodeData.map { String(decoding: $0, as: UTF8.self) },
                       "server.1=127.0.0.1:0:0:participant;0.0.0.0:2181\nserver.2=127.0.0.1:0:0:participant;0.0.0.0:2182\nserver.3=127.0.0.1:0:0:participant;0.0.0.0:2183\nversion=100000000")
        let replies = e.request(1, conn: admin, xid: 1, reconfig(leaving: "2", from: 1 << 32))
        XCTAssertEqual(replies.map(\.0.err), [0])
        var r = JuteReader(replies[0].1)
        let header = try r.read(ReplyHeader.self)
        let body = try GetDataResponse(from: &r)
        let text = String(decoding: body.data ?? [], as: UTF8.self)
        XCTAssertEqual(text, "server.1=127.0.0.1:0:0:participant;0.0.0.0:2181\nserver.3=127.0.0.1:0:0:participant;0.0.0.0:2183\nversion=\(String(header.zxid, radix: 16))")
        XCTAssertEqual(body.stat.mzxid, header.zxid)
        XCTAssertEqual(body.stat.version, 1)
        for id in [1, 2, 3] as [ServerId] {
            XCTAssertEqual(e.membershipChanges[id]?.last?.members, [1: .participant, 3: .participant], "server \(id)")
            XCTAssertEqual(e.cores[id]!.ensemble!.zab.config.members, [1: .participant, 3: .participant])
            XCTAssertEqual(try e.cores[id]!.tree.getData("/zookeeper/config", ctx: SessionContext(sessionId: 0)).get().data, body.data)
        }
        // The next one is checked against the new version, and a second change works.
        XCTAssertEqual(e.request(1, conn: admin, xid: 2, reconfig(joining: "server.2=127.0.0.1:0:0:participant", from: 1 << 32)).map(\.0.err),
                       [ErrorCode.badVersion.rawValue])
        XCTAssertEqual(e.request(1, conn: admin, xid: 3, reconfig(joining: "server.2=127.0.0.1:0:0:participant", from: header.zxid)).map(\.0.err), [0])
        XCTAssertEqual(e.cores[3]!.ensemble!.zab.config.members, [1: .participant, 2: .participant, 3: .participant])
    }
}
