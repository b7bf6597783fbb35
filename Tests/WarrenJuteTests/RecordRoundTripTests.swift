import XCTest
@testable import WarrenJute

final class RecordRoundTripTests: XCTestCase {
    func testSessionRecords() throws {
        let passwd: [UInt8] = Array(0..<16)
        let connect = try assertRoundTrip(
            ConnectRequest(lastZxidSeen: 0x42, timeOut: 30_000, sessionId: 0x77, passwd: passwd, readOnly: true))
        XCTAssertEqual(connect.count, 4 + 8 + 4 + 8 + 4 + 16 + 1)
        XCTAssertEqual(connect.last, 1)
        try assertRoundTrip(ConnectRequest(lastZxidSeen: 0, timeOut: 10, sessionId: 0, passwd: [], readOnly: nil))
        try assertRoundTrip(ConnectResponse(timeOut: 4000, sessionId: -5, passwd: passwd, readOnly: false))
        try assertRoundTrip(ConnectResponse(timeOut: 4000, sessionId: 9, passwd: passwd, readOnly: nil))
        try assertRoundTrip(RequestHeader(xid: Xid.ping, opCode: .ping))
        try assertRoundTrip(ReplyHeader(xid: 17, zxid: 0x1_0000_0009, error: .noNode))
        try assertRoundTrip(WatcherEvent(type: .nodeDataChanged, state: .syncConnected, path: "/a/b"))
        try assertRoundTrip(AuthPacket(scheme: "digest", auth: Array("bob:secret".utf8)))
        try assertRoundTrip(SetWatches(relativeZxid: 99, dataWatches: ["/d"], existWatches: [], childWatches: ["/c", "/é"]))
        try assertRoundTrip(
            SetWatches2(
                relativeZxid: -1, dataWatches: ["/d"], existWatches: ["/e"], childWatches: [],
                persistentWatches: ["/p"], persistentRecursiveWatches: ["/r1", "/r2"]))
        try assertRoundTrip(SASLToken(token: [1, 2, 3]))
    }

    func testConnectRequestReadOnlyIsOptionalOnTheWire() throws {
        let withFlag = ConnectRequest(lastZxidSeen: 1, timeOut: 2, sessionId: 3, passwd: [9], readOnly: false)
        let without = ConnectRequest(lastZxidSeen: 1, timeOut: 2, sessionId: 3, passwd: [9], readOnly: nil)
        XCTAssertEqual(withFlag.juteBytes().count, without.juteBytes().count + 1)
        XCTAssertEqual(Array(withFlag.juteBytes().dropLast()), without.juteBytes())
    }

    func testCreateAndDeleteRecords() throws {
        try assertRoundTrip(CreateRequest(path: "/x", data: [0, 255], acl: sampleACL, mode: .ephemeralSequential))
        let nullData = try assertRoundTrip(CreateRequest(path: "/x", data: nil, acl: [], mode: .persistent))
        let emptyData = try assertRoundTrip(CreateRequest(path: "/x", data: [], acl: [], mode: .persistent))
        XCTAssertNotEqual(nullData, emptyData, "null and empty data must stay distinct on the wire")
        try assertRoundTrip(CreateTTLRequest(path: "/t", data: [1], acl: sampleACL, flags: 5, ttl: 60_000))
        try assertRoundTrip(CreateResponse(path: "/x0000000001"))
        try assertRoundTrip(Create2Response(path: "/y", stat: sampleStat))
        try assertRoundTrip(DeleteRequest(path: "/y", version: -1))
        try assertRoundTrip(CheckVersionRequest(path: "/y", version: 12))
    }

    func testDataRecords() throws {
        try assertRoundTrip(ExistsRequest(path: "/e", watch: true))
        try assertRoundTrip(ExistsResponse(stat: sampleStat))
        try assertRoundTrip(GetDataRequest(path: "/g", watch: false))
        try assertRoundTrip(GetDataResponse(data: Array("hello".utf8), stat: sampleStat))
        try assertRoundTrip(GetDataResponse(data: nil, stat: Stat()))
        try assertRoundTrip(SetDataRequest(path: "/s", data: [7, 7], version: 2))
        try assertRoundTrip(SetDataResponse(stat: sampleStat))
        try assertRoundTrip(GetACLRequest(path: "/acl"))
        try assertRoundTrip(GetACLResponse(acl: sampleACL, stat: sampleStat))
        try assertRoundTrip(SetACLRequest(path: "/acl", acl: ACL.readUnsafe, version: 0))
        try assertRoundTrip(SetACLResponse(stat: sampleStat))
        try assertRoundTrip(SyncRequest(path: "/"))
        try assertRoundTrip(SyncResponse(path: "/"))
        try assertRoundTrip(
            ReconfigRequest(joiningServers: "server.4=h:2888:3888", leavingServers: nil, newMembers: nil, curConfigId: -1))
        try assertRoundTrip(ErrorResponse(error: .badVersion))
    }

    func testChildrenAndWatchRecords() throws {
        try assertRoundTrip(GetChildrenRequest(path: "/p", watch: true))
        try assertRoundTrip(GetChildrenResponse(children: ["a", "b", "日本"]))
        try assertRoundTrip(GetChildren2Request(path: "/p", watch: false))
        try assertRoundTrip(GetChildren2Response(children: [], stat: sampleStat))
        try assertRoundTrip(GetAllChildrenNumberRequest(path: "/p"))
        try assertRoundTrip(GetAllChildrenNumberResponse(totalNumber: 12345))
        try assertRoundTrip(GetEphemeralsRequest(prefixPath: "/"))
        try assertRoundTrip(GetEphemeralsResponse(ephemerals: ["/e1", "/q/e2"]))
        try assertRoundTrip(AddWatchRequest(path: "/w", mode: .persistentRecursive))
        try assertRoundTrip(RemoveWatchesRequest(path: "/w", type: .any))
        try assertRoundTrip(CheckWatchesRequest(path: "/w", type: .data))
        try assertRoundTrip(WhoAmIResponse(clientInfo: [ClientInfo(authScheme: "ip", user: "127.0.0.1")]))
        try assertRoundTrip(MultiHeader.end)
    }

    func testKnownWireLayout() {
        // GetDataRequest("/a", watch: true): int length 2, "/a", boolean 1.
        XCTAssertEqual(GetDataRequest(path: "/a", watch: true).juteBytes(), [0, 0, 0, 2, 0x2f, 0x61, 1])
        // A null buffer and a null ustring are both length -1.
        XCTAssertEqual(
            SetDataRequest(path: "/", data: nil, version: -1).juteBytes(),
            [0, 0, 0, 1, 0x2f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        XCTAssertEqual(MultiHeader.end.juteBytes(), [0xff, 0xff, 0xff, 0xff, 1, 0xff, 0xff, 0xff, 0xff])
    }

    func testNullAndNegativeACLVectorsDecodeAsEmpty() throws {
        for count: Int32 in [-1, -5] {
            var w = JuteWriter()
            w.writeString("/a")
            w.writeBuffer(nil)
            w.writeInt(count)
            w.writeInt(0)
            var r = JuteReader(w.bytes)
            let decoded = try CreateRequest(from: &r)
            XCTAssertEqual(decoded, CreateRequest(path: "/a", data: nil, acl: [], flags: 0), "count \(count)")
            XCTAssertTrue(r.isAtEnd)
        }
    }

    func testNullCreatePathIsMalformed() {
        var w = JuteWriter()
        w.writeString(nil)
        w.writeBuffer(nil)
        w.writeVector(nil as [ACL]?) { $0.write($1) }
        w.writeInt(0)
        var r = JuteReader(w.bytes)
        XCTAssertThrowsError(try CreateRequest(from: &r)) { XCTAssertEqual($0 as? JuteError, .badValue("null path")) }
    }
}
