import Foundation
import WarrenRecipes
import XCTest

/// The recipes' decisions without a server: ordering, admission, the double barrier's leaving rule and the
/// Curator data formats.
final class ContenderOrderTests: XCTestCase {
    let a = "_c_aaaa-lock-0000000003"
    let b = "_c_0000-lock-0000000001"
    let c = "_c_ffff-lock-0000000002"

    func testOrderIsBySequenceNotByProtectionPrefix() {
        XCTAssertEqual(ContenderOrder.sorted([a, b, c], markers: ["lock-"]), [b, c, a])
    }

    func testKazooNodesWithCuratorsMarkerSortAmongThem() {
        let kazoo = "0123abcd-lock-0000000000"
        XCTAssertEqual(ContenderOrder.sorted([a, kazoo, b], markers: ["lock-"]), [kazoo, b, a])
    }

    func testLowestHoldsAndEachWaiterWatchesOnlyItsPredecessor() {
        let sorted = [b, c, a]
        XCTAssertEqual(ContenderOrder.exclusive(sorted: sorted, ours: b), .acquired)
        XCTAssertEqual(ContenderOrder.exclusive(sorted: sorted, ours: c), .watch(b))
        XCTAssertEqual(ContenderOrder.exclusive(sorted: sorted, ours: a), .watch(c))
        XCTAssertEqual(ContenderOrder.exclusive(sorted: sorted, ours: "_c_gone-lock-0000000009"), .missing)
    }

    func testReadersShareUntilAWriterComesFirst() {
        let r1 = "_c_1-__READ__0000000001", w2 = "_c_2-__WRIT__0000000002", r3 = "_c_3-__READ__0000000003"
        let r0 = "_c_0-__READ__0000000000"
        let sorted = ContenderOrder.sorted([r3, w2, r1, r0], markers: ["__READ__", "__WRIT__"])
        XCTAssertEqual(sorted, [r0, r1, w2, r3])
        func reader(_ ours: String, owns: Bool = false) -> ContenderDecision {
            ContenderOrder.reader(sorted: sorted, ours: ours, writerMarker: "__WRIT__", ownerHoldsWrite: owns)
        }
        XCTAssertEqual(reader(r0), .acquired)
        XCTAssertEqual(reader(r1), .acquired)
        XCTAssertEqual(reader(r3), .watch(w2), "a reader queues behind a waiting writer")
        XCTAssertEqual(reader(r3, owns: true), .acquired, "the write holder may also read")
        XCTAssertEqual(ContenderOrder.exclusive(sorted: sorted, ours: w2), .watch(r1))
    }

    func testContendersIgnoreForeignChildren() {
        XCTAssertEqual(ContenderOrder.contenders(["ready", a, "config", b], markers: ["lock-"]), [b, a])
    }
}

final class DoubleBarrierLeaveTests: XCTestCase {
    func testLowestWaitsForHighestOthersDeleteAndWaitForLowest() {
        let members = ["a", "b", "c"]
        XCTAssertEqual(DoubleBarrierLeave.next(members: members, ours: "a", ourNodeRemoved: false), .wait("c"))
        XCTAssertEqual(DoubleBarrierLeave.next(members: members, ours: "b", ourNodeRemoved: false),
                       .deleteOursAndWait("a"))
        XCTAssertEqual(DoubleBarrierLeave.next(members: ["a"], ours: "a", ourNodeRemoved: false), .deleteOurs)
        XCTAssertEqual(DoubleBarrierLeave.next(members: [], ours: "a", ourNodeRemoved: true), .done)
        XCTAssertEqual(DoubleBarrierLeave.next(members: ["a", "c"], ours: "b", ourNodeRemoved: true), .wait("a"))
        XCTAssertEqual(DoubleBarrierLeave.next(members: ["a", "c"], ours: "b", ourNodeRemoved: false), .missing)
    }
}

final class CuratorFormatTests: XCTestCase {
    /// What Curator 5.4's DistributedQueue wrote for the item "hello" (seen in Tests/interop's layout run).
    let curatorHello: [UInt8] = [0x00, 0x01, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 0x05] + Array("hello".utf8) + [0x02]

    func testQueueEnvelopeMatchesCurators() {
        XCTAssertEqual(QueueItemCodec.encode([Array("hello".utf8)]), curatorHello)
        XCTAssertEqual(QueueItemCodec.decode(curatorHello), [Array("hello".utf8)])
        let two = QueueItemCodec.encode([[1], []])
        XCTAssertEqual(QueueItemCodec.decode(two), [[1], []])
    }

    func testMalformedEnvelopesAreRejected() {
        XCTAssertNil(QueueItemCodec.decode(Array("hello".utf8)))
        XCTAssertNil(QueueItemCodec.decode(Array(curatorHello.dropLast())), "no end tag")
        var long = curatorHello
        long[8] = 0xff
        XCTAssertNil(QueueItemCodec.decode(long), "length past the end")
    }

    /// The JSON Curator 5.4's ServiceDiscovery wrote (seen in Tests/interop's layout run).
    let curatorJSON = """
        {"name":"web","id":"curator-1","address":"127.0.0.1","port":8080,"sslPort":null,"payload":"hello",\
        "registrationTimeUTC":1796616687291,"serviceType":"DYNAMIC","uriSpec":null}
        """

    func testServiceInstanceReadsCuratorsJSON() throws {
        let i = try JSONDecoder().decode(ServiceInstance.self, from: Data(curatorJSON.utf8))
        XCTAssertEqual(i, ServiceInstance(name: "web", id: "curator-1", address: "127.0.0.1", port: 8080,
                                          payload: "hello", registrationTimeUTC: 1_796_616_687_291))
    }

    func testServiceInstanceWritesEveryKeyCuratorWritesNullsIncluded() throws {
        let i = ServiceInstance(name: "web", id: "curator-1", address: "127.0.0.1", port: 8080, payload: "hello",
                                registrationTimeUTC: 1_796_616_687_291)
        let ours = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(i)) as? NSDictionary
        let curators = try JSONSerialization.jsonObject(with: Data(curatorJSON.utf8)) as? NSDictionary
        XCTAssertEqual(ours, curators)
    }

    func testAnObjectPayloadFromJavaDecodesAsNil() throws {
        let json = curatorJSON.replacingOccurrences(of: "\"payload\":\"hello\"", with: "\"payload\":{\"a\":1}")
        XCTAssertNil(try JSONDecoder().decode(ServiceInstance.self, from: Data(json.utf8)).payload)
    }
}
