import XCTest
import WarrenJute
import WarrenZab

final class CodecTests: XCTestCase {
    func testEveryMessageRoundTrips() throws {
        let z = Zxid(epoch: 7, counter: 42)
        let entry = LogEntry(zxid: z, payload: [1, 2, 3])
        let messages: [ZabMessage] = [
            .notification(Notification(vote: Vote(leader: 3, zxid: z, peerEpoch: 6), electionEpoch: 9, state: .leading)),
            .followerInfo(acceptedEpoch: 6, acceptedLeader: 2, isObserver: true),
            .leaderInfo(epoch: 7),
            .ackEpoch(epoch: 7, currentEpoch: 6, lastZxid: z),
            .diff(epoch: 7, from: z), .trunc(epoch: 7, to: .zero),
            .snapshot(epoch: 7, lastZxid: z, state: [9, 9]),
            .proposal(epoch: 7, entry: entry, prev: Zxid(epoch: 7, counter: 41)),
            .newLeader(epoch: 7, lastZxid: z), .ackNewLeader(epoch: 7, lastZxid: z),
            .upToDate(epoch: 7, committed: z), .ack(epoch: 7, upTo: z), .commit(epoch: 7, upTo: z),
            .inform(epoch: 7, entry: entry, prev: .zero),
            .ping(epoch: 7, committed: z), .pong(epoch: 7), .forward(payload: []),
            .syncRequest(token: [4, 2]), .syncReply(epoch: 7, upTo: z, token: [4, 2]),
        ]
        var tags = Set<Int32>()
        for m in messages {
            let bytes = m.juteBytes()
            var r = JuteReader(bytes)
            XCTAssertEqual(try ZabMessage(from: &r), m)
            XCTAssertTrue(r.isAtEnd, "\(m) left bytes")
            tags.insert(try JuteReader(bytes).readIntCopy())
        }
        XCTAssertEqual(tags.count, messages.count, "every message kind has its own type tag")
    }

    func testMalformedBytesThrow() {
        var unknown = JuteReader([0, 0, 0, 99])
        XCTAssertThrowsError(try ZabMessage(from: &unknown))
        var truncated = JuteReader(Array(ZabMessage.leaderInfo(epoch: 5).juteBytes().dropLast()))
        XCTAssertThrowsError(try ZabMessage(from: &truncated))
        var w = JuteWriter()
        w.writeInt(1)
        for _ in 0..<4 { w.writeLong(1) }
        w.writeInt(77)  // no such peer state
        var badState = JuteReader(w.bytes)
        XCTAssertThrowsError(try ZabMessage(from: &badState))
    }
}

private extension JuteReader {
    func readIntCopy() throws -> Int32 {
        var copy = self
        return try copy.readInt()
    }
}
