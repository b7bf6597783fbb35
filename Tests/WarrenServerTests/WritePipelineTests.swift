import Logging
import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Persist before reply, apply in zxid order, per-connection FIFO and reads from the committed tree are the
/// transcript `testdata/pipeline.txt` (`CoreTranscriptTests`); here what reads better as code.
final class WritePipelineTests: XCTestCase {
    func testCreate2AndSetDataRepliesCarryTheStat() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        let create2 = Request.create2(CreateRequest(path: "/s", data: [1], acl: ACL.openUnsafe, mode: .persistentSequential))
        let created = d.write(a, xid: 1, create2)
        XCTAssertEqual(created.count, 2, "\(created)")
        guard case let .reply(_, _, .create2(r))? = created.last else { return XCTFail("\(created)") }
        XCTAssertEqual(r.path, "/s0000000000")
        XCTAssertEqual(r.stat.czxid, 2)

        let set = d.write(a, xid: 2, .setData("/s0000000000", "new", version: 0))
        guard case let .reply(_, header, .setData(s))? = set.last else { return XCTFail("\(set)") }
        XCTAssertEqual(header, ReplyHeader(xid: 2, zxid: 3, error: .ok))
        XCTAssertEqual(s.stat.version, 1)
        XCTAssertEqual(s.stat.mzxid, 3)
        XCTAssertEqual(s.stat.dataLength, 3)
    }

    func testBackpressurePausesAndResumesReading() throws {
        let d = try CoreDriver()
        let (a, _) = try d.connectNewSession()
        _ = d.send(a, xid: 1, .create("/x"))
        var paused: [Event] = []
        for xid in 2...Int32(ServerCore.connectionOutstandingMax + 1) {
            paused = d.send(a, xid: xid, .exists("/x"))
            if !paused.isEmpty { break }
        }
        XCTAssertEqual(paused, [.reading(a, false)])
        let out = d.durable(upTo: 2)
        XCTAssertEqual(out.last, .reading(a, true))
        // Paused as the 1000th request went in flight (globalOutstandingLimit 1000), before a 1001st was read.
        XCTAssertEqual(out.count, ServerCore.connectionOutstandingMax + 1, "every queued request answered, then resume")
    }
}

/// The log is rolled a little before each snapshot falls due, so the boundary precedes the snapshot's zxid.
final class SnapshotRollTests: XCTestCase {
    func testLogRollComesShortlyBeforeEachSnapshot() throws {
        let d = try CoreDriver(config: CoreDriver.config { $0.snapCount = 200 })
        let (a, _) = try d.connectNewSession()
        var events: [Event] = []
        for i in 0..<900 {
            _ = d.send(a, xid: Int32(i + 1), .create("/n\(i)"))
            events += d.durableAll()
        }
        // Count applied txns (replies) from each roll to the snapshot after it, and between snapshots.
        var sinceRoll: Int?
        var sinceSnapshot = 0
        var intervals: [Int] = []
        for e in events {
            switch e {
            case .rollLog:
                XCTAssertNil(sinceRoll, "two rolls without a snapshot between them")
                sinceRoll = 0
            case .snapshot:
                // The first interval also holds the session's createSession, which is not a reply here.
                let interval = intervals.isEmpty ? sinceSnapshot + 1 : sinceSnapshot
                XCTAssertEqual(sinceRoll, SnapshotPolicy.rollLead(interval), "roll \(sinceRoll ?? -1) txns before a snapshot after \(interval)")
                sinceRoll = nil
                intervals.append(interval)
                sinceSnapshot = 0
            case .reply:
                if sinceRoll != nil { sinceRoll! += 1 }
                sinceSnapshot += 1
            default:
                break
            }
        }
        XCTAssertGreaterThanOrEqual(intervals.count, 4)
        XCTAssertTrue(intervals.allSatisfy { (100...200).contains($0) }, "snapshot points within [snapCount/2, snapCount]: \(intervals)")
        XCTAssertGreaterThan(Set(intervals).count, 1, "a new point is drawn after every snapshot: \(intervals)")
    }

    /// The snapshot points come from the seeded generator: the same seed, the same points.
    func testSnapshotPointsFollowTheSeed() throws {
        func points(seed: UInt64) throws -> [Int] {
            var policy = SnapshotPolicy(snapCount: 1000, seed: seed, txnsSinceSnapshot: 0)
            return [policy.threshold] + (0..<4).map { _ in policy.drawThreshold() }
        }
        XCTAssertEqual(try points(seed: 7), try points(seed: 7))
        XCTAssertNotEqual(try points(seed: 7), try points(seed: 8))
    }
}
