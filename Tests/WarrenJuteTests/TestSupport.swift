import Foundation
import XCTest
@testable import WarrenJute

/// A stat whose every field differs, so a swapped or skipped field cannot round-trip by accident.
let sampleStat = Stat(
    czxid: 0x1_0000_0001, mzxid: 0x1_0000_0002, ctime: 1_700_000_000_123, mtime: 1_700_000_000_456, version: 3,
    cversion: 4, aversion: 5, ephemeralOwner: 0x1234_5678_9abc_def0, dataLength: 6, numChildren: 7,
    pzxid: 0x1_0000_0003)

let sampleACL = [
    ACL(perms: .all, id: .anyoneUnsafe),
    ACL(perms: [.read, .admin], id: Id(scheme: "digest", id: "bob:c2VjcmV0")),
]

/// Encodes `record`, decodes it back, and checks that the value, the consumed length and the re-encoding all match.
/// Returns the encoding for further checks.
@discardableResult
func assertRoundTrip<R: JuteRecord & Equatable>(
    _ record: R, file: StaticString = #filePath, line: UInt = #line
) throws -> [UInt8] {
    let bytes = record.juteBytes()
    var r = JuteReader(bytes)
    let decoded = try R(from: &r)
    XCTAssertEqual(decoded, record, "decoded value differs", file: file, line: line)
    XCTAssertTrue(r.isAtEnd, "\(r.remaining) bytes left unread", file: file, line: line)
    XCTAssertEqual(decoded.juteBytes(), bytes, "re-encoding differs", file: file, line: line)
    return bytes
}

/// Every strict prefix of `record`'s encoding must fail to decode with a `JuteError`.
func assertPrefixesFail<R: JuteRecord>(_ record: R, file: StaticString = #filePath, line: UInt = #line) {
    let bytes = record.juteBytes()
    for cut in 0..<bytes.count {
        var r = JuteReader(Array(bytes[0..<cut]))
        XCTAssertThrowsError(try R(from: &r), "prefix of \(cut)/\(bytes.count) bytes decoded", file: file, line: line) {
            XCTAssertTrue($0 is JuteError, "unexpected error \($0)", file: file, line: line)
        }
    }
}

/// The frames of a captured stream in Fixtures/ (`name`.bin): 4-byte length, payload, repeated; the stream must end
/// on a frame boundary.
func fixtureFrames(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[UInt8]] {
    let url = try XCTUnwrap(
        Bundle.module.url(forResource: name, withExtension: "bin", subdirectory: "Fixtures"), "missing \(name).bin",
        file: file, line: line)
    var decoder = FrameDecoder()
    decoder.feed([UInt8](try Data(contentsOf: url)))
    var out: [[UInt8]] = []
    while let frame = try decoder.next() { out.append(frame) }
    XCTAssertEqual(decoder.bufferedBytes, 0, "\(name) ends mid-frame", file: file, line: line)
    return out
}

/// Decodes a captured client stream (`name`-c2s): the ConnectRequest, then every request, each required to re-encode
/// to the captured bytes.
func decodeClientStream(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws
    -> (ConnectRequest, [(RequestHeader, Request)])
{
    let frames = try fixtureFrames("\(name)-c2s", file: file, line: line)
    var r = JuteReader(frames[0])
    let connect = try ConnectRequest(from: &r)
    XCTAssertTrue(r.isAtEnd, "\(name): ConnectRequest has trailing bytes", file: file, line: line)
    XCTAssertEqual(connect.juteBytes(), frames[0], "\(name): ConnectRequest re-encodes", file: file, line: line)
    var requests: [(RequestHeader, Request)] = []
    for (i, frame) in frames.enumerated().dropFirst() {
        var r = JuteReader(frame)
        let header = try RequestHeader(from: &r)
        let request = try Request.decode(opCode: header.type, body: &r)
        XCTAssertTrue(r.isAtEnd, "\(name) client frame \(i) (\(request.opCode)): \(r.remaining) bytes left", file: file, line: line)
        XCTAssertEqual(request.packet(xid: header.xid), frame, "\(name) client frame \(i) (\(request.opCode)) re-encodes",
                       file: file, line: line)
        requests.append((header, request))
    }
    return (connect, requests)
}

/// Decodes the server stream answering `requests` (`name`-s2c): the ConnectResponse, then every reply (as the
/// response to the request with its xid, or a watch event) or, for an error, nil: ZooKeeper sends a bare header
/// then. Every frame must re-encode to the captured bytes.
func decodeServerStream(_ name: String, requests: [(RequestHeader, Request)], file: StaticString = #filePath,
                        line: UInt = #line) throws -> (ConnectResponse, [(ReplyHeader, Response?)])
{
    let opByXid = Dictionary(requests.map { ($0.0.xid, $0.1.opCode) }, uniquingKeysWith: { first, _ in first })
    let frames = try fixtureFrames("\(name)-s2c", file: file, line: line)
    var r = JuteReader(frames[0])
    let connected = try ConnectResponse(from: &r)
    XCTAssertTrue(r.isAtEnd, "\(name): ConnectResponse has trailing bytes", file: file, line: line)
    XCTAssertEqual(connected.juteBytes(), frames[0], "\(name): ConnectResponse re-encodes", file: file, line: line)
    var out: [(ReplyHeader, Response?)] = []
    for (i, frame) in frames.enumerated().dropFirst() {
        var r = JuteReader(frame)
        let header = try ReplyHeader(from: &r)
        let op = header.xid == Xid.notification ? OpCode.notification : opByXid[header.xid]
        let request = try XCTUnwrap(op, "\(name) server frame \(i) answers unknown xid \(header.xid)", file: file, line: line)
        guard header.err == ErrorCode.ok.rawValue else {
            XCTAssertTrue(r.isAtEnd, "\(name) server frame \(i): error reply with a body", file: file, line: line)
            XCTAssertEqual(Response.empty.packet(header: header), frame, file: file, line: line)
            out.append((header, nil))
            continue
        }
        let response = try Response.decode(for: request, body: &r)
        XCTAssertTrue(r.isAtEnd, "\(name) server frame \(i) (\(request)): \(r.remaining) bytes left", file: file, line: line)
        XCTAssertEqual(response.packet(header: header), frame, "\(name) server frame \(i) (\(request)) re-encodes",
                       file: file, line: line)
        out.append((header, response))
    }
    return (connected, out)
}
