import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Error replies: an error header with no body, in order, and which faults cost the connection. A write that fails
/// is an error txn, as in ZooKeeper: it takes the next zxid, is logged, and its reply carries that zxid.
final class ErrorReplyTests: XCTestCase {
    private var d: CoreDriver!
    private var a: UInt64 = 0

    override func setUpWithError() throws {
        d = try CoreDriver()
        a = try d.connectNewSession().conn
        _ = d.write(a, xid: 100, .create("/x"))  // zxid 2
    }

    func testCreateOnAnExistingNodeIsNodeExistsWithNoBody() throws {
        XCTAssertEqual(d.events(d.core.onPacket(a, Request.create("/x").packet(xid: 1), now: d.now)), [.persist([3])])
        let captured = d.core.onDurable(upTo: 3, now: d.now)
        XCTAssertEqual(d.events(captured), [.error(a, xid: 1, zxid: 3, .nodeExists)])
        guard case let .send(_, bytes)? = captured.first else { return XCTFail("\(captured)") }
        XCTAssertEqual(bytes.count, 16, "xid, zxid and err only: ZooKeeper sends no body after an error")
    }

    func testDeleteWithChildrenAndBadVersionAreRefusedAsErrorTransactions() throws {
        _ = d.write(a, xid: 101, .create("/x/c"))  // zxid 3
        XCTAssertEqual(d.write(a, xid: 1, .delete("/x")), [.persist([4]), .error(a, xid: 1, zxid: 4, .notEmpty)])
        XCTAssertEqual(d.write(a, xid: 2, .delete("/x/c", version: 5)), [.persist([5]), .error(a, xid: 2, zxid: 5, .badVersion)])
        XCTAssertEqual(d.write(a, xid: 3, .setData("/nope", "v")), [.persist([6]), .error(a, xid: 3, zxid: 6, .noNode)])
        XCTAssertEqual(d.persistedZxids, [1, 2, 3, 4, 5, 6], "refused writes are logged as error txns")
        XCTAssertEqual(d.send(a, xid: 4, .exists("/x/c")).first?.replyHeader, ReplyHeader(xid: 4, zxid: 6, error: .ok))
    }

    func testUnknownOpcodeIsUnimplementedThenClose() throws {
        var w = JuteWriter()
        w.write(RequestHeader(xid: 1, type: 77))
        XCTAssertEqual(d.sendRaw(a, w.bytes), [.error(a, xid: 1, zxid: 2, .unimplemented), .close(a)])
        XCTAssertEqual(d.send(a, xid: 2, .exists("/x")), [], "nothing more is served on that connection")
    }

    func testServerOnlyOpcodesAreUnknownToo() throws {
        var w = JuteWriter()
        w.write(RequestHeader(xid: 1, opCode: .createSession))
        XCTAssertEqual(d.sendRaw(a, w.bytes), [.error(a, xid: 1, zxid: 2, .unimplemented), .close(a)])
    }

    func testTruncatedHeaderCloses() throws {
        XCTAssertEqual(d.sendRaw(a, [0, 0, 0, 1, 0, 0]), [.close(a)])
    }

    func testMalformedBodyIsMarshallingErrorAndTheConnectionStays() throws {
        var w = JuteWriter()
        w.write(RequestHeader(xid: 1, opCode: .getData))
        w.writeInt(1000)  // a path length larger than the packet
        XCTAssertEqual(d.sendRaw(a, w.bytes), [.error(a, xid: 1, zxid: 2, .marshallingError)])
        XCTAssertEqual(d.send(a, xid: 2, .exists("/x")).first?.replyHeader, ReplyHeader(xid: 2, zxid: 2, error: .ok))
    }

    func testMultiWithAFailingOpIsOkWithPerOpResults() throws {
        let ops: [MultiOp] = [
            .create(CreateRequest(path: "/m", data: [], acl: ACL.openUnsafe, mode: .persistent)),
            .create(CreateRequest(path: "/x", data: [], acl: ACL.openUnsafe, mode: .persistent)),
            .delete(DeleteRequest(path: "/x", version: -1)),
        ]
        // A failed multi is still a transaction, as in ZooKeeper: it takes a zxid and is logged.
        XCTAssertEqual(
            d.write(a, xid: 1, .multi(ops)),
            [
                .persist([3]),
                .ok(
                    a, xid: 1, zxid: 3,
                    .multi([
                        .error(ErrorResponse(error: .ok)), .error(ErrorResponse(error: .nodeExists)),
                        .error(ErrorResponse(error: .runtimeInconsistency)),
                    ])),
            ])
        XCTAssertNil(d.core.tree.exists("/m"), "nothing of a failed multi is applied")
        XCTAssertNotNil(d.core.tree.exists("/x"))
    }

    func testSuccessfulMultiAnswersEveryOp() throws {
        let ops: [MultiOp] = [
            .check(CheckVersionRequest(path: "/x", version: 0)),
            .create(CreateRequest(path: "/x/c", data: [], acl: ACL.openUnsafe, mode: .persistent)),
            .setData(SetDataRequest(path: "/x", data: [1], version: 0)),
            .delete(DeleteRequest(path: "/x/c", version: -1)),
        ]
        let out = d.write(a, xid: 1, .multi(ops))
        guard case let .reply(_, header, .multi(results))? = out.last else { return XCTFail("\(out)") }
        XCTAssertEqual(header, ReplyHeader(xid: 1, zxid: 3, error: .ok))
        XCTAssertEqual(results.count, 4)
        XCTAssertEqual(results[0], .check)
        XCTAssertEqual(results[1], .create(CreateResponse(path: "/x/c")))
        guard case let .setData(s) = results[2] else { return XCTFail("\(results)") }
        XCTAssertEqual(s.stat.version, 1)
        XCTAssertEqual(results[3], .delete)
    }

    func testMultiMixingReadsIntoWritesIsBadArguments() throws {
        let ops: [MultiOp] = [.getData(GetDataRequest(path: "/x", watch: false))]
        XCTAssertEqual(d.send(a, xid: 1, .multi(ops)), [.error(a, xid: 1, zxid: 2, .badArguments)])
    }

    func testReconfigIsDisabled() throws {
        let request = ReconfigRequest(joiningServers: "server.2=h:1:2", leavingServers: nil, newMembers: nil, curConfigId: -1)
        XCTAssertEqual(d.write(a, xid: 1, .reconfig(request)), [.persist([3]), .error(a, xid: 1, zxid: 3, .reconfigDisabled)])
    }

    func testSaslIsUnimplementedAndTheConnectionStays() throws {
        XCTAssertEqual(d.send(a, xid: 1, .sasl(SASLToken(token: [1]))), [.error(a, xid: 1, zxid: 2, .unimplemented)])
        XCTAssertEqual(d.send(a, xid: 2, .exists("/x")).count, 1)
    }

    func testUnknownAuthSchemeIsAuthFailedThenClose() throws {
        XCTAssertEqual(
            d.send(a, xid: Xid.auth, .auth(AuthPacket(scheme: "kerberos", auth: [1]))),
            [.error(a, xid: Xid.auth, zxid: 0, .authFailed), .close(a)], "ZooKeeper's auth replies carry zxid 0")
    }

    func testDigestAuthGrantsAccessToACLProtectedNodes() throws {
        // base64(sha1("bob:secret")), computed independently.
        let acl = [ACL(perms: .all, id: Id(scheme: "digest", id: "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="))]
        XCTAssertEqual(
            d.write(a, xid: 1, .create(CreateRequest(path: "/secret", data: [1], acl: acl, mode: .persistent))).last,
            .ok(a, xid: 1, zxid: 3, .create(CreateResponse(path: "/secret"))))
        XCTAssertEqual(d.send(a, xid: 2, .getData("/secret")), [.error(a, xid: 2, zxid: 3, .noAuth)])
        XCTAssertEqual(
            d.send(a, xid: Xid.auth, .auth(AuthPacket(scheme: "digest", auth: Array("bob:secret".utf8)))),
            [.ok(a, xid: Xid.auth, zxid: 0)])
        XCTAssertEqual(d.send(a, xid: 3, .getData("/secret")).first?.replyHeader, ReplyHeader(xid: 3, zxid: 3, error: .ok))
    }

    func testInvalidPathIsBadArguments() throws {
        XCTAssertEqual(d.send(a, xid: 1, .exists("no-slash")), [.error(a, xid: 1, zxid: 2, .badArguments)])
        XCTAssertEqual(d.write(a, xid: 2, .create("/x/")), [.persist([3]), .error(a, xid: 2, zxid: 3, .badArguments)])
    }
}
