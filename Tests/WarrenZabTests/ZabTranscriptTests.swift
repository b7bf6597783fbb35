import Foundation
import WarrenTestSupport
import XCTest
@testable import WarrenZab

/// The core driven by the transcripts in `testdata/*.txt` (see `Transcript`) over a `MiniCluster`.
///
/// Commands:
///   `server ID members=1p,2p,4o`  declare a server outside the membership (with its own), before `cluster`
///   `cluster 1p,2p,3p,4o`         start the ensemble (p: participant, o: observer) and the declared servers
///   `run [max=N]`                 tick until one leader serves and every server that is up serves under it in its
///                                 epoch; prints `status`
///   `tick [N]`                    N ticks (default 1), messages delivered after each
///   `propose NAME`                a client write through the serving leader (payload NAME)
///   `reconfig 1p,3p,4p`           the serving leader proposes that membership
///   `hold 2>3 4>3` / `release`    hold the messages on those links / let them go, in order
///   `down 1 2` / `up 1`           stop handling events for servers (peers see the connections break) / resume
///                                 with the state they had (their own connections broke meanwhile)
///   `status`                      one line per server: role, leader, epoch, membership, delivered count and last zxid
///   `delivered ID`                the payloads server ID delivered, in order
final class ZabTranscriptTests: XCTestCase {
    func testTranscripts() throws {
        try Transcript.checkAll(in: Transcript.directory()) {
            var driver = Driver()
            return { try driver.run($0) }
        }
    }

    struct Driver {
        var cluster: MiniCluster?
        var joining: [ServerId: [ServerId: MemberRole]] = [:]

        mutating func run(_ b: Transcript.Block) throws -> String {
            func c() throws -> MiniCluster {
                guard let cluster else { throw TranscriptError("line \(b.line): no cluster yet") }
                return cluster
            }
            func ids(_ words: [String]) throws -> [ServerId] {
                try words.map { w in
                    guard let id = ServerId(w) else { throw TranscriptError("line \(b.line): bad server id \(w)") }
                    return id
                }
            }
            switch b.command {
            case "server":
                guard let id = try ids(b.args).first, let m = b.options["members"] else { throw TranscriptError("line \(b.line): server ID members=…") }
                joining[id] = try Self.members(m)
                return ""
            case "cluster":
                cluster = MiniCluster(try Self.members(b.args.first ?? ""), joining: joining)
                return ""
            case "run":
                let c = try c()
                let max = Int(b.options["max"] ?? "100") ?? 100
                let ok = c.run(ticks: max) { Self.settled(c) }
                return (ok ? "" : "not serving after \(max) ticks\n") + Self.status(c)
            case "tick":
                try c().tick(Int(b.args.first ?? "1") ?? 1)
                return ""
            case "propose":
                let c = try c()
                guard c.servingLeader != nil else { return "no serving leader" }
                c.propose(Array((b.args.first ?? "").utf8))
                return ""
            case "reconfig":
                let c = try c()
                guard c.servingLeader != nil else { return "no serving leader" }
                c.propose(MiniCluster.reconfigPayload(try Self.members(b.args.first ?? "")))
                return ""
            case "hold":
                let c = try c()
                for link in b.args {
                    let ends = try ids(link.split(separator: ">").map(String.init))
                    guard ends.count == 2 else { throw TranscriptError("line \(b.line): a link is FROM>TO, got \(link)") }
                    c.heldLinks.insert(ends)
                }
                return ""
            case "release":
                try c().release()
                try c().pump()
                return ""
            case "down":
                // A crash as the transport reports it: the peers see their connections to it break.
                let c = try c()
                for id in try ids(b.args) {
                    c.down.insert(id)
                    Self.breakConnections(c, of: id, reportedBy: c.nodes.keys.filter { $0 != id })
                }
                c.pump()
                return ""
            case "up":
                // It handles events again, with the state it had (a paused process): its connections broke meanwhile.
                let c = try c()
                for id in try ids(b.args) {
                    c.down.remove(id)
                    for other in c.nodes.keys.sorted() where other != id { Self.breakConnections(c, of: other, reportedBy: [id]) }
                }
                c.pump()
                return ""
            case "status":
                return Self.status(try c())
            case "delivered":
                let c = try c()
                guard let id = try ids(b.args).first, let entries = c.delivered[id] else { throw TranscriptError("line \(b.line): delivered ID") }
                return entries.map(Self.describe).joined(separator: " ")
            default:
                throw TranscriptError("line \(b.line): unknown command \(b.command)")
            }
        }

        /// `reporters` learn that their connection to `peer` broke.
        static func breakConnections(_ c: MiniCluster, of peer: ServerId, reportedBy reporters: [ServerId]) {
            for r in reporters.sorted() { c.feed(r, .peerDisconnected(peer)) }
        }

        /// One serving leader, and every server that is up serving under it in its epoch.
        static func settled(_ c: MiniCluster) -> Bool {
            guard let l = c.servingLeader, let e = c.nodes[l]!.epoch else { return false }
            return c.nodes.values.allSatisfy { c.down.contains($0.id) || ($0.isServing && $0.leaderId == l && $0.epoch == e) }
        }

        static func members(_ text: String) throws -> [ServerId: MemberRole] {
            var out: [ServerId: MemberRole] = [:]
            for item in text.split(separator: ",") {
                guard let role = item.last, role == "p" || role == "o", let id = ServerId(item.dropLast()) else {
                    throw TranscriptError("bad member \(item) (ID then p or o)")
                }
                out[id] = role == "o" ? .observer : .participant
            }
            return out
        }

        static func text(_ members: [ServerId: MemberRole]) -> String {
            members.keys.sorted().map { "\($0)\(members[$0] == .observer ? "o" : "p")" }.joined(separator: ",")
        }

        static func zxid(_ z: Zxid) -> String { "\(z.epoch):\(z.counter)" }

        static func describe(_ e: LogEntry) -> String {
            if let m = MiniCluster.membership(e) { return "reconfig(\(text(m)))@\(zxid(e.zxid))" }
            return "\(String(decoding: e.payload, as: UTF8.self))@\(zxid(e.zxid))"
        }

        static func status(_ c: MiniCluster) -> String {
            c.nodes.keys.sorted().map { id in
                let n = c.nodes[id]!
                if c.down.contains(id) { return "\(id): down" }
                var line = "\(id): \(n.state)"
                if let l = n.leaderId, l != id { line += " leader=\(l)" }
                if let e = n.epoch { line += " epoch=\(e)" }
                if !n.isServing && n.state != .looking { line += " (syncing)" }
                line += " members=\(text(n.config.members)) delivered=\(c.delivered[id]!.count) last=\(zxid(n.lastDeliveredZxid))"
                return line
            }.joined(separator: "\n")
        }
    }
}
