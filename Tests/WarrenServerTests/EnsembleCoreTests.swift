import Logging
import WarrenJute
import WarrenTree
import WarrenZab
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// Three `ServerCore`s in ensemble mode wired together in memory: quorum messages and durability reports go through
/// one FIFO queue (so every run is the same), client packets are collected per server.
final class MiniEnsemble {
    var cores: [ServerId: ServerCore] = [:]
    var now = Now(monoMs: 1_000_000, wallMs: 1_000_000)
    var nowMs: Int64 { now.monoMs }
    /// Deferred inputs: messages between servers and log durability reports, in the order produced.
    private var queue: [(ServerId, (ServerCore) -> [CoreAction])] = []
    /// Client-facing output per server.
    var sent: [ServerId: [(UInt64, [UInt8])]] = [:]
    var closed: [ServerId: [UInt64]] = [:]
    /// Peers whose link is cut: messages to and from them are dropped.
    var isolated: Set<ServerId> = []
    /// Servers whose log writes do not complete until `releaseDurable` (a slow disk): the highest zxid held.
    var holdDurable: Set<ServerId> = []
    private var heldDurable: [ServerId: Int64] = [:]
    /// Drops the quorum messages for which it answers true (a message lost without the link breaking).
    var dropQuorum: ((_ from: ServerId, _ to: ServerId, _ message: ZabMessage) -> Bool)?

    /// Delivered reconfigs per server, in order.
    var membershipChanges: [ServerId: [DynamicConfig]] = [:]

    init(size: Int = 3, observers: Set<Int> = [], readOnlyMode: Bool = false,
         configure: (inout ServerConfig) -> Void = { _ in }) throws {
        var config = ServerConfig()
        config.tickTimeMs = 200
        config.readOnlyModeEnabled = readOnlyMode
        config.fourLetterWordWhitelist = ServerConfig.allFourLetterWords
        config.snapCount = 1_000_000
        config.peers = (1...size).map {
            PeerConfig(id: Int64($0), host: "127.0.0.1", quorumPort: 0, electionPort: 0, isObserver: observers.contains($0))
        }
        configure(&config)
        let logger = Logger(label: "warren-test") { _ in SwiftLogNoOpLogHandler() }
        for id in 1...Int64(size) {
            var c = config
            c.myid = id
            cores[id] = try ServerCore(
                config: c, recovered: RecoveredServerState(tree: DataTree(config: TreeConfig()), sessionSecret: 7),
                now: now, logger: logger, durable: DurableState(), seed: UInt64(id))
        }
        for id in cores.keys.sorted() { perform(id, cores[id]!.ensembleStart(now: now)) }
        settle()
    }

    func perform(_ id: ServerId, _ actions: [CoreAction]) {
        for action in actions {
            switch action {
            case let .send(conn, bytes): sent[id, default: []].append((conn, bytes))
            case let .close(conn, _): closed[id, default: []].append(conn)
            case let .persist(records):
                let last = records.last!.zxid
                if holdDurable.contains(id) {
                    heldDurable[id] = max(heldDurable[id] ?? last, last)
                    continue
                }
                queue.append((id, { [unowned self] core in core.onDurable(upTo: last, now: self.now) }))
            case let .quorumSend(to, message):
                guard !isolated.contains(id), !isolated.contains(to) else { continue }
                if let drop = dropQuorum, drop(id, to, message) { continue }
                queue.append((to, { [unowned self] core in core.onQuorumMessage(from: id, message, now: self.now) }))
            case let .quorumSendSnapshot(to, epoch, lastZxid, tree):
                // What the transport's chunk stream delivers: the whole state as one message.
                guard !isolated.contains(id), !isolated.contains(to) else { continue }
                let message = ZabMessage.snapshot(epoch: epoch, lastZxid: lastZxid, state: tree.snapshot())
                queue.append((to, { [unowned self] core in core.onQuorumMessage(from: id, message, now: self.now) }))
            case let .membershipChanged(membership):
                membershipChanges[id, default: []].append(membership)
            case .setReading, .snapshot, .rollLog, .truncateLog, .installSnapshot, .persistEpochs:
                break
            }
        }
    }

    /// The held log writes of `id` complete (all at once, as one group commit would) and later ones go through.
    func releaseDurable(_ id: ServerId) {
        holdDurable.remove(id)
        guard let last = heldDurable.removeValue(forKey: id) else { return }
        queue.append((id, { [unowned self] core in core.onDurable(upTo: last, now: self.now) }))
    }

    /// Delivers everything queued (and whatever that produces) until the queue is empty.
    func settle() {
        while !queue.isEmpty {
            let (id, input) = queue.removeFirst()
            perform(id, input(cores[id]!))
        }
    }

    func tick(_ n: Int = 1) {
        for _ in 0..<n {
            now.advance(byMs: 200)
            for id in cores.keys.sorted() {
                perform(id, cores[id]!.onZabTick(now: now))
                perform(id, cores[id]!.onTick(now: now))
            }
            settle()
        }
    }

    var modes: [ServerId: String] { cores.mapValues { $0.ensemble!.mode } }

    /// Takes the client packets `id` sent so far.
    func takeSent(_ id: ServerId) -> [(UInt64, [UInt8])] {
        defer { sent[id] = [] }
        return sent[id] ?? []
    }

    /// Opens a connection on `id` and completes a new-session handshake; returns the connection and session id.
    func connect(_ id: ServerId, conn: UInt64) -> (UInt64, Int64) {
        cores[id]!.onOpened(conn, remote: "/127.0.0.1:\(40000 + conn)", ip: "127.0.0.1", now: now)
        let request = ConnectRequest(lastZxidSeen: 0, timeOut: 4000, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16))
        perform(id, cores[id]!.onPacket(conn, request.juteBytes(), now: now))
        settle()
        let out = takeSent(id)
        guard out.count == 1, out[0].0 == conn, var r = Optional(JuteReader(out[0].1)),
              let response = try? ConnectResponse(from: &r) else { return (conn, 0) }
        return (conn, response.sessionId)
    }

    /// Sends a request on `id` and returns the reply headers (and raw packets) it produced once everything settled.
    func request(_ id: ServerId, conn: UInt64, xid: Int32, _ request: Request) -> [(ReplyHeader, [UInt8])] {
        perform(id, cores[id]!.onPacket(conn, request.packet(xid: xid), now: now))
        settle()
        return takeSent(id).filter { $0.0 == conn }.map { packet in
            var r = JuteReader(packet.1)
            return (try! r.read(ReplyHeader.self), packet.1)
        }
    }
}

final class EnsembleCoreTests: XCTestCase {
    private func servingEnsemble() throws -> MiniEnsemble {
        let e = try MiniEnsemble()
        for _ in 0..<30 where Set(e.modes.values) != ["leader", "follower"] { e.tick() }
        XCTAssertEqual(e.modes.values.sorted(), ["follower", "follower", "leader"], "modes \(e.modes)")
        return e
    }

    func testElectsTheHighestIdWhenLogsAreEqual() throws {
        let e = try servingEnsemble()
        XCTAssertEqual(e.modes[3], "leader")
        XCTAssertEqual(e.cores[3]!.ensemble!.zab.followerCounts?.synced, 2)
        XCTAssertTrue(e.cores[1]!.fourLetterWordText("srvr").contains("Mode: follower"))
    }

    func testWriteThroughAFollowerIsAnsweredThereAndAppliedEverywhere() throws {
        let e = try servingEnsemble()
        let (conn, session) = e.connect(1, conn: 1)
        XCTAssertNotEqual(session, 0, "the forwarded createSession was answered on the follower")
        let create = Request.create(CreateRequest(path: "/x", data: [1, 2], acl: ACL.openUnsafe, flags: 0))
        let replies = e.request(1, conn: conn, xid: 1, create)
        XCTAssertEqual(replies.map(\.0.err), [0])
        XCTAssertEqual(replies.map(\.0.xid), [1])
        for id in [1, 2, 3] as [ServerId] {
            XCTAssertNotNil(e.cores[id]!.tree.exists("/x"), "server \(id)")
            XCTAssertNotNil(e.cores[id]!.tree.sessions[session], "server \(id) knows the session")
        }
        // The leader's prepare fails; the error comes back to the follower's client through the committed stream.
        let again = e.request(1, conn: conn, xid: 2, create)
        XCTAssertEqual(again.map(\.0.err), [ErrorCode.nodeExists.rawValue])
    }

    func testSyncOnAFollowerIsAnsweredAfterTheLeadersCommits() throws {
        let e = try servingEnsemble()
        let (leaderConn, _) = e.connect(3, conn: 1)
        let (followerConn, _) = e.connect(2, conn: 1)
        // The follower does not yet know this write when it receives the sync in the same settle round.
        e.perform(3, e.cores[3]!.onPacket(
            leaderConn, Request.create(CreateRequest(path: "/s", data: nil, acl: ACL.openUnsafe, flags: 0)).packet(xid: 1),
            now: e.now))
        e.perform(2, e.cores[2]!.onPacket(followerConn, Request.sync(SyncRequest(path: "/s")).packet(xid: 5), now: e.now))
        XCTAssertTrue(e.takeSent(2).isEmpty, "sync must wait for the marker to come back")
        e.settle()
        let replies = e.takeSent(2)
        XCTAssertEqual(replies.count, 1)
        var r = JuteReader(replies[0].1)
        let header = try r.read(ReplyHeader.self)
        XCTAssertEqual(header.xid, 5)
        XCTAssertEqual(try SyncResponse(from: &r).path, "/s")
        XCTAssertNotNil(e.cores[2]!.tree.exists("/s"), "the write before the sync is visible after it")
    }

    func testLosingTheLeaderClosesClientsAndANewLeaderTakesOver() throws {
        let e = try servingEnsemble()
        let (conn, _) = e.connect(1, conn: 1)
        XCTAssertEqual(e.request(1, conn: conn, xid: 1,
                                 .create(CreateRequest(path: "/kept", data: nil, acl: ACL.openUnsafe, flags: 0))).map(\.0.err), [0])
        e.isolated = [3]
        for id in [1, 2] as [ServerId] { e.perform(id, e.cores[id]!.onPeerDisconnected(3, now: e.now)) }
        e.settle()
        XCTAssertEqual(e.closed[1], [conn], "the follower dropped its client when the leader went away")
        for _ in 0..<30 where e.modes[2] != "leader" { e.tick() }
        XCTAssertEqual(e.modes[2], "leader")
        XCTAssertEqual(e.modes[1], "follower")
        let (conn2, session2) = e.connect(1, conn: 2)
        XCTAssertNotEqual(session2, 0)
        XCTAssertEqual(e.request(1, conn: conn2, xid: 1,
                                 .create(CreateRequest(path: "/after", data: nil, acl: ACL.openUnsafe, flags: 0))).map(\.0.err), [0])
        XCTAssertNotNil(e.cores[2]!.tree.exists("/kept"))
        XCTAssertNotNil(e.cores[2]!.tree.exists("/after"))
        XCTAssertNil(e.cores[3]!.tree.exists("/after"), "the isolated old leader commits nothing new")
    }

    /// A leader whose ticks stopped for longer than the liveness timeout (SIGSTOP, a stall) steps down at its next
    /// tick instead of serving — its followers have moved on meanwhile — for another timeout of its own ticks; a
    /// shorter gap changes nothing, and followers never count a gap as silence.
    func testLeaderThatMissedATimeoutOfTicksStepsDownAtOnce() throws {
        let e = try MiniEnsemble()
        tickFine(e, until: { e.modes.values.sorted() == ["follower", "follower", "leader"] }, maxMs: 5_000)
        let leader = e.modes.first { $0.value == "leader" }!.key
        let follower = e.modes.first { $0.value == "follower" }!.key
        tickFine(e, until: { false }, maxMs: 200)  // every core has ticked recently
        e.now.advance(byMs: 600)
        e.perform(leader, e.cores[leader]!.onZabTick(now: e.now))
        e.perform(follower, e.cores[follower]!.onZabTick(now: e.now))
        XCTAssertEqual(e.modes[leader], "leader", "a gap shorter than the timeout is not a stall")
        e.settle()
        tickFine(e, until: { false }, maxMs: 100)
        e.now.advance(byMs: 1_500)
        e.perform(follower, e.cores[follower]!.onZabTick(now: e.now))
        XCTAssertEqual(e.modes[follower], "follower", "a follower does not count its own stall as silence")
        e.perform(leader, e.cores[leader]!.onZabTick(now: e.now))
        XCTAssertEqual(e.modes[leader], "looking")
    }

    /// After a stall the first thing a leader sees may be a message or a client packet, not its timer: it steps
    /// down before handling it, instead of answering from a leadership its followers have left (EnsembleSim seed
    /// 380: a stale NEWLEADER ack waiting in the socket made such a leader serve stale syncs and reads).
    func testAStalledLeaderStepsDownBeforeItHandlesWhatWaited() throws {
        let e = try MiniEnsemble()
        tickFine(e, until: { e.modes.values.sorted() == ["follower", "follower", "leader"] }, maxMs: 5_000)
        let leader = e.modes.first { $0.value == "leader" }!.key
        let follower = e.modes.first { $0.value == "follower" }!.key
        tickFine(e, until: { false }, maxMs: 200)
        e.now.advance(byMs: 2_500)  // more than the liveness timeout and initLimit (10 × 200 ms)
        e.perform(leader, e.cores[leader]!.onQuorumMessage(from: follower, .pong(epoch: e.cores[leader]!.ensemble!.zab.epoch!), now: e.now))
        XCTAssertEqual(e.modes[leader], "looking", "a quorum message after the stall")

        let f = try MiniEnsemble()
        tickFine(f, until: { f.modes.values.sorted() == ["follower", "follower", "leader"] }, maxMs: 5_000)
        let leader2 = f.modes.first { $0.value == "leader" }!.key
        openAndConnect(f, leader2, conn: 7)
        tickFine(f, until: { false }, maxMs: 200)
        f.now.advance(byMs: 2_500)
        let answers = f.request(leader2, conn: 7, xid: 1, .sync(SyncRequest(path: "/")))
        XCTAssertEqual(f.modes[leader2], "looking", "a client packet after the stall")
        XCTAssertTrue(answers.allSatisfy { $0.0.err != 0 || $0.0.xid != 1 }, "no sync answered from the old leadership: \(answers.map(\.0))")
    }

    /// Zab ticks at the real 50 ms pace (`MiniEnsemble.tick` jumps a whole tickTime), with the core's tick too.
    private func tickFine(_ e: MiniEnsemble, until done: () -> Bool, maxMs: Int64) {
        let end = e.nowMs + maxMs
        while !done() && e.nowMs < end {
            e.now.advance(byMs: 50)
            for id in e.cores.keys.sorted() {
                e.perform(id, e.cores[id]!.onZabTick(now: e.now))
                e.perform(id, e.cores[id]!.onTick(now: e.now))
            }
            e.settle()
        }
    }

    private func openAndConnect(_ e: MiniEnsemble, _ id: ServerId, conn: UInt64, timeOut: Int32 = 4000) {
        e.cores[id]!.onOpened(conn, remote: "/127.0.0.1:\(40000 + conn)", ip: "127.0.0.1", now: e.now)
        let request = ConnectRequest(lastZxidSeen: 0, timeOut: timeOut, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16))
        e.perform(id, e.cores[id]!.onPacket(conn, request.juteBytes(), now: e.now))
        e.settle()
    }

    func testAHandshakeDuringAnElectionWaitsAndIsAnsweredWhenTheServerServes() throws {
        let e = try servingEnsemble()
        e.isolated = [3]
        for id in [1, 2] as [ServerId] { e.perform(id, e.cores[id]!.onPeerDisconnected(3, now: e.now)) }
        e.settle()
        XCTAssertEqual(e.modes[1], "looking")
        _ = e.takeSent(1)
        e.closed = [:]
        openAndConnect(e, 1, conn: 7)
        // A request right behind the handshake, as the Java client sends auth and setWatches.
        e.perform(1, e.cores[1]!.onPacket(7, Request.create(CreateRequest(path: "/held", data: nil, acl: ACL.openUnsafe,
                                                                          flags: 0)).packet(xid: 1), now: e.now))
        e.settle()
        XCTAssertTrue(e.takeSent(1).isEmpty, "nothing to answer before there is a leader")
        XCTAssertNil(e.closed[1], "and not refused either")
        XCTAssertEqual(e.cores[1]!.ensemble!.heldConnects.map(\.id), [7])
        tickFine(e, until: { e.cores[1]!.ensemble!.zab.isServing && e.cores[2]!.ensemble!.zab.isServing }, maxMs: 900)
        XCTAssertEqual(e.modes[2], "leader", "elected within the hold")
        e.settle()
        let out = e.takeSent(1).filter { $0.0 == 7 }
        XCTAssertEqual(out.count, 2, "the handshake's answer, then the create's")
        guard out.count == 2 else { return }
        var r = JuteReader(out[0].1)
        XCTAssertNotEqual(try ConnectResponse(from: &r).sessionId, 0)
        var h = JuteReader(out[1].1)
        let header = try h.read(ReplyHeader.self)
        XCTAssertEqual([header.xid, header.err], [1, 0])
        XCTAssertNotNil(e.cores[2]!.tree.exists("/held"))
        XCTAssertNil(e.closed[1])
        XCTAssertEqual(e.cores[1]!.stats.connectsHeld, 1)
        XCTAssertTrue(e.cores[1]!.ensemble!.heldConnects.isEmpty)
    }

    func testAHeldHandshakeIsRefusedAfterItsWaitAndAClosedOneIsForgotten() throws {
        let e = try servingEnsemble()
        e.isolated = [2, 3]
        for id in [2, 3] as [ServerId] { e.perform(1, e.cores[1]!.onPeerDisconnected(id, now: e.now)) }
        e.settle()
        XCTAssertEqual(e.modes[1], "looking")
        e.closed = [:]
        let start = e.nowMs
        openAndConnect(e, 1, conn: 8)
        openAndConnect(e, 1, conn: 9, timeOut: 2000)  // waits a quarter of its session timeout: 500 ms
        openAndConnect(e, 1, conn: 10)
        e.perform(1, e.cores[1]!.onClosed(10, now: e.now))
        tickFine(e, until: { e.closed[1]?.contains(9) ?? false }, maxMs: 2000)
        XCTAssertEqual(e.closed[1], [9])
        XCTAssertEqual(e.nowMs - start, 500)
        tickFine(e, until: { e.closed[1]?.contains(8) ?? false }, maxMs: 2000)
        XCTAssertEqual(e.closed[1], [9, 8], "refused at last, as before holding existed; 10 had gone")
        XCTAssertEqual(e.nowMs - start, 1000)
        XCTAssertTrue(e.cores[1]!.ensemble!.heldConnects.isEmpty)
        XCTAssertTrue(e.takeSent(1).isEmpty)
    }

    func testAnObserverServesReadsAndForwardsWrites() throws {
        let e = try MiniEnsemble(size: 4, observers: [4])
        for _ in 0..<30 where e.modes.values.sorted() != ["follower", "follower", "leader", "observer"] { e.tick() }
        XCTAssertEqual(e.modes[4], "observer", "modes \(e.modes)")
        XCTAssertNotEqual(e.modes.first { $0.value == "leader" }?.key, 4)
        XCTAssertTrue(e.cores[4]!.fourLetterWordText("srvr").contains("Mode: observer"))
        let (conn, session) = e.connect(4, conn: 1)
        XCTAssertNotEqual(session, 0)
        XCTAssertEqual(e.request(4, conn: conn, xid: 1,
                                 .create(CreateRequest(path: "/o", data: [9], acl: ACL.openUnsafe, flags: 0))).map(\.0.err), [0])
        for id in [1, 2, 3, 4] as [ServerId] { XCTAssertNotNil(e.cores[id]!.tree.exists("/o"), "server \(id)") }
        let leader = e.modes.first { $0.value == "leader" }!.key
        XCTAssertEqual(e.cores[leader]!.ensemble!.zab.followerCounts?.synced, 2, "observers are not followers")
    }

    func testForwardedWriteRoundTrip() throws {
        let ops: [ForwardedWrite] = [
            .write(sessionId: 5, authIds: [Id(scheme: "digest", id: "u:h")], cxid: 9, op: .multi([
                .create(path: "/a", data: nil, acl: ACL.openUnsafe, mode: .persistentSequential, ttlMs: nil),
                .create(path: "/t", data: [], acl: [], mode: .persistentWithTTL, ttlMs: 0),
                .delete(path: "/a", version: -1), .setData(path: "/b", data: [7], version: 2),
                .check(path: "/c", version: 1),
            ])),
            .write(sessionId: 1, authIds: [], cxid: 0, op: .setACL(path: "/d", acl: ACL.openUnsafe, version: 0)),
            .write(sessionId: 1, authIds: [], cxid: 0, op: .createSession(sessionId: 77, timeoutMs: 4000)),
            .write(sessionId: 1, authIds: [], cxid: 3, op: .closeSession(sessionId: 77)),
            .write(sessionId: 0, authIds: [], cxid: 0, op: .deleteContainer(path: "/e")),
            .write(sessionId: 2, authIds: [], cxid: 5, op: .reconfig(joining: nil, leaving: "3", newMembers: nil, fromConfig: 7)),
            .touch([1, 2, 3]),
        ]
        for op in ops { XCTAssertEqual(try ForwardedWrite.decode(op.encode()), op) }
        XCTAssertEqual(try SyncToken.decode(SyncToken(sessionId: 4, cxid: 11).encode()), SyncToken(sessionId: 4, cxid: 11))
        XCTAssertThrowsError(try ForwardedWrite.decode([0, 0, 0, 9]))
    }
}

extension ServerCore {
    func fourLetterWordText(_ word: String) -> String { fourLetterWord(word, host: HostFacts(), now: Now(monoMs: 0, wallMs: 0)) }
}
