import Foundation
import XCTest
@testable import ZKFS

final class LockQueueTests: XCTestCase {
    private let curatorA = "_c_0b1e6f3a-3c2d-4f1e-9a8b-1234567890ab-lock-0000000003"
    private let curatorB = "_c_aa1e6f3a-3c2d-4f1e-9a8b-1234567890ab-lock-0000000007"
    private let kazoo = "5f2c0d8e9b7a4c3d2e1f0a9b8c7d6e5f__lock__0000000005"
    private let kazooReader = "5f2c0d8e9b7a4c3d2e1f0a9b8c7d6e5f__rlock__0000000006"
    private let reader1 = "_c_11111111-1111-1111-1111-111111111111-__READ__0000000010"
    private let reader2 = "_c_22222222-2222-2222-2222-222222222222-__READ__0000000011"
    private let writer = "_c_33333333-3333-3333-3333-333333333333-__WRIT__0000000012"

    func testRecognisesEveryRecipesNames() {
        XCTAssertEqual(LockContender(name: curatorA).map { [$0.sequence, $0.mode == .exclusive ? 1 : 0] }, [3, 1])
        XCTAssertEqual(LockContender(name: kazoo)?.family, .kazoo)
        XCTAssertEqual(LockContender(name: kazooReader)?.mode, .shared)
        XCTAssertEqual(LockContender(name: reader1)?.mode, .shared)
        XCTAssertEqual(LockContender(name: writer)?.family, .readWrite)
        for other in ["config", "job-0000000001", "lock-123", "__lock__00000000x1", ".data", "lock-"] {
            XCTAssertNil(LockContender(name: other), other)
        }
    }

    func testExclusiveWaitsForItsImmediatePredecessorOnly() {
        let children = [curatorB, kazoo, curatorA]  // any order
        XCTAssertEqual(LockQueue.decide(ours: curatorA, children: children), .granted)
        XCTAssertEqual(LockQueue.decide(ours: kazoo, children: children), .wait(predecessor: curatorA))
        XCTAssertEqual(LockQueue.decide(ours: curatorB, children: children), .wait(predecessor: kazoo))
        XCTAssertEqual(LockQueue.decide(ours: curatorB, children: [curatorB]), .granted)
    }

    func testSharedHoldersCoexistAndExcludeExclusive() {
        let children = [reader1, reader2, writer]
        XCTAssertEqual(LockQueue.decide(ours: reader1, children: children), .granted)
        XCTAssertEqual(LockQueue.decide(ours: reader2, children: children), .granted)
        XCTAssertEqual(LockQueue.decide(ours: writer, children: children), .wait(predecessor: reader2))
        XCTAssertEqual(LockQueue.holders(children).map(\.name), [reader1, reader2])
        // A reader behind a waiting writer waits for that writer (first come, first served).
        let late = "_c_44444444-4444-4444-4444-444444444444-__READ__0000000013"
        XCTAssertEqual(LockQueue.decide(ours: late, children: children + [late]), .wait(predecessor: writer))
    }

    func testAVanishedNodeMustContendAgain() {
        XCTAssertEqual(LockQueue.decide(ours: curatorA, children: [curatorB]), .absent)
    }

    func testMutexNamingSwitchesToReadWriteWhenThoseNodesArePresent() {
        XCTAssertEqual(LockQueue.decide(ours: curatorB, children: [reader1, curatorB]), .relayout(.readWrite))
        XCTAssertEqual(LockQueue.family(for: .exclusive, among: [reader1]), .readWrite)
        XCTAssertEqual(LockQueue.family(for: .exclusive, among: [curatorA, kazoo]), .mutex)
        XCTAssertEqual(LockQueue.family(for: .shared, among: []), .readWrite)
        // Never back: a __WRIT__ node among mutex nodes stays.
        XCTAssertEqual(LockQueue.decide(ours: writer, children: [curatorA, writer]), .wait(predecessor: curatorA))
    }

    func testNodeNamesFollowCuratorsProtectedForm() {
        let id = UUID(uuidString: "0B1E6F3A-3C2D-4F1E-9A8B-1234567890AB")!
        XCTAssertEqual(LockQueue.nodePrefix(id: id, mode: .exclusive, family: .mutex),
                       "_c_0b1e6f3a-3c2d-4f1e-9a8b-1234567890ab-lock-")
        XCTAssertEqual(LockQueue.nodePrefix(id: id, mode: .exclusive, family: .readWrite).suffix(8), "__WRIT__")
        XCTAssertEqual(LockQueue.nodePrefix(id: id, mode: .shared, family: .mutex).suffix(8), "__READ__")
        XCTAssertNotNil(LockContender(name: LockQueue.nodePrefix(id: id, mode: .shared, family: .mutex) + "0000000001"))
    }

    func testLockOnlyNodesAndConflicts() {
        XCTAssertTrue(LockQueue.isLockOnly([curatorA, kazoo]))
        XCTAssertFalse(LockQueue.isLockOnly([curatorA, "config"]))
        XCTAssertFalse(LockQueue.isLockOnly([]))
        XCTAssertEqual(LockQueue.conflict(for: .shared, children: [reader1, writer], ownNodes: [])?.name, nil)
        XCTAssertEqual(LockQueue.conflict(for: .exclusive, children: [reader1, writer], ownNodes: [])?.name, reader1)
        XCTAssertNil(LockQueue.conflict(for: .exclusive, children: [curatorA], ownNodes: [curatorA]))
    }
}

final class LockTableTests: XCTestCase {
    private let key = LockOwnerKey(path: "/locks/deploy", style: .flock, owner: 42)

    private func held(_ mode: LockMode, fh: UInt64 = 1, session: Int64 = 7) -> HeldLock {
        HeldLock(node: "/locks/deploy/_c_x-lock-0000000001", mode: mode, fh: fh, pid: 9, session: session)
    }

    private func start(_ table: LockTable, _ key: LockOwnerKey, _ mode: LockMode, fh: UInt64 = 1) -> LockTicket {
        guard case let .start(ticket, _) = table.begin(key, mode: mode, fh: fh) else {
            XCTFail("did not start")
            return LockTicket(id: 0, mode: mode)
        }
        return ticket
    }

    func testGrantThenSameModeIsHeldAndOtherModeConverts() {
        let table = LockTable()
        let ticket = start(table, key, .exclusive)
        XCTAssertEqual(table.begin(key, mode: .shared, fh: 1), .busy)
        XCTAssertTrue(table.grant(key, ticket: ticket, held(.exclusive)))
        XCTAssertEqual(table.begin(key, mode: .exclusive, fh: 1), .alreadyHeld)
        guard case let .start(_, replacing) = table.begin(key, mode: .shared, fh: 1) else { return XCTFail() }
        XCTAssertEqual(replacing, held(.exclusive))
    }

    func testCancelledTicketIsNotGranted() {
        let table = LockTable()
        let ticket = start(table, key, .exclusive)
        var woken = false
        XCTAssertTrue(ticket.onCancel { woken = true })
        XCTAssertNil(table.remove(key))  // an unlock while waiting cancels
        XCTAssertTrue(woken)
        XCTAssertFalse(table.grant(key, ticket: ticket, held(.exclusive)))
        XCTAssertFalse(ticket.onCancel {})
    }

    func testReleaseOfAHandleDropsItsLocksOnly() {
        let table = LockTable()
        let other = LockOwnerKey(path: "/locks/other", style: .posix, owner: 1)
        XCTAssertTrue(table.grant(key, ticket: start(table, key, .exclusive, fh: 1), held(.exclusive, fh: 1)))
        XCTAssertTrue(table.grant(other, ticket: start(table, other, .shared, fh: 2), held(.shared, fh: 2)))
        XCTAssertTrue(table.hasEntries(fh: 1))
        XCTAssertEqual(table.removeAll(fh: 1).count, 1)
        XCTAssertFalse(table.hasEntries(fh: 1))
        XCTAssertEqual(table.removePosix(owner: 1, path: "/locks/deploy"), [])
        XCTAssertEqual(table.removePosix(owner: 1, path: "/locks/other").count, 1)
    }

    func testLocksOfAnExpiredSessionAreForgotten() {
        let table = LockTable()
        XCTAssertTrue(table.grant(key, ticket: start(table, key, .exclusive), held(.exclusive, session: 7)))
        XCTAssertEqual(table.removeLost(currentSession: 7), [])
        XCTAssertEqual(table.removeLost(currentSession: 8).count, 1)
        XCTAssertNil(table.remove(key), "a later unlock finds nothing to delete")
    }

    func testWaitersAreBounded() {
        let table = LockTable(waitersMax: 2)
        _ = start(table, LockOwnerKey(path: "/a", style: .flock, owner: 1), .exclusive)
        _ = start(table, LockOwnerKey(path: "/a", style: .flock, owner: 2), .exclusive)
        XCTAssertEqual(table.begin(LockOwnerKey(path: "/a", style: .flock, owner: 3), mode: .shared, fh: 1), .tooMany)
    }

    func testRequestsFromTheKernel() {
        XCTAssertEqual(LockRequest(flockOperation: LOCK_EX | LOCK_NB), .lock(.exclusive, wait: false))
        XCTAssertEqual(LockRequest(flockOperation: LOCK_SH), .lock(.shared, wait: true))
        XCTAssertEqual(LockRequest(flockOperation: LOCK_UN), .unlock)
        XCTAssertNil(LockRequest(flockOperation: 0))
        XCTAssertEqual(LockRequest(recordType: F_WRLCK, wait: true), .lock(.exclusive, wait: true))
        XCTAssertEqual(LockRequest(recordType: F_UNLCK, wait: false), .unlock)
    }
}
