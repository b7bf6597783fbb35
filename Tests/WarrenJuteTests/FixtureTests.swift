import Foundation
import XCTest
@testable import WarrenJute

/// Frames captured between kazoo and Apache ZooKeeper 3.8.0 (see Fixtures/README.md). Every frame must decode and
/// re-encode to exactly the bytes ZooKeeper and kazoo put on the wire.
final class FixtureTests: XCTestCase {
    /// Decodes the client's frames; returns the requests (the server answers in the same order).
    private func checkClientFrames() throws -> [(RequestHeader, Request)] {
        let (connect, requests) = try decodeClientStream("session")
        XCTAssertFalse(requests.isEmpty)
        XCTAssertEqual(connect.sessionId, 0)
        XCTAssertEqual(connect.readOnly, false)
        return requests
    }

    func testClientFramesRoundTripByteForByte() throws {
        let requests = try checkClientFrames()
        let ops = requests.map(\.1.opCode)
        for op in [OpCode.create, .create2, .getData, .setData, .exists, .getChildren2, .delete, .multi, .getACL,
            .setACL, .ping, .closeSession]
        {
            XCTAssertTrue(ops.contains(op), "fixture has no \(op) request")
        }
        XCTAssertEqual(requests.last?.1, .closeSession)
        XCTAssertTrue(requests.contains { $0.0.xid == Xid.ping && $0.1 == .ping })
        let multis = requests.compactMap { if case let .multi(ops) = $0.1 { return ops } else { return nil } }
        XCTAssertEqual(multis.count, 2)
        XCTAssertEqual(multis.first?.map(\.opCode), [.create, .setData, .check, .delete])
        XCTAssertEqual(multis.last?[1], .check(CheckVersionRequest(path: "/fx", version: 999)))
    }

    func testServerFramesRoundTripByteForByte() throws {
        let requests = try checkClientFrames()
        let (connected, responses) = try decodeServerStream("session", requests: requests)
        XCTAssertNotEqual(connected.sessionId, 0)
        XCTAssertEqual(connected.passwd.count, 16)
        XCTAssertEqual(connected.readOnly, false)

        // Spot-check decoded meaning, not just bytes.
        let errors = responses.compactMap { $0.0.errorCode }.filter { $0 != .ok }
        XCTAssertEqual(errors, [.noNode, .noNode, .badVersion])
        let notifications = responses.compactMap { if case let .notification(e) = $0.1 { return e } else { return nil } }
        XCTAssertEqual(notifications, [WatcherEvent(type: .nodeDataChanged, state: .syncConnected, path: "/fx")])
        let multis = responses.compactMap { if case let .multi(results) = $0.1 { return results } else { return nil } }
        XCTAssertEqual(multis.count, 2)
        XCTAssertEqual(multis.first?.count, 4)
        if case .create(CreateResponse(path: "/fx/m1")) = multis.first?[0] {} else {
            XCTFail("first multi result: \(String(describing: multis.first?[0]))")
        }
        XCTAssertEqual(multis.first?[2], .check)
        XCTAssertEqual(multis.first?[3], .delete)
        // A failed multi: ops before the failure report ok, the failure its code, the rest runtimeInconsistency.
        XCTAssertEqual(
            multis.last,
            [.error(ErrorResponse(error: .ok)), .error(ErrorResponse(error: .badVersion)),
             .error(ErrorResponse(error: .runtimeInconsistency))])
        let created = responses.compactMap { if case let .create(c) = $0.1 { return c.path } else { return nil } }
        XCTAssertEqual(created, ["/fx", "/fx/eph", "/fx/seq-0000000001"])
    }
}
