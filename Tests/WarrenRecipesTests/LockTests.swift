import WarrenClient
import WarrenRecipes
import XCTest

final class LockTests: RecipeTestCase {
    func testSecondOwnerWaitsUntilTheFirstReleases() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let first = DistributedLock(client: c1, path: path("lock"))
        let second = DistributedLock(client: c2, path: path("lock"))
        try await assertTrue(try await first.acquire())
        let waiting = Task { try await second.acquire(timeoutMs: 30_000) }
        try await eventually("the second contender's node") { try await c1.getChildren(self.path("lock")).count == 2 }
        let secondHeldEarly = await second.isHeld
        XCTAssertFalse(secondHeldEarly)
        try await first.release()
        try await assertTrue(try await waiting.value)
        let held = await second.isHeld
        XCTAssertTrue(held)
        try await second.release()
        try await assertEqual(try await c1.getChildren(path("lock")), [])
    }

    func testReentrantAcquireCountsAndOnlyTheLastReleaseDeletes() async throws {
        let client = try await connect()
        let lock = DistributedLock(client: client, path: path("lock"))
        try await assertTrue(try await lock.acquire())
        try await assertTrue(try await lock.acquire(timeoutMs: 0))
        let count = await lock.holdCount
        XCTAssertEqual(count, 2)
        try await lock.release()
        try await assertEqual(try await client.getChildren(path("lock")).count, 1)
        try await lock.release()
        try await assertEqual(try await client.getChildren(path("lock")), [])
        await assertRecipeError(.notHeld, "release without a hold") { try await lock.release() }
    }

    func testASecondAcquireWhileTheFirstWaitsIsRefused() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        try await DistributedLock(client: c1, path: path("lock")).acquire()
        let other = DistributedLock(client: c2, path: path("lock"))
        let waiting = Task { try await other.acquire(timeoutMs: 20_000) }
        try await eventually("the waiter's node") { try await c1.getChildren(self.path("lock")).count == 2 }
        await assertRecipeError(.acquireInProgress, "a second acquire while the first waits") {
            try await other.acquire(timeoutMs: 0)
        }
        waiting.cancel()
        _ = try? await waiting.value
        try await assertEqual(try await c1.getChildren(path("lock")).count, 1)
    }

    func testTimeoutReturnsFalseAndRemovesTheContender() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let holder = DistributedLock(client: c1, path: path("lock"))
        try await holder.acquire()
        let other = DistributedLock(client: c2, path: path("lock"))
        try await assertFalse(try await other.acquire(timeoutMs: 200))
        try await assertEqual(try await c2.getChildren(path("lock")).count, 1)
        let otherNode = await other.nodePath
        XCTAssertNil(otherNode)
    }

    func testCancellingAWaitingAcquireRemovesTheContender() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let holder = DistributedLock(client: c1, path: path("lock"))
        try await holder.acquire()
        let other = DistributedLock(client: c2, path: path("lock"))
        let waiting = Task { try await other.acquire() }
        try await eventually("the waiter's node") { try await c1.getChildren(self.path("lock")).count == 2 }
        waiting.cancel()
        do {
            _ = try await waiting.value
            XCTFail("a cancelled acquire returned")
        } catch is CancellationError {
        }
        try await assertEqual(try await c1.getChildren(path("lock")).count, 1)
        let stillHeld = await holder.isHeld
        XCTAssertTrue(stillHeld)
    }

    func testReleaseNeverDeletesAnotherHoldersNode() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let first = DistributedLock(client: c1, path: path("lock"))
        try await first.acquire()
        // An operator removes the holder's node by hand; someone else takes the lock.
        let firstNodePath = await first.nodePath
        let firstNode = try XCTUnwrap(firstNodePath)
        try await c2.delete(firstNode)
        let second = DistributedLock(client: c2, path: path("lock"))
        try await assertTrue(try await second.acquire(timeoutMs: 10_000))
        try await first.release()
        try await assertEqual(try await c2.getChildren(path("lock")).count, 1, "the second holder's node stays")
        let held = await second.isHeld
        XCTAssertTrue(held)
    }

    func testADroppedConnectionIsNotALoss() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let holder = DistributedLock(client: c1, path: path("lock"))
        try await holder.acquire()
        c1.dropConnection()
        try await eventually("reconnected") { c1.state == .connected }
        let held = await holder.isHeld
        XCTAssertTrue(held)
        try await assertFalse(try await DistributedLock(client: c2, path: path("lock")).acquire(timeoutMs: 300))
        try await holder.release()
    }

    func testAWaiterWhoseConnectionDropsStillGetsTheLock() async throws {
        let (c1, c2) = (try await connect(), try await connect())
        let holder = DistributedLock(client: c1, path: path("lock"))
        try await holder.acquire()
        let waiter = DistributedLock(client: c2, path: path("lock"))
        let waiting = Task { try await waiter.acquire(timeoutMs: 30_000) }
        try await eventually("the waiter's node") { try await c1.getChildren(self.path("lock")).count == 2 }
        // The watch on the predecessor is re-registered on the new connection.
        c2.dropConnection()
        try await eventually("reconnected") { c2.state == .connected }
        try await holder.release()
        try await assertTrue(try await waiting.value)
    }

    func testAnExpiredSessionLosesTheLock() async throws {
        let c1 = try await connect()
        let holder = DistributedLock(client: c1, path: path("lock"))
        try await holder.acquire()
        let losses = await holder.lostEvents()
        try await expireSession(of: c1, port: try XCTUnwrap(Self.shared).port)
        let loss: Void? = await first(of: losses)
        XCTAssertNotNil(loss, "no loss notification")
        let lost = await holder.isLost
        XCTAssertTrue(lost)
        await assertRecipeError(.sessionLost, "release of a lost lock") { try await holder.release() }
        let c2 = try await connect()
        try await assertTrue(try await DistributedLock(client: c2, path: path("lock")).acquire(timeoutMs: 10_000))
    }

    func testReadersShareAndAWriterExcludesThem() async throws {
        let (c1, c2, c3) = (try await connect(), try await connect(), try await connect())
        let rw1 = ReadWriteLock(client: c1, path: path("rw"))
        let rw2 = ReadWriteLock(client: c2, path: path("rw"))
        let rw3 = ReadWriteLock(client: c3, path: path("rw"))
        try await assertTrue(try await rw1.readLock.acquire(timeoutMs: 5000))
        try await assertTrue(try await rw2.readLock.acquire(timeoutMs: 5000))
        try await assertFalse(try await rw3.writeLock.acquire(timeoutMs: 200))
        try await rw1.readLock.release()
        try await rw2.readLock.release()
        try await assertTrue(try await rw3.writeLock.acquire(timeoutMs: 5000))
        try await assertFalse(try await rw1.readLock.acquire(timeoutMs: 200))
        try await assertTrue(try await rw3.readLock.acquire(timeoutMs: 5000), "the writer may also read")
        try await rw3.readLock.release()
        try await rw3.writeLock.release()
        try await assertTrue(try await rw1.readLock.acquire(timeoutMs: 5000))
    }
}
