import CZlib
import Foundation
import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenMigrate

/// The ZooKeeper file codecs on their own: snapshots and logs written here must read back the same, and damage
/// must be reported, never read past.
final class CodecTests: XCTestCase {
    func testAdler32KnownAnswer() {
        let sum = Array("Wikipedia".utf8).withUnsafeBytes { ZooKeeperFiles.adler32($0) }
        XCTAssertEqual(sum, 0x11E6_0398)
    }

    func testSnapshotRoundTripKeepsEveryField() throws {
        let snapshot = ZooKeeperSnapshot(sessions: [(0x100, 30000), (0x101, 4000)], nodes: Fixtures.nodes())
        let decoded = try ZooKeeperSnapshot.decode(snapshot.encode(), what: "test")
        XCTAssertEqual(decoded, snapshot)
        XCTAssertNil(decoded.nodes[1].data, "null data stays null")
        XCTAssertEqual(decoded.nodes[2].data, [], "empty data stays empty")
    }

    func testSnapshotWithZooKeeperDigestSection() throws {
        // ZooKeeper 3.6+ appends ZxidDigest and a second seal over everything before it.
        var w = JuteWriter()
        w.writeRaw(ZooKeeperSnapshot(nodes: Fixtures.nodes()).encode())
        w.writeLong(0x42)
        w.writeInt(2)
        w.writeLong(-12345)
        w.writeLong(Int64(w.bytes.withUnsafeBytes { ZooKeeperFiles.adler32($0) }))
        w.writeString("/")
        let decoded = try ZooKeeperSnapshot.decode(w.bytes, what: "test")
        XCTAssertEqual(decoded.digest?.zxid, 0x42)
        XCTAssertEqual(decoded.digest?.value, -12345)
        XCTAssertEqual(decoded.nodes, Fixtures.nodes())
    }

    func testDamagedSnapshotIsRefused() {
        let bytes = ZooKeeperSnapshot(nodes: Fixtures.nodes()).encode()
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x01
        XCTAssertThrowsError(try ZooKeeperSnapshot.decode(flipped, what: "f")) { error in
            XCTAssert("\(error)".contains("f:"), "\(error)")
        }
        for cut in [0, 10, bytes.count / 2, bytes.count - 1] {
            XCTAssertThrowsError(try ZooKeeperSnapshot.decode(Array(bytes[..<cut]), what: "cut"), "cut at \(cut)")
        }
        XCTAssertThrowsError(try ZooKeeperSnapshot.decode(bytes + [0], what: "extra"))
    }

    func testGzipSnapshotInflates() throws {
        let bytes = ZooKeeperSnapshot(nodes: Fixtures.nodes()).encode()
        let gz = Fixtures.gzip(bytes) + Fixtures.gzip([1, 2, 3])  // GZIPInputStream reads concatenated members
        XCTAssertEqual(try ZooKeeperFiles.gunzip(gz, path: "g"), bytes + [1, 2, 3])
        XCTAssertThrowsError(try ZooKeeperFiles.gunzip(Array(gz[..<(gz.count / 3)]), path: "g"))
    }

    func testLogRoundTripAndPreallocatedZeros() throws {
        let txns = Fixtures.txns(from: 5, count: 20)
        let contents = try ZooKeeperLog.read(ZooKeeperLog.encode(txns) + [UInt8](repeating: 0, count: 4096), what: "log")
        XCTAssertEqual(contents.txns, txns)
        XCTAssertNil(contents.stoppedBecause)
    }

    func testLogEntryWithTrailingDigest() throws {
        var entry = Fixtures.txns(from: 1, count: 1)[0].juteBytes()
        entry += [0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8]  // TxnDigest{int version, long treeDigest}
        var w = JuteWriter()
        w.writeInt(ZooKeeperLog.magic)
        w.writeInt(2)
        w.writeLong(0)
        w.writeLong(Int64(entry.withUnsafeBytes { ZooKeeperFiles.adler32($0) }))
        w.writeBuffer(entry)
        w.writeByte(UInt8(ascii: "B"))
        XCTAssertEqual(try ZooKeeperLog.read(w.bytes, what: "log").txns, Fixtures.txns(from: 1, count: 1))
    }

    func testDamagedLogStopsAtLastValidTxn() throws {
        let txns = Fixtures.txns(from: 1, count: 10)
        let bytes = ZooKeeperLog.encode(txns)
        let lastStart = ZooKeeperLog.encode(Array(txns.dropLast())).count
        let torn = try ZooKeeperLog.read(Array(bytes[..<(lastStart + 20)]), what: "torn")
        XCTAssertEqual(torn.txns, Array(txns.dropLast()))
        XCTAssertNotNil(torn.stoppedBecause)
        var flipped = bytes
        flipped[lastStart + 20] ^= 0x10
        let bad = try ZooKeeperLog.read(flipped, what: "flipped")
        XCTAssertEqual(bad.txns, Array(txns.dropLast()))
        XCTAssert(bad.stoppedBecause?.contains("checksum mismatch") == true, bad.stoppedBecause ?? "")
        XCTAssertThrowsError(try ZooKeeperLog.read(Array(bytes[..<8]), what: "header"))
    }
}

/// Trees and txns shared by the tests.
enum Fixtures {
    static let digestACL = [ACL(perms: .all, id: Id(scheme: "digest", id: "alice:V55/p2T0OpjQ+low3NVAH4aLvm0="))]

    static func stat(_ zxid: Int64, owner: Int64 = 0, cversion: Int32 = 0) -> PersistedStat {
        var s = PersistedStat(createdAt: zxid, timeMs: 1_700_000_000_000 + zxid, ephemeralOwner: owner)
        s.mzxid = zxid + 1
        s.version = 3
        s.cversion = cversion
        s.aversion = 1
        s.pzxid = zxid + 2
        return s
    }

    /// A root, a null and an empty node, binary data, a digest ACL, a container, a TTL node, an ephemeral.
    static func nodes() -> [MigratedNode] {
        [
            MigratedNode(path: "/", data: [], acl: ACL.openUnsafe, stat: PersistedStat()),
            MigratedNode(path: "/null", data: nil, acl: ACL.openUnsafe, stat: stat(1)),
            MigratedNode(path: "/empty", data: [], acl: ACL.readUnsafe, stat: stat(2)),
            MigratedNode(path: "/binary", data: Array(0...255), acl: digestACL, stat: stat(3, cversion: 2)),
            MigratedNode(path: "/binary/container", data: [1], acl: ACL.openUnsafe, stat: stat(4, owner: EphemeralKind.containerOwner)),
            MigratedNode(path: "/binary/ttl", data: [2], acl: digestACL, stat: stat(5, owner: EphemeralKind.ttlOwner(60000))),
            MigratedNode(path: "/ephemeral", data: [3], acl: ACL.openUnsafe, stat: stat(6, owner: 0x100)),
        ]
    }

    /// Creates of /t<zxid> at consecutive zxids.
    static func txns(from zxid: Int64, count: Int) -> [Txn] {
        (0..<Int64(count)).map { i in
            Txn(header: TxnHeader(sessionId: 0x100, cxid: Int32(i), zxid: zxid + i, timeMs: 1_700_000_000_000 + i),
                body: .create(path: "/t\(zxid + i)", data: [UInt8(i & 0xFF)], acl: ACL.openUnsafe, ephemeral: false,
                              parentCVersion: Int32(i + 1)))
        }
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        precondition(deflateInit2_(&stream, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, zlibVersion(),
                                   Int32(MemoryLayout<z_stream>.size)) == Z_OK)
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: bytes.count + 1024)
        var input = bytes
        let produced = input.withUnsafeMutableBytes { inp in
            out.withUnsafeMutableBytes { o -> Int in
                stream.next_in = inp.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.avail_in = uInt(inp.count)
                stream.next_out = o.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(o.count)
                precondition(deflate(&stream, Z_FINISH) == Z_STREAM_END)
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out[..<produced])
    }
}
