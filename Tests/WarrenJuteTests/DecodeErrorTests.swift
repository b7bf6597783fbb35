import XCTest
@testable import WarrenJute

final class DecodeErrorTests: XCTestCase {
    func testEveryTruncationFails() {
        assertPrefixesFail(CreateRequest(path: "/x", data: [1, 2], acl: sampleACL, mode: .persistent))
        assertPrefixesFail(CreateTTLRequest(path: "/x", data: [1], acl: sampleACL, flags: 5, ttl: 10))
        assertPrefixesFail(Create2Response(path: "/x", stat: sampleStat))
        assertPrefixesFail(GetDataResponse(data: [1, 2, 3], stat: sampleStat))
        assertPrefixesFail(GetACLResponse(acl: sampleACL, stat: sampleStat))
        assertPrefixesFail(GetChildren2Response(children: ["a", "bc"], stat: sampleStat))
        assertPrefixesFail(SetWatches2(
            relativeZxid: 1, dataWatches: ["/a"], existWatches: ["/b"], childWatches: ["/c"],
            persistentWatches: ["/d"], persistentRecursiveWatches: ["/e"]))
        assertPrefixesFail(ReplyHeader(xid: 1, zxid: 2, err: 3))
        assertPrefixesFail(WatcherEvent(type: 1, state: 3, path: "/w"))
        assertPrefixesFail(WhoAmIResponse(clientInfo: [ClientInfo(authScheme: "ip", user: "x")]))
        // ConnectRequest minus its optional flag: every shorter prefix fails.
        assertPrefixesFail(ConnectRequest(lastZxidSeen: 1, timeOut: 2, sessionId: 3, passwd: [4], readOnly: nil))
    }

    func testNegativeAndOversizeLengths() {
        var w = JuteWriter()
        w.writeInt(-2)
        var r = JuteReader(w.bytes)
        XCTAssertThrowsError(try GetACLRequest(from: &r)) { XCTAssertEqual($0 as? JuteError, .badLength(-2)) }

        // A string length larger than what follows.
        w = JuteWriter()
        w.writeInt(1000)
        w.writeRaw(Array("/abc".utf8))
        r = JuteReader(w.bytes)
        XCTAssertThrowsError(try SyncRequest(from: &r)) { XCTAssertEqual($0 as? JuteError, .badLength(1000)) }

        // A hostile vector count cannot make the reader allocate past the buffer.
        w = JuteWriter()
        w.writeInt(Int32.max)
        r = JuteReader(w.bytes)
        XCTAssertThrowsError(try GetChildrenResponse(from: &r)) {
            XCTAssertEqual($0 as? JuteError, .badLength(Int32.max))
        }
    }

    func testBadUTF8() {
        var w = JuteWriter()
        w.writeInt(2)
        w.writeRaw([0xc3, 0x28])
        w.writeBool(false)
        var r = JuteReader(w.bytes)
        XCTAssertThrowsError(try GetDataRequest(from: &r)) { XCTAssertEqual($0 as? JuteError, .badUTF8) }
    }

    func testUnknownOpCodes() {
        for op: Int32 in [10, 23, 99, 108, 0, -10, -1, 20, Int32.min] {
            var r = JuteReader([0, 0, 0, 1, 0x2f])
            XCTAssertThrowsError(try Request.decode(opCode: op, body: &r)) {
                XCTAssertEqual($0 as? RequestDecodeError, .unknownOpCode(op))
            }
            XCTAssertEqual(r.offset, 0, "opcode \(op): bytes consumed before rejecting")
        }
    }

    func testBadMultiOpType() {
        var w = JuteWriter()
        w.write(MultiHeader(type: OpCode.exists.rawValue, done: false, err: -1))
        w.write(ExistsRequest(path: "/a", watch: false))
        w.write(MultiHeader.end)
        var r = JuteReader(w.bytes)
        XCTAssertThrowsError(try Request.decode(opCode: OpCode.multi.rawValue, body: &r)) {
            XCTAssertTrue($0 is JuteError, "unexpected error \($0)")
        }
    }

    func testMultiWithoutTerminatorFails() {
        var w = JuteWriter()
        w.write(MultiHeader(type: OpCode.delete.rawValue, done: false, err: -1))
        w.write(DeleteRequest(path: "/a", version: -1))
        var r = JuteReader(w.bytes)
        XCTAssertThrowsError(try Request.decode(opCode: OpCode.multi.rawValue, body: &r)) {
            XCTAssertTrue($0 is JuteError, "unexpected error \($0)")
        }
    }
}
