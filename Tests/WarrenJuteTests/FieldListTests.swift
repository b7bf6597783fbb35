import XCTest
@testable import WarrenJute

/// The records' field lists against the bytes their hand-written codecs produced (the hex below was captured from
/// that code before it was replaced), so the move changed no byte, no null rule and no reader position on failure.
final class FieldListTests: XCTestCase {
    func testEncodingsAreTheHandWrittenOnes() throws {
        try check(RequestHeader(xid: 7, opCode: .getData), "0000000700000004")
        try check(RequestHeader(xid: Xid.ping, opCode: .ping), "fffffffe0000000b")
        try check(ReplyHeader(xid: -1, zxid: -1, err: 0), "ffffffffffffffffffffffff00000000")
        try check(ReplyHeader(xid: 17, zxid: 0x1_0000_0009, error: .noNode), "000000110000000100000009ffffff9b")
        try check(sampleStat, stat)
        try check(Stat(), zeroStat)
        try check(
            ConnectRequest(lastZxidSeen: 0x42, timeOut: 30_000, sessionId: 0x77, passwd: [1, 2, 3], readOnly: true),
            "0000000000000000000000420000753000000000000000770000000301020301")
        try check(
            ConnectRequest(protocolVersion: 1, lastZxidSeen: 0, timeOut: 10, sessionId: 0, passwd: [], readOnly: nil),
            "0000000100000000000000000000000a000000000000000000000000")
        try check(ConnectResponse(timeOut: 4000, sessionId: -5, passwd: [9, 8], readOnly: false),
            "0000000000000fa0fffffffffffffffb00000002090800")
        try check(ConnectResponse(timeOut: 0, sessionId: 9, passwd: [], readOnly: nil),
            "0000000000000000000000000000000900000000")
        try check(WatcherEvent(type: .nodeDataChanged, state: .syncConnected, path: "/a/é"),
            "0000000300000003000000052f612fc3a9")
        try check(WatcherEvent(type: .none, state: .expired, path: ""), "ffffffffffffff9000000000")
        try check(AuthPacket(scheme: "digest", auth: Array("bob:secret".utf8)),
            "00000000000000066469676573740000000a626f623a736563726574")
        try check(SetWatches(relativeZxid: 99, dataWatches: ["/d"], existWatches: [], childWatches: ["/c", "/日本"]),
            "000000000000006300000001000000022f640000000000000002000000022f63000000072fe697a5e69cac")
        try check(
            SetWatches2(
                relativeZxid: -1, dataWatches: ["/d"], existWatches: ["/e"], childWatches: [],
                persistentWatches: ["/p"], persistentRecursiveWatches: ["/r1", "/r2"]),
            "ffffffffffffffff00000001000000022f6400000001000000022f650000000000000001000000022f7000000002000000032f7231000000032f7232")
        try check(SASLToken(token: [1, 2, 3]), "00000003010203")
        try check(SASLToken(token: []), "00000000")
        try check(CreateRequest(path: "/x", data: [0, 255], acl: sampleACL, mode: .ephemeralSequential),
            "000000022f780000000200ff000000020000001f00000005776f726c6400000006616e796f6e6500000011000000066469676573740000000c626f623a6332566a636d563000000003")
        try check(CreateRequest(path: "/x", data: nil, acl: [], flags: 0), "000000022f78ffffffff0000000000000000")
        try check(CreateRequest(path: "/x", data: [], acl: ACL.creatorAll, flags: 2),
            "000000022f7800000000000000010000001f00000004617574680000000000000002")
        try check(CreateTTLRequest(path: "/t", data: [1], acl: sampleACL, flags: 5, ttl: 60_000),
            "000000022f740000000101000000020000001f00000005776f726c6400000006616e796f6e6500000011000000066469676573740000000c626f623a6332566a636d563000000005000000000000ea60")
        try check(CreateResponse(path: "/x0000000001"), "0000000c2f7830303030303030303031")
        try check(Create2Response(path: "/y", stat: sampleStat), "000000022f79\(stat)")
        try check(DeleteRequest(path: "/y", version: -1), "000000022f79ffffffff")
        try check(CheckVersionRequest(path: "/y", version: 12), "000000022f790000000c")
        try check(ExistsRequest(path: "/e", watch: true), "000000022f6501")
        try check(ExistsResponse(stat: sampleStat), stat)
        try check(GetDataRequest(path: "/g", watch: false), "000000022f6700")
        try check(GetDataResponse(data: Array("hello".utf8), stat: sampleStat), "0000000568656c6c6f\(stat)")
        try check(GetDataResponse(data: nil, stat: Stat()), "ffffffff\(zeroStat)")
        try check(GetDataResponse(data: [], stat: Stat()), "\(zeroStat)00000000")
        try check(SetDataRequest(path: "/s", data: [7, 7], version: 2), "000000022f7300000002070700000002")
        try check(SetDataRequest(path: "/", data: nil, version: -1), "000000012fffffffffffffffff")
        try check(SetDataResponse(stat: sampleStat), stat)
        try check(GetACLRequest(path: "/acl"), "000000042f61636c")
        try check(GetACLResponse(acl: sampleACL, stat: sampleStat),
            "000000020000001f00000005776f726c6400000006616e796f6e6500000011000000066469676573740000000c626f623a6332566a636d5630\(stat)")
        try check(SetACLRequest(path: "/acl", acl: ACL.readUnsafe, version: 0),
            "000000042f61636c000000010000000100000005776f726c6400000006616e796f6e6500000000")
        try check(SetACLResponse(stat: sampleStat), stat)
        try check(SyncRequest(path: "/"), "000000012f")
        try check(SyncResponse(path: "/s"), "000000022f73")
        try check(
            ReconfigRequest(
                joiningServers: "server.4=h:2888:3888", leavingServers: nil, newMembers: "", curConfigId: -1),
            "000000147365727665722e343d683a323838383a33383838ffffffff00000000ffffffffffffffff")
        try check(
            ReconfigRequest(joiningServers: nil, leavingServers: "2", newMembers: nil, curConfigId: 0x1_0000_0000),
            "ffffffff0000000132ffffffff0000000100000000")
        try check(ErrorResponse(error: .badVersion), "ffffff99")
        try check(GetChildrenRequest(path: "/p", watch: true), "000000022f7001")
        try check(GetChildrenResponse(children: ["a", "b", "日本"]), "000000030000000161000000016200000006e697a5e69cac")
        try check(GetChildrenResponse(children: []), "00000000")
        try check(GetChildren2Request(path: "/p", watch: false), "000000022f7000")
        try check(GetChildren2Response(children: ["c"], stat: sampleStat), "000000010000000163\(stat)")
        try check(GetAllChildrenNumberRequest(path: "/p"), "000000022f70")
        try check(GetAllChildrenNumberResponse(totalNumber: 12345), "00003039")
        try check(GetEphemeralsRequest(prefixPath: "/"), "000000012f")
        try check(GetEphemeralsResponse(ephemerals: ["/e1", "/q/e2"]), "00000002000000032f6531000000052f712f6532")
        try check(AddWatchRequest(path: "/w", mode: .persistentRecursive), "000000022f7700000001")
        try check(RemoveWatchesRequest(path: "/w", type: .any), "000000022f7700000003")
        try check(CheckWatchesRequest(path: "/w", type: .data), "000000022f7700000002")
        try check(ClientInfo(authScheme: "ip", user: "127.0.0.1"), "000000026970000000093132372e302e302e31")
        try check(
            WhoAmIResponse(clientInfo: [
                ClientInfo(authScheme: "ip", user: "127.0.0.1"), ClientInfo(authScheme: "sasl", user: ""),
            ]),
            "00000002000000026970000000093132372e302e302e31000000047361736c00000000")
        try check(WhoAmIResponse(clientInfo: []), "00000000")
        try check(MultiHeader.end, "ffffffff01ffffffff")
        try check(MultiHeader(type: 5, done: false, err: -1), "0000000500ffffffff")
        try check(Id(scheme: "digest", id: "bob:c2VjcmV0"), "000000066469676573740000000c626f623a6332566a636d5630")
        try check(ACL(perms: [.read, .admin], id: .anyoneUnsafe), "0000001100000005776f726c6400000006616e796f6e65")
    }

    /// Jute nulls that the records read as empty, and where the reader stands after a malformed record.
    func testDecodingIsTheHandWrittenOne() throws {
        try checkDecode(ConnectRequest.self, "00000000 0000000000000001 00000002 0000000000000003 ffffffff",
            .decoded("00000000000000000000000100000002000000000000000300000000", consumed: 28))
        try checkDecode(ConnectRequest.self, "00000000 0000000000000001 00000002 0000000000000003 00000000 01",
            .decoded("0000000000000000000000010000000200000000000000030000000001", consumed: 29))
        try checkDecode(ConnectResponse.self, "00000000 00000002 0000000000000003 ffffffff",
            .decoded("0000000000000002000000000000000300000000", consumed: 20))
        try checkDecode(ExistsRequest.self, "ffffffff 01", .decoded("0000000001", consumed: 5))
        try checkDecode(GetDataRequest.self, "ffffffff 00", .decoded("0000000000", consumed: 5))
        try checkDecode(GetChildrenRequest.self, "ffffffff 01", .decoded("0000000001", consumed: 5))
        try checkDecode(SyncResponse.self, "ffffffff", .decoded("00000000", consumed: 4))
        try checkDecode(WatcherEvent.self, "00000001 00000003 ffffffff",
            .decoded("000000010000000300000000", consumed: 12))
        try checkDecode(AuthPacket.self, "00000000 ffffffff ffffffff",
            .decoded("000000000000000000000000", consumed: 12))
        try checkDecode(SetWatches.self, "0000000000000001 ffffffff 00000002 ffffffff 00000001 2f 00000000",
            .decoded("0000000000000001000000000000000200000000000000012f00000000", consumed: 29))
        try checkDecode(GetChildrenResponse.self, "ffffffff", .decoded("00000000", consumed: 4))
        try checkDecode(GetChildren2Response.self, "00000001 ffffffff 000000000000000100000000000000020000000000000003000000000000000400000005000000060000000700000000000000080000000900000010000000000000000b",
            .decoded("0000000100000000000000000000000100000000000000020000000000000003000000000000000400000005000000060000000700000000000000080000000900000010000000000000000b", consumed: 76))
        try checkDecode(WhoAmIResponse.self, "ffffffff", .decoded("00000000", consumed: 4))
        try checkDecode(GetACLResponse.self, "fffffffb 000000000000000100000000000000020000000000000003000000000000000400000005000000060000000700000000000000080000000900000010000000000000000b",
            .decoded("00000000000000000000000100000000000000020000000000000003000000000000000400000005000000060000000700000000000000080000000900000010000000000000000b", consumed: 72))
        try checkDecode(SetACLRequest.self, "00000001 2f ffffffff 00000001",
            .decoded("000000012f0000000000000001", consumed: 13))
        try checkDecode(Id.self, "ffffffff ffffffff", .decoded("0000000000000000", consumed: 8))
        try checkDecode(SASLToken.self, "ffffffff", .decoded("00000000", consumed: 4))
        try checkDecode(ReconfigRequest.self, "ffffffff ffffffff ffffffff 0000000000000007",
            .decoded("ffffffffffffffffffffffff0000000000000007", consumed: 20))
        try checkDecode(CreateRequest.self, "ffffffff ffffffff ffffffff 00000000",
            .failed("bad value: null path", offset: 4))
        try checkDecode(CreateRequest.self, "00000002 2f61 ffffffff fffffffe 00000000",
            .decoded("000000022f61ffffffff0000000000000000", consumed: 18))
        try checkDecode(ReplyHeader.self, "00000001 00000000",
            .failed("truncated record: needed 8 bytes, 4 left", offset: 4))
        try checkDecode(ReplyHeader.self, "00000001 0000000000000002",
            .failed("truncated record: needed 4 bytes, 0 left", offset: 12))
        try checkDecode(Create2Response.self, "00000001 2f 00000000000000010000000000000002",
            .failed("truncated record: needed 8 bytes, 0 left", offset: 21))
        try checkDecode(GetDataRequest.self, "00000002 c328 00", .failed("string is not valid UTF-8", offset: 6))
        try checkDecode(SetDataRequest.self, "00000001 2f 00000005 0102", .failed("bad length prefix 5", offset: 9))
        try checkDecode(MultiHeader.self, "ffffffff 02 ffffffff", .decoded("ffffffff01ffffffff", consumed: 9))
    }

    func testEveryStoredPropertyIsAField() {
        let records: [any JuteFields] = [
            sampleStat, ConnectRequest(lastZxidSeen: 1, timeOut: 2, sessionId: 3, passwd: [], readOnly: nil),
            ConnectResponse(timeOut: 1, sessionId: 2, passwd: []), RequestHeader(xid: 1, type: 2),
            ReplyHeader(xid: 1, zxid: 2, err: 3), WatcherEvent(type: 1, state: 2, path: "/"),
            AuthPacket(scheme: "", auth: []),
            SetWatches(relativeZxid: 0, dataWatches: [], existWatches: [], childWatches: []),
            SetWatches2(relativeZxid: 0, dataWatches: [], existWatches: [], childWatches: [], persistentWatches: [],
                        persistentRecursiveWatches: []),
            SASLToken(token: []), CreateRequest(path: "/", data: nil, acl: [], flags: 0),
            CreateTTLRequest(path: "/", data: nil, acl: [], flags: 0, ttl: 0), PathRecord(path: "/"),
            Create2Response(path: "/", stat: Stat()), PathVersionRequest(path: "/", version: 0),
            PathWatchRequest(path: "/", watch: true), StatResponse(stat: Stat()),
            GetDataResponse(data: nil, stat: Stat()),
            SetDataRequest(path: "/", data: nil, version: 0), GetACLResponse(acl: [], stat: Stat()),
            SetACLRequest(path: "/", acl: [], version: 0),
            ReconfigRequest(joiningServers: nil, leavingServers: nil, newMembers: nil, curConfigId: 0),
            ErrorResponse(err: 0), GetChildrenResponse(children: []), GetChildren2Response(children: [], stat: Stat()),
            GetAllChildrenNumberResponse(totalNumber: 0), GetEphemeralsRequest(prefixPath: "/"),
            GetEphemeralsResponse(ephemerals: []), AddWatchRequest(path: "/", mode: 0),
            PathWatcherTypeRequest(path: "/", type: 1), ClientInfo(authScheme: "", user: ""),
            WhoAmIResponse(clientInfo: []), MultiHeader.end, Id.anyoneUnsafe,
        ]
        for record in records {
            XCTAssertEqual(fieldCount(record), Mirror(reflecting: record).children.count, "\(type(of: record))")
        }
    }
}

/// `sampleStat` and `Stat()` as Jute.
private let stat =
    "000000010000000100000001000000020000018bcfe5687b0000018bcfe569c8000000030000000400000005123456789abcdef0"
    + "00000006000000070000000100000003"
private let zeroStat = String(repeating: "0", count: 136)

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

private func bytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.filter { $0 != " " })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}

private func check<R: JuteRecord & Equatable>(
    _ record: R, _ expected: String, file: StaticString = #filePath, line: UInt = #line
) throws {
    XCTAssertEqual(hex(record.juteBytes()), expected, file: file, line: line)
    try assertRoundTrip(record, file: file, line: line)
}

private enum Outcome {
    /// Decoded, re-encoded as `hex`, having read `consumed` bytes.
    case decoded(String, consumed: Int)
    /// Failed with an error described as `error`, the reader left at `offset`.
    case failed(String, offset: Int)
}

private func checkDecode<R: JuteRecord>(
    _: R.Type, _ input: String, _ expected: Outcome, file: StaticString = #filePath, line: UInt = #line
) throws {
    var r = JuteReader(bytes(input))
    switch expected {
    case let .decoded(hexOut, consumed):
        let record = try R(from: &r)
        XCTAssertEqual(hex(record.juteBytes()), hexOut, file: file, line: line)
        XCTAssertEqual(r.offset, consumed, file: file, line: line)
    case let .failed(error, offset):
        XCTAssertThrowsError(try R(from: &r), file: file, line: line) {
            XCTAssertEqual("\($0)", error, file: file, line: line)
        }
        XCTAssertEqual(r.offset, offset, file: file, line: line)
    }
}

/// Counts the fields a record hands to a visitor, nested records as one.
private struct FieldCounter: JuteFieldVisitor {
    var count = 0
    mutating func field(_ v: inout Int32) { count += 1 }
    mutating func field(_ v: inout Int64) { count += 1 }
    mutating func field(_ v: inout Bool) { count += 1 }
    mutating func field(_ v: inout String) { count += 1 }
    mutating func field(_ v: inout String?) { count += 1 }
    mutating func field(_ v: inout [UInt8]) { count += 1 }
    mutating func field(_ v: inout [UInt8]?) { count += 1 }
    mutating func field(_ v: inout [String]) { count += 1 }
    mutating func field<R: JuteFields>(_ v: inout R) { count += 1 }
    mutating func field<R: JuteFields>(_ v: inout [R]) { count += 1 }
    mutating func requiredPath(_ v: inout String) { count += 1 }
    mutating func acls(_ v: inout [ACL]) { count += 1 }
    mutating func trailing(_ v: inout Bool?) { count += 1 }
}

private func fieldCount<F: JuteFields>(_ record: F) -> Int {
    var counter = FieldCounter()
    var copy = record
    copy.fields(&counter)
    return counter.count
}
