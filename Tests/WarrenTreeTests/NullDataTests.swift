import WarrenJute
import XCTest

@testable import WarrenTree

/// ZooKeeper keeps null data (a -1 length buffer) apart from empty data: getData returns null for it.
final class NullDataTests: XCTestCase {
    private func getData(_ h: TreeHarness, _ path: String) throws -> (data: [UInt8]?, stat: Stat) {
        try h.tree.getData(path, ctx: .superUser()).get()
    }

    func testCreateKeepsNullApartFromEmpty() throws {
        let h = TreeHarness()
        XCTAssertNil(h.error(.create(path: "/null", data: nil, acl: ACL.openUnsafe, mode: .persistent)))
        XCTAssertNil(h.error(.create(path: "/empty", data: [], acl: ACL.openUnsafe, mode: .persistent)))
        let null = try getData(h, "/null")
        XCTAssertNil(null.data)
        XCTAssertEqual(null.stat.dataLength, 0, "ZooKeeper reports dataLength 0 for null data")
        let empty = try getData(h, "/empty")
        XCTAssertEqual(empty.data, [])
        XCTAssertEqual(empty.stat.dataLength, 0)
        XCTAssertEqual(h.tree.approximateDataSize, 44 + Int64("/null".utf16.count + "/empty".utf16.count))
    }

    func testEveryCreateKindKeepsNullData() throws {
        let h = TreeHarness(config: TreeConfig(extendedTypesEnabled: true))
        XCTAssertNil(h.error(.create(path: "/c", data: nil, acl: ACL.openUnsafe, mode: .container)))
        XCTAssertNil(h.error(.create(path: "/t", data: nil, acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: 1_000)))
        XCTAssertNil(h.error(.create(path: "/e", data: nil, acl: ACL.openUnsafe, mode: .ephemeral)))
        XCTAssertNil(h.error(.multi([.create(path: "/m", data: nil, acl: ACL.openUnsafe, mode: .persistent)])))
        for path in ["/c", "/t", "/e", "/m"] {
            XCTAssertNil(try getData(h, path).data, path)
        }
    }

    func testSetDataSwitchesBetweenNullEmptyAndBytes() throws {
        let h = TreeHarness()
        h.create("/a", "xyz")
        let sizeWithData = h.tree.approximateDataSize
        let r = try h.run(.setData(path: "/a", data: nil, version: 0)).get()
        guard case let .setData(stat) = r.result else { return XCTFail("\(r.result)") }
        XCTAssertEqual(stat.dataLength, 0)
        XCTAssertEqual(stat.version, 1)
        XCTAssertNil(try getData(h, "/a").data)
        XCTAssertEqual(h.tree.approximateDataSize, sizeWithData - 3)
        XCTAssertNil(h.error(.setData(path: "/a", data: [], version: 1)))
        XCTAssertEqual(try getData(h, "/a").data, [])
        XCTAssertNil(h.error(.setData(path: "/a", data: [9], version: 2)))
        XCTAssertEqual(try getData(h, "/a").data, [9])
    }

    func testTxnEncodingRoundTripsNullData() throws {
        let bodies: [TxnBody] = [
            .create(path: "/a", data: nil, acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1),
            .create(path: "/a", data: [], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1),
            .createContainer(path: "/c", data: nil, acl: ACL.openUnsafe, parentCVersion: 2),
            .createTTL(path: "/t", data: nil, acl: ACL.openUnsafe, parentCVersion: 3, ttlMs: 50),
            .setData(path: "/a", data: nil, version: 4),
            .setData(path: "/a", data: [], version: 4),
            .multi([.create(path: "/m", data: nil, acl: ACL.openUnsafe, ephemeral: true, parentCVersion: 5),
                    .setData(path: "/m", data: nil, version: 1)]),
        ]
        for body in bodies {
            let txn = Txn(header: TxnHeader(sessionId: 7, cxid: 1, zxid: 9, timeMs: 100), body: body)
            var r = JuteReader(txn.juteBytes())
            XCTAssertEqual(try Txn(from: &r), txn)
            XCTAssertTrue(r.isAtEnd)
        }
        // On the wire null is ZooKeeper's buffer length -1, right after the path.
        var w = JuteWriter()
        TxnBody.setData(path: "/a", data: nil, version: 4).encode(to: &w)
        XCTAssertEqual(Array(w.bytes[6..<10]), [0xFF, 0xFF, 0xFF, 0xFF])
    }

    func testSnapshotAndDigestKeepNullApartFromEmpty() throws {
        let nullTree = TreeHarness()
        XCTAssertNil(nullTree.error(.create(path: "/a", data: nil, acl: ACL.openUnsafe, mode: .persistent)))
        let emptyTree = TreeHarness()
        XCTAssertNil(emptyTree.error(.create(path: "/a", data: [], acl: ACL.openUnsafe, mode: .persistent)))
        XCTAssertNotEqual(nullTree.tree.digest, emptyTree.tree.digest)
        XCTAssertNotEqual(nullTree.tree.snapshot(), emptyTree.tree.snapshot())

        let bytes = nullTree.tree.snapshot()
        let restored = try DataTree.restore(from: bytes)
        XCTAssertNil(try restored.getData("/a", ctx: .superUser()).get().data)
        XCTAssertEqual(try restored.getData("/zookeeper", ctx: .superUser()).get().data, [], "system nodes hold empty data")
        XCTAssertEqual(restored.digest, nullTree.tree.digest)
        XCTAssertEqual(restored.snapshot(), bytes)
        XCTAssertEqual(restored.approximateDataSize, nullTree.tree.approximateDataSize)
    }
}
