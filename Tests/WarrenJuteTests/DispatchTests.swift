import XCTest
@testable import WarrenJute

final class DispatchTests: XCTestCase {
    static let create = CreateRequest(path: "/c", data: [1], acl: sampleACL, mode: .persistent)
    static let allOps: [MultiOp] = [
        .create(create), .create2(create), .createContainer(CreateRequest(path: "/k", data: nil, acl: [], mode: .container)),
        .createTTL(CreateTTLRequest(path: "/t", data: [], acl: sampleACL, flags: 5, ttl: 1000)),
        .delete(DeleteRequest(path: "/d", version: 3)), .setData(SetDataRequest(path: "/s", data: [9], version: -1)),
        .check(CheckVersionRequest(path: "/c", version: 1)), .getData(GetDataRequest(path: "/g", watch: false)),
        .getChildren(GetChildrenRequest(path: "/gc", watch: false)),
    ]

    static let requests: [Request] = [
        .create(create), .create2(create), .createContainer(create),
        .createTTL(CreateTTLRequest(path: "/t", data: [2], acl: sampleACL, flags: 6, ttl: 5)),
        .delete(DeleteRequest(path: "/d", version: -1)), .exists(ExistsRequest(path: "/e", watch: true)),
        .getData(GetDataRequest(path: "/g", watch: true)), .setData(SetDataRequest(path: "/s", data: nil, version: 1)),
        .getACL(GetACLRequest(path: "/a")), .setACL(SetACLRequest(path: "/a", acl: sampleACL, version: 2)),
        .getChildren(GetChildrenRequest(path: "/p", watch: false)),
        .getChildren2(GetChildren2Request(path: "/p", watch: true)), .sync(SyncRequest(path: "/")), .ping,
        .check(CheckVersionRequest(path: "/c", version: 0)), .multi(allOps.filter { !$0.isRead }),
        .multiRead(allOps.filter(\.isRead)), .multi([]),
        .reconfig(ReconfigRequest(joiningServers: nil, leavingServers: "2", newMembers: nil, curConfigId: 7)),
        .checkWatches(CheckWatchesRequest(path: "/w", type: .children)),
        .removeWatches(RemoveWatchesRequest(path: "/w", type: .data)),
        .auth(AuthPacket(scheme: "digest", auth: Array("u:p".utf8))),
        .setWatches(SetWatches(relativeZxid: 5, dataWatches: ["/a"], existWatches: ["/b"], childWatches: ["/c"])),
        .sasl(SASLToken(token: [0xde, 0xad])), .getEphemerals(GetEphemeralsRequest(prefixPath: "/e")),
        .getAllChildrenNumber(GetAllChildrenNumberRequest(path: "/n")),
        .setWatches2(SetWatches2(
            relativeZxid: 5, dataWatches: [], existWatches: [], childWatches: [], persistentWatches: ["/p"],
            persistentRecursiveWatches: ["/r"])),
        .addWatch(AddWatchRequest(path: "/w", mode: .persistent)), .whoAmI, .closeSession,
    ]

    func testEveryRequestRoundTripsThroughAPacket() throws {
        for (i, request) in Self.requests.enumerated() {
            let packet = request.packet(xid: Int32(i + 1))
            var r = JuteReader(packet)
            let header = try RequestHeader(from: &r)
            XCTAssertEqual(header, RequestHeader(xid: Int32(i + 1), type: request.opCode.rawValue))
            let decoded = try Request.decode(opCode: header.type, body: &r)
            XCTAssertEqual(decoded, request)
            XCTAssertTrue(r.isAtEnd, "\(request.opCode): \(r.remaining) bytes left")
            XCTAssertEqual(decoded.packet(xid: header.xid), packet)
        }
        // Every opcode a client may send is covered above.
        let covered = Set(Self.requests.map(\.opCode.rawValue))
        let clientOps = OpCode.allCases.filter { ![.notification, .deleteContainer, .createSession, .error].contains($0) }
        XCTAssertEqual(covered, Set(clientOps.map(\.rawValue)))
    }

    func testMultiRequestFraming() {
        let ops: [MultiOp] = [.delete(DeleteRequest(path: "/d", version: 1))]
        var w = JuteWriter()
        w.write(MultiHeader(type: 2, done: false, err: -1))
        w.write(DeleteRequest(path: "/d", version: 1))
        w.write(MultiHeader(type: -1, done: true, err: -1))
        XCTAssertEqual(Request.multi(ops).packet(xid: 1).dropFirst(8), w.bytes[...])
    }

    static let responses: [(OpCode, Response)] = [
        (.create, .create(CreateResponse(path: "/c0000000001"))),
        (.create2, .create2(Create2Response(path: "/c", stat: sampleStat))),
        (.createTTL, .create2(Create2Response(path: "/t", stat: sampleStat))),
        (.exists, .exists(ExistsResponse(stat: sampleStat))),
        (.getData, .getData(GetDataResponse(data: [1, 2], stat: sampleStat))),
        (.setData, .setData(SetDataResponse(stat: sampleStat))),
        (.getACL, .getACL(GetACLResponse(acl: sampleACL, stat: sampleStat))),
        (.setACL, .setACL(SetACLResponse(stat: sampleStat))),
        (.getChildren, .getChildren(GetChildrenResponse(children: ["a"]))),
        (.getChildren2, .getChildren2(GetChildren2Response(children: ["a", "b"], stat: sampleStat))),
        (.sync, .sync(SyncResponse(path: "/"))),
        (.reconfig, .reconfig(GetDataResponse(data: Array("server.1=h:1:2".utf8), stat: sampleStat))),
        (.sasl, .sasl(SASLToken(token: [1]))),
        (.getEphemerals, .getEphemerals(GetEphemeralsResponse(ephemerals: ["/e"]))),
        (.getAllChildrenNumber, .getAllChildrenNumber(GetAllChildrenNumberResponse(totalNumber: 3))),
        (.whoAmI, .whoAmI(WhoAmIResponse(clientInfo: [ClientInfo(authScheme: "ip", user: "127.0.0.1")]))),
        (.notification, .notification(WatcherEvent(type: .nodeDeleted, state: .syncConnected, path: "/n"))),
        (.delete, .empty), (.ping, .empty), (.closeSession, .empty), (.addWatch, .addWatch(ErrorResponse(error: .ok))),
        (.multi, .multi([
            .create(CreateResponse(path: "/a")), .create2(Create2Response(path: "/b", stat: sampleStat)), .delete,
            .setData(SetDataResponse(stat: sampleStat)), .check,
        ])),
        (.multi, .multi([
            .error(ErrorResponse(error: .ok)), .error(ErrorResponse(error: .badVersion)),
            .error(ErrorResponse(error: .runtimeInconsistency)),
        ])),
        (.multiRead, .multi([
            .getData(GetDataResponse(data: nil, stat: sampleStat)), .getChildren(GetChildrenResponse(children: [])),
            .error(ErrorResponse(error: .noNode)),
        ])),
    ]

    func testEveryResponseRoundTrips() throws {
        for (op, response) in Self.responses {
            let header = ReplyHeader(xid: 5, zxid: 6, error: .ok)
            let packet = response.packet(header: header)
            var r = JuteReader(packet)
            XCTAssertEqual(try ReplyHeader(from: &r), header)
            let decoded = try Response.decode(for: op, body: &r)
            XCTAssertEqual(decoded, response, "\(op)")
            XCTAssertTrue(r.isAtEnd, "\(op): \(r.remaining) bytes left")
            XCTAssertEqual(decoded.packet(header: header), packet)
        }
    }

    func testMultiErrorResultCarriesItsCodeInTheHeader() throws {
        var w = JuteWriter()
        MultiResult.encode([.error(ErrorResponse(error: .noNode))], to: &w)
        var r = JuteReader(w.bytes)
        XCTAssertEqual(try MultiHeader(from: &r), MultiHeader(type: -1, done: false, err: ErrorCode.noNode.rawValue))
        XCTAssertEqual(try ErrorResponse(from: &r), ErrorResponse(error: .noNode))
        XCTAssertEqual(try MultiHeader(from: &r), .end)
        XCTAssertTrue(r.isAtEnd)
    }
}
