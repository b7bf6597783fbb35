import XCTest
@testable import WarrenJute

/// Frames captured between the official Java client (Debian's zookeeper.jar 3.8.0, `Fixtures/JavaSession.java`) and
/// Apache ZooKeeper 3.8.0: one session over three connections (the first, a reconnect that re-registers one-shot
/// watches with setWatches, one that re-registers persistent watches with setWatches2). They carry every request
/// kazoo never sends. Every frame must decode and re-encode to exactly the bytes on the wire.
final class JavaFixtureTests: XCTestCase {
    static let connections = ["java-1", "java-2", "java-3"]

    func testEveryFrameRoundTripsByteForByte() throws {
        var ops: Set<OpCode> = []
        for name in Self.connections {
            let (connect, requests) = try decodeClientStream(name)
            ops.formUnion(requests.map(\.1.opCode))
            _ = try decodeServerStream(name, requests: requests).1
            // The reconnects resume the session of the first connection.
            XCTAssertEqual(connect.sessionId == 0, name == "java-1", name)
        }
        let kazooNeverSends: [OpCode] = [
            .createContainer, .createTTL, .getChildren, .getEphemerals, .getAllChildrenNumber, .whoAmI, .auth, .multiRead,
            .sync, .reconfig, .checkWatches, .removeWatches, .setWatches, .setWatches2, .addWatch,
        ]
        for op in kazooNeverSends { XCTAssertTrue(ops.contains(op), "no \(op) request in the java fixtures") }
    }

    func testRepliesMeanWhatZooKeeperSent() throws {
        var replies: [OpCode: [(ReplyHeader, Response?)]] = [:]
        var notifications: [WatcherEvent] = []
        for name in Self.connections {
            let (_, requests) = try decodeClientStream(name)
            let opByXid = Dictionary(requests.map { ($0.0.xid, $0.1.opCode) }, uniquingKeysWith: { first, _ in first })
            for (header, response) in try decodeServerStream(name, requests: requests).1 {
                if case let .notification(e)? = response { notifications.append(e); continue }
                replies[opByXid[header.xid]!, default: []].append((header, response))
            }
        }
        // addWatch: a header and an ErrorResponse record of 0, which the Java client reads.
        XCTAssertEqual(replies[.addWatch]?.count, 2)
        for (_, response) in replies[.addWatch] ?? [] { XCTAssertEqual(response, .addWatch(ErrorResponse(error: .ok))) }
        // Replies with no body at all.
        for op in [OpCode.checkWatches, .removeWatches, .setWatches, .setWatches2, .auth] {
            for (header, response) in replies[op] ?? [] where header.err == 0 { XCTAssertEqual(response, .empty, "\(op)") }
        }
        XCTAssertEqual(replies[.reconfig]?.first?.0.errorCode, .reconfigDisabled)
        XCTAssertEqual(replies[.exists]?.first?.0.errorCode, .noNode)
        if case let .multi(results)? = replies[.multiRead]?.first?.1 {
            XCTAssertEqual(results.count, 3)
            XCTAssertEqual(results.last, .error(ErrorResponse(error: .noNode)))
        } else {
            XCTFail("multiRead reply: \(String(describing: replies[.multiRead]))")
        }
        if case let .whoAmI(w)? = replies[.whoAmI]?.last?.1 {
            XCTAssertTrue(w.clientInfo.contains(ClientInfo(authScheme: "digest", user: "alice")), "\(w)")
        } else {
            XCTFail("whoAmI reply")
        }
        if case let .getEphemerals(e)? = replies[.getEphemerals]?.first?.1 { XCTAssertEqual(e.ephemerals, ["/jx/e"]) }
        else { XCTFail("getEphemerals reply") }
        if case let .getAllChildrenNumber(n)? = replies[.getAllChildrenNumber]?.first?.1 { XCTAssertEqual(n.totalNumber, 3) }
        else { XCTFail("getAllChildrenNumber reply") }
        // The watches setWatches re-registered fire on the create; after setWatches2 the one-shot data watch and the
        // recursive watch on /jx/c both match the setData, and the connection gets one event for the two.
        XCTAssertEqual(
            notifications.map { "\(EventType(rawValue: $0.type).map { "\($0)" } ?? "\($0.type)") \($0.path)" },
            ["nodeCreated /jx/later", "nodeChildrenChanged /jx", "nodeDataChanged /jx/c"])
    }
}
