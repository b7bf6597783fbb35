import WarrenJute
import XCTest

@testable import WarrenTree

/// The compact txn encoding used by the log and by replication (`Txn.compactBytes()`).
final class TxnCompactTests: XCTestCase {
    private static let bodies: [TxnBody] = [
        .create(path: "/a", data: [1, 2], acl: ACL.openUnsafe, ephemeral: true, parentCVersion: 3),
        .create(path: "/null", data: nil, acl: ACL.openUnsafe, ephemeral: false, parentCVersion: -1),
        .create(path: "/empty", data: [], acl: [], ephemeral: false, parentCVersion: Int32.max),
        .create(path: "/acl", data: [0], acl: [ACL(perms: [.read, .admin], id: Id(scheme: "digest", id: "u:h=")),
                                           ACL(perms: .all, id: Id(scheme: "ip", id: "10.0.0.0/8"))],
                ephemeral: false, parentCVersion: 0),
        .createContainer(path: "/c", data: [], acl: ACL.creatorAll, parentCVersion: 1),
        .createTTL(path: "/t", data: [9], acl: ACL.readUnsafe, parentCVersion: 2, ttlMs: 500),
        .delete(path: "/a"), .deleteContainer(path: "/c"),
        .setData(path: "/ü/ñ", data: [UInt8](repeating: 7, count: 300), version: Int32.min),
        .setData(path: "/a", data: nil, version: 4),
        .setACL(path: "/a", acl: ACL.openUnsafe, version: 2),
        .check(path: "/a", version: 1), .error(.noNode), .error(.ok), .createSession(timeoutMs: 30_000),
        .closeSession(paths: ["/x", "/y"]), .closeSession(paths: []),
        .multi([.create(path: "/m", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1), .error(.ok),
                .check(path: "/m", version: 0), .delete(path: "/m")]),
        .multi([]),
    ]

    func testEveryBodyRoundTrips() throws {
        for (i, body) in Self.bodies.enumerated() {
            for header in [TxnHeader(sessionId: 0x0123_4567_89AB_CDEF, cxid: 7, zxid: 0x1_0000_0002, timeMs: 1_764_000_000_000),
                           TxnHeader(sessionId: -1, cxid: -2, zxid: 5, timeMs: 0),
                           TxnHeader(sessionId: 0, cxid: Int32.max, zxid: Int64.max, timeMs: Int64.min)] {
                let txn = Txn(header: header, body: body)
                XCTAssertEqual(try Txn(compact: txn.compactBytes(), zxid: header.zxid), txn, "body \(i)")
            }
        }
    }

    func testZxidComesFromTheCaller() throws {
        let txn = Txn(header: TxnHeader(sessionId: 1, cxid: 1, zxid: 42, timeMs: 1), body: .delete(path: "/a"))
        XCTAssertEqual(try Txn(compact: txn.compactBytes(), zxid: 43).zxid, 43)
    }

    /// The reason the encoding exists: a typical create is about 50 bytes shorter than ZooKeeper's layout.
    func testTypicalCreateIsMuchSmallerThanJute() {
        let txn = Txn(header: TxnHeader(sessionId: 0x0100_0193_5A2B_0001, cxid: 123_456, zxid: 0x1_000F_4240, timeMs: 1_764_000_000_000),
                      body: .create(path: "/warren-bench/keys/k999999", data: [UInt8](repeating: 0xAB, count: 100),
                                    acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1_000_000))
        let jute = txn.juteBytes().count
        let compact = txn.compactBytes().count
        XCTAssertEqual(jute, 198)
        XCTAssertEqual(compact, 8 + 3 + 6 + 1 + 27 + 101 + 1 + 1 + 3)
    }

    func testEveryTruncationAndTrailingByteIsRejected() {
        for body in Self.bodies {
            let bytes = Txn(header: TxnHeader(sessionId: 9, cxid: 1, zxid: 1, timeMs: 1), body: body).compactBytes()
            for n in 0..<bytes.count {
                XCTAssertThrowsError(try Txn(compact: Array(bytes[0..<n]), zxid: 1), "\(body) cut to \(n) of \(bytes.count)")
            }
            XCTAssertThrowsError(try Txn(compact: bytes + [0], zxid: 1), "\(body) with a trailing byte")
        }
    }

    func testMalformedFieldsAreRejected() {
        let header: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 9, 2, 2]  // sessionId 9, cxid 1, timeMs 1
        func rejects(_ body: [UInt8], _ why: String, line: UInt = #line) {
            XCTAssertThrowsError(try Txn(compact: header + body, zxid: 1), why, line: line)
        }
        rejects([77], "not an opcode")
        rejects([UInt8(bitPattern: -1), 0xFF, 0xFF, 0x7F], "unknown error code")
        rejects([2, 0x7F] + Array("/a".utf8), "path length beyond the buffer")
        rejects([2, 2, 0xC3, 0x28], "invalid UTF-8 path")
        rejects([5, 2] + Array("/a".utf8) + [0xFF, 0xFF, 0x01], "data length beyond the buffer")
        rejects([UInt8(bitPattern: -10), 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02], "varint over 64 bits")
        rejects([UInt8(bitPattern: -10), 0x80, 0x80, 0x80, 0x80, 0x20], "timeout beyond 32 bits")
        rejects([14, 1, 14, 0], "multi inside a multi")
        rejects([14, 1, UInt8(bitPattern: -10), 2], "createSession inside a multi")
        rejects([14, 0x7F], "element count beyond the buffer")
        rejects([1, 2] + Array("/a".utf8) + [1, 0x7F], "ACL count beyond the buffer")
        rejects([1, 2] + Array("/a".utf8) + [1, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F], "ACL perms beyond 32 bits")
    }

    /// Applying compact-decoded txns gives the same tree as applying the originals.
    func testReplayFromCompactBytesGivesTheSameTree() throws {
        let leader = TreeHarness()
        let follower = TreeHarness()
        var ops: [WriteOp] = [.create(path: "/app", data: Array("cfg".utf8), acl: ACL.openUnsafe, mode: .persistent)]
        for i in 0..<50 {
            ops.append(.create(path: "/app/n\(i)", data: i % 3 == 0 ? nil : [UInt8](repeating: UInt8(i), count: i),
                               acl: ACL.openUnsafe, mode: .persistent))
        }
        ops.append(.setData(path: "/app/n7", data: [1, 2, 3], version: 0))
        ops.append(.delete(path: "/app/n8", version: -1))
        for op in ops {
            let txn = try leader.prepare(op).get()
            _ = leader.apply(txn)
            _ = follower.apply(try Txn(compact: txn.compactBytes(), zxid: txn.zxid))
        }
        XCTAssertEqual(follower.tree.digest, leader.tree.digest)
        XCTAssertEqual(follower.tree.snapshot(), leader.tree.snapshot())
    }
}
