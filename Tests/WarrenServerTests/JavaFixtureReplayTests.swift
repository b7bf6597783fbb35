import Foundation
import WarrenJute
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Replays the Java client's captured session (`Tests/WarrenJuteTests/Fixtures/java-*`, recorded against Apache
/// ZooKeeper 3.8.0) into a fresh standalone core and requires ZooKeeper's answers: the same frames in the same order
/// (replies, watch events), with the same headers (xid, zxid, err) and bodies. Only what no two servers share is
/// masked: the session id and password, Stat times, and an ephemeral owner equal to the session id. Lists whose order
/// ZooKeeper's API leaves unspecified (children, whoAmI's identities) are compared as sets: ZooKeeper returns them in
/// its Java hash sets' iteration order, Warren in insertion order.
final class JavaFixtureReplayTests: XCTestCase {
    private static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../WarrenJuteTests/Fixtures").standardized

    private func frames(_ name: String) throws -> [[UInt8]] {
        var decoder = FrameDecoder()
        decoder.feed([UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).bin"))))
        var out: [[UInt8]] = []
        while let frame = try decoder.next() { out.append(frame) }
        return out
    }

    func testTheCoreAnswersTheJavaSessionAsZooKeeperDid() throws {
        let d = try CoreDriver(config: CoreDriver.config { $0.extendedTypesEnabled = true })
        var session: (id: Int64, passwd: [UInt8])?
        var zkSessionId: Int64 = 0
        for name in ["java-1", "java-2", "java-3"] {
            let c2s = try frames("\(name)-c2s")
            let s2c = try frames("\(name)-s2c")
            let conn = d.open()
            var sent: [[UInt8]] = []
            func run(_ actions: [CoreAction]) {
                var persisted: Int64 = 0
                for action in actions {
                    if case let .send(c, bytes) = action, c == conn { sent.append(bytes) }
                    if case let .persist(records) = action { persisted = records.last!.zxid }
                }
                if persisted > 0 { run(d.core.onDurable(upTo: persisted, now: d.now)) }
            }

            // The handshake: a reconnect resumes the session this core made, not ZooKeeper's.
            var r = JuteReader(c2s[0])
            var connect = try ConnectRequest(from: &r)
            var zkr = JuteReader(s2c[0])
            let zkConnected = try ConnectResponse(from: &zkr)
            if zkSessionId == 0 { zkSessionId = zkConnected.sessionId }
            if let session {
                connect.sessionId = session.id
                connect.passwd = session.passwd
            }
            run(d.core.onPacket(conn, connect.juteBytes(), now: d.now))
            var wr = JuteReader(try XCTUnwrap(sent.first, "\(name): no ConnectResponse"))
            let connected = try ConnectResponse(from: &wr)
            XCTAssertEqual(connected.timeOut, zkConnected.timeOut, "\(name): negotiated timeout")
            XCTAssertEqual(connected.readOnly, zkConnected.readOnly, name)
            session = session ?? (connected.sessionId, connected.passwd)

            var opByXid: [Int32: OpCode] = [:]
            for frame in c2s.dropFirst() {
                var r = JuteReader(frame)
                let header = try RequestHeader(from: &r)
                opByXid[header.xid] = OpCode(rawValue: header.type)
                run(d.core.onPacket(conn, frame, now: d.now))
            }
            XCTAssertEqual(sent.count, s2c.count, "\(name): frames sent")
            for (i, (ours, theirs)) in zip(sent, s2c).enumerated().dropFirst() {
                XCTAssertEqual(
                    try describe(ours, opByXid, owner: session!.id), try describe(theirs, opByXid, owner: zkSessionId),
                    "\(name) server frame \(i)")
            }
            run(d.core.onClosed(conn, now: d.now))
        }
    }

    private func canonical(_ response: Response) -> Response {
        switch response {
        case .getChildren(var r):
            r.children.sort()
            return .getChildren(r)
        case .getChildren2(var r):
            r.children.sort()
            return .getChildren2(r)
        case .whoAmI(var r):
            r.clientInfo.sort { ($0.authScheme, $0.user) < ($1.authScheme, $1.user) }
            return .whoAmI(r)
        case .multi(let results):
            return .multi(results.map {
                guard case .getChildren(var r) = $0 else { return $0 }
                r.children.sort()
                return .getChildren(r)
            })
        default:
            return response
        }
    }

    /// A reply frame as text with the server-specific fields masked; everything else, bodies included, kept.
    private func describe(_ frame: [UInt8], _ opByXid: [Int32: OpCode], owner: Int64) throws -> String {
        var r = JuteReader(frame)
        let header = try ReplyHeader(from: &r)
        let op: OpCode? = switch header.xid {
        case Xid.notification: .notification
        case Xid.ping: .ping
        case Xid.auth: .auth
        default: opByXid[header.xid]
        }
        let body = header.err == 0 ? "\(canonical(try Response.decode(for: try XCTUnwrap(op), body: &r)))" : "none"
        XCTAssertTrue(r.isAtEnd, "trailing bytes in \(frame)")
        let masked = body
            .replacingOccurrences(of: #"ctime: \d+"#, with: "ctime: _", options: .regularExpression)
            .replacingOccurrences(of: #"mtime: \d+"#, with: "mtime: _", options: .regularExpression)
            .replacingOccurrences(of: "ephemeralOwner: \(owner)", with: "ephemeralOwner: <session>")
        return "xid \(header.xid) zxid \(header.zxid) err \(header.err) \(masked)"
    }
}
