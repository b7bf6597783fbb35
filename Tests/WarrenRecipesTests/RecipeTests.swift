import Foundation
import WarrenClient
import WarrenRecipes
import XCTest

final class LeaderLatchTests: RecipeTestCase {
    func testOneLeaderAtATimeAndTheNextTakesOverWhenItCloses() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let a = LeaderLatch(client: c1, path: path("election"), id: "a")
        let b = LeaderLatch(client: c2, path: path("election"), id: "b")
        try await a.start()
        try await assertTrue(try await a.awaitLeadership(timeoutMs: 10_000))
        let bEvents = b.leadershipEvents()
        try await b.start()
        try await assertFalse(try await b.awaitLeadership(timeoutMs: 200))
        try await assertEqual(try await a.participants(), ["a", "b"])
        try await a.close()
        let event = await first(of: bEvents)
        XCTAssertEqual(event, .elected)
        let aLeads = await a.isLeader
        XCTAssertFalse(aLeads)
        try await assertEqual(try await b.participants(), ["b"])
    }

    func testAnExpiredSessionEndsLeadershipWithALostEvent() async throws {
        let client = try await connect()
        let latch = LeaderLatch(client: client, path: path("election"), id: "a")
        try await latch.start()
        try await assertTrue(try await latch.awaitLeadership(timeoutMs: 10_000))
        let events = latch.leadershipEvents()
        await assertNext(events, .elected, "the current state comes first")
        try await expireSession(of: client, port: try XCTUnwrap(Self.shared).port)
        await assertNext(events, .lost)
        let leads = await latch.isLeader
        XCTAssertFalse(leads)
    }

    func testADeletedNodeStepsDownAndRejoins() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let a = LeaderLatch(client: c1, path: path("election"), id: "a")
        try await a.start()
        try await assertTrue(try await a.awaitLeadership(timeoutMs: 10_000))
        let events = a.leadershipEvents()
        _ = await first(of: events)
        for child in try await c2.getChildren(path("election")) { try await c2.delete(path("election/\(child)")) }
        await assertNext(events, .lost)
        await assertNext(events, .elected, "alone, it leads again with a new node")
    }
}

final class BarrierTests: RecipeTestCase {
    func testWaitersPassOnlyOnceTheBarrierIsRemoved() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let barrier = DistributedBarrier(client: c1, path: path("barrier"))
        try await barrier.set()
        let waiter = DistributedBarrier(client: c2, path: path("barrier"))
        try await assertFalse(try await waiter.wait(timeoutMs: 200))
        let passing = Task { try await waiter.wait(timeoutMs: 20_000) }
        try await barrier.remove()
        try await assertTrue(try await passing.value)
    }

    func testDoubleBarrierLetsNobodyInBeforeAllArriveNorOutBeforeAllLeave() async throws {
        let members = 3
        let log = EventLog()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<members {
                let client = try await connect()
                let barrierPath = path("double")
                group.addTask {
                    let barrier = DoubleBarrier(client: client, path: barrierPath, memberCount: members)
                    guard try await barrier.enter(timeoutMs: 20_000) else { throw RecipeServerError("enter") }
                    log.append("entered \(i)")
                    guard try await barrier.leave(timeoutMs: 20_000) else { throw RecipeServerError("leave") }
                    log.append("left \(i)")
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(log.lines.map { $0.split(separator: " ")[0] },
                       Array(repeating: "entered", count: members) + Array(repeating: "left", count: members))
        try await assertEqual(try await connect().getChildren(path("double")), [])
    }

    func testDoubleBarrierEnterTimesOutWithTooFewMembers() async throws {
        let barrier = DoubleBarrier(client: try await connect(), path: path("double"), memberCount: 2)
        try await assertFalse(try await barrier.enter(timeoutMs: 200))
        try await assertTrue(try await barrier.leave(timeoutMs: 5000))
    }
}

/// Lines appended from several tasks.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ line: String) { lock.withLock { stored.append(line) } }
    var lines: [String] { lock.withLock { stored } }
}

final class QueueTests: RecipeTestCase {
    func testItemsComeOutInOrderAndEachToOneConsumer() async throws {
        let producer = DistributedQueue(client: try await connect(), path: path("queue"))
        let itemCount = 20
        for i in 0..<itemCount { try await producer.put(Array("item-\(i)".utf8)) }
        let consumers = [DistributedQueue(client: try await connect(), path: path("queue")),
                         DistributedQueue(client: try await connect(), path: path("queue"))]
        let taken = try await withThrowingTaskGroup(of: [String].self) { group in
            for consumer in consumers {
                group.addTask {
                    var got: [String] = []
                    // A short take timeout only ends a round; the queue being empty ends the consumer.
                    while true {
                        if let item = try await consumer.take(timeoutMs: 300) {
                            got.append(String(decoding: item, as: UTF8.self))
                        } else if try await consumer.count() == 0 {
                            return got
                        }
                    }
                }
            }
            var all: [[String]] = []
            for try await got in group { all.append(got) }
            return all
        }
        let everything = taken.flatMap { $0 }
        XCTAssertEqual(Set(everything).count, itemCount, "each item once: \(taken)")
        XCTAssertEqual(everything.count, itemCount)
        for got in taken {
            let numbers = got.compactMap { Int($0.dropFirst(5)) }
            XCTAssertEqual(numbers, numbers.sorted(), "each consumer sees queue order")
        }
    }

    func testTakeWaitsForAPut() async throws {
        let queue = DistributedQueue(client: try await connect(), path: path("queue"))
        let taking = Task { try await queue.take(timeoutMs: 20_000) }
        try await DistributedQueue(client: try await connect(), path: path("queue")).put([7])
        try await assertEqual(try await taking.value, [7])
    }
}

final class MembershipTests: RecipeTestCase {
    func testServiceInstancesAppearAndGoWithTheirSessions() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let discovery = ServiceDiscovery(client: c1, basePath: path("services"))
        let watch = discovery.instanceUpdates(of: "web")
        try await assertEqual(try await watch.start(), [])
        let updates = watch.updates()
        _ = await first(of: updates)
        let instance = ServiceInstance(name: "web", id: "w1", address: "127.0.0.1", port: 80, payload: "p")
        try await ServiceDiscovery(client: c2, basePath: path("services")).register(instance)
        await assertNext(updates, [instance])
        try await assertEqual(try await discovery.serviceNames(), ["web"])
        await c2.close()
        await assertNext(updates, [])
        watch.stop()
    }

    func testGroupMembersSeeJoinsAndLeaves() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let a = GroupMember(client: c1, path: path("group"), memberId: "a", payload: [1])
        try await a.join()
        let view = a.memberships()
        try await assertEqual(try await view.start(), ["a": [1]])
        let updates = view.updates()
        _ = await first(of: updates)
        let b = GroupMember(client: c2, path: path("group"), memberId: "b", payload: [2])
        try await b.join()
        await assertNext(updates, ["a": [1], "b": [2]])
        try await b.leave()
        await assertNext(updates, ["a": [1]])
        view.stop()
    }

    func testNodeValueFollowsCreateChangeAndDelete() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let config = NodeValue(client: c1, path: path("config"))
        try await assertEqual(try await config.start(), nil)
        let updates = config.updates()
        await assertNext(updates, [UInt8]?.none)
        try await c2.create(path("config"), data: Array("v1".utf8))
        await assertNext(updates, Array("v1".utf8))
        try await c2.setData(path("config"), data: Array("v2".utf8))
        await assertNext(updates, Array("v2".utf8))
        try await c2.delete(path("config"))
        await assertNext(updates, [UInt8]?.none)
        config.stop()
    }
}
