import Foundation
import WarrenJute
import WarrenTestSupport
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// A standalone `ServerCore` driven by the transcripts in `testdata/*.txt` (etcd-raft's datadriven format, see
/// `Transcript`; `TRANSCRIPT_REWRITE=1` writes the actual outputs back). Each file starts a fresh core on
/// `CoreDriver`'s clocks and settings (tickTime 2000 ms); the core's invariants are checked after every command.
///
/// Commands (C is a connection number as `open` printed it; xids count up per connection from 1):
///   `open`                           a new connection; prints `conn C`
///   `connect C [timeout=MS] [resume=C2] [zxid=Z]`  a ConnectRequest: a new session, or C2's session resumed
///   `create C PATH [data=D] [mode=p|e|s|es|c]`, `set C PATH DATA [version=V]`, `delete C PATH [version=V]`
///   `get C PATH [watch]`, `exists C PATH [watch]`, `children C PATH [watch]`, `sync C PATH`, `ping C`
///   `closesession C`                 the client's closeSession request
///   `closed C`                       the socket went away (the shell's `onClosed`)
///   `durable [upto=Z]`               the log reports records durable (all handed to it so far by default)
///   `persistfail`                    the log reports a failed write (a full disk)
///   `advance MS`                     both clocks move on by MS, then the shell's tick
///   `wallstep MS`                    only the wall clock steps (either way), as an administrator or NTP can
/// Output, one line per thing the core did, in order: `C connected session=… timeout=…`, `C reply xid=… zxid=…
/// <error> <body>`, `C watch <type> <path>`, `C close`, `C reading on|off`, `persist <zxids>`, `snapshot <zxid>`,
/// `rollLog`.
final class CoreTranscriptTests: XCTestCase {
    func testTranscripts() throws {
        try Transcript.checkAll(in: Transcript.directory()) { Runner().run }
    }

    final class Runner {
        private var driver: CoreDriver?
        private var xids: [UInt64: Int32] = [:]
        private var sessions: [UInt64: ConnectResponse] = [:]

        func run(_ b: Transcript.Block) throws -> String {
            func fail(_ why: String) -> TranscriptError { TranscriptError("line \(b.line): \(b.raw): \(why)") }
            if driver == nil { driver = try CoreDriver() }
            let d = driver!
            func conn(_ i: Int = 0) throws -> UInt64 {
                guard i < b.args.count, let c = UInt64(b.args[i]) else { throw fail("expected a connection number") }
                return c
            }
            func arg(_ i: Int) throws -> String {
                guard i < b.args.count else { throw fail("missing argument \(i + 1)") }
                return b.args[i]
            }
            let watch = b.args.contains("watch")
            func send(_ request: Request) throws -> [Event] {
                let c = try conn()
                let xid = xids[c, default: 0] + 1
                xids[c] = xid
                return d.send(c, xid: xid, request)
            }
            let events: [Event]
            switch b.command {
            case "open":
                return "conn \(d.open())"
            case "connect":
                let c = try conn()
                var session: Int64 = 0
                var password = [UInt8](repeating: 0, count: 16)
                if let r = b.options["resume"] {
                    guard let other = UInt64(r), let s = sessions[other] else { throw fail("no session on \(r)") }
                    session = s.sessionId
                    password = s.passwd
                }
                let timeout = Int32(b.options["timeout"] ?? "10000") ?? 10_000
                let zxid = Int64(b.options["zxid"] ?? "0") ?? 0
                events = d.sendConnect(c, ConnectRequest(lastZxidSeen: zxid, timeOut: timeout, sessionId: session, passwd: password))
            case "create":
                let modes: [String: CreateMode] = ["p": .persistent, "e": .ephemeral, "s": .persistentSequential,
                                                   "es": .ephemeralSequential, "c": .container]
                guard let mode = modes[b.options["mode"] ?? "p"] else { throw fail("mode is one of \(modes.keys.sorted())") }
                events = try send(.create(try arg(1), b.options["data"] ?? "", mode: mode))
            case "set":
                events = try send(.setData(try arg(1), try arg(2), version: Int32(b.options["version"] ?? "-1") ?? -1))
            case "delete":
                events = try send(.delete(try arg(1), version: Int32(b.options["version"] ?? "-1") ?? -1))
            case "get": events = try send(.getData(try arg(1), watch: watch))
            case "exists": events = try send(.exists(try arg(1), watch: watch))
            case "children": events = try send(.getChildren(try arg(1), watch: watch))
            case "sync": events = try send(.sync(SyncRequest(path: try arg(1))))
            case "ping":
                events = d.send(try conn(), xid: Xid.ping, .ping)
            case "closesession": events = try send(.closeSession)
            case "closed": events = d.closed(try conn())
            case "durable":
                events = b.options["upto"].flatMap { Int64($0) }.map { d.durable(upTo: $0) } ?? d.durableAll()
            case "persistfail": events = d.persistFailed()
            case "advance":
                guard let ms = Int64(try arg(0)) else { throw fail("advance MS") }
                events = d.tick(at: d.nowMs + ms)
            case "wallstep":
                guard let ms = Int64(try arg(0)) else { throw fail("wallstep MS") }
                d.stepWallClock(byMs: ms)
                return ""
            default:
                throw fail("unknown command")
            }
            for case let .connected(c, r) in events { sessions[c] = r }
            return events.map(Self.line).joined(separator: "\n")
        }

        static func line(_ e: Event) -> String {
            switch e {
            case let .connected(c, r):
                return "\(c) connected session=0x\(String(UInt64(bitPattern: r.sessionId), radix: 16)) timeout=\(r.timeOut)"
            case let .reply(c, h, r):
                let err = ErrorCode(rawValue: h.err).map { "\($0)" } ?? "err\(h.err)"
                let body = Self.body(r)
                return "\(c) reply xid=\(h.xid) zxid=\(h.zxid) \(err)" + (body.isEmpty ? "" : " " + body)
            case let .watch(c, w): return "\(c) watch \(EventType(rawValue: w.type).map { "\($0)" } ?? "type\(w.type)") \(w.path)"
            case let .close(c): return "\(c) close"
            case let .reading(c, on): return "\(c) reading \(on ? "on" : "off")"
            case let .persist(zxids): return "persist " + zxids.map(String.init).joined(separator: " ")
            case let .snapshot(z): return "snapshot \(z)"
            case .rollLog: return "rollLog"
            }
        }

        static func body(_ r: Response) -> String {
            func stat(_ s: Stat) -> String {
                var out = "czxid=\(s.czxid) mzxid=\(s.mzxid) pzxid=\(s.pzxid) v=\(s.version) cv=\(s.cversion) children=\(s.numChildren)"
                if s.ephemeralOwner != 0 { out += " owner=0x\(String(UInt64(bitPattern: s.ephemeralOwner), radix: 16))" }
                return out
            }
            switch r {
            case .empty: return ""
            case let .create(c): return c.path
            case let .exists(s), let .setData(s): return stat(s.stat)
            case let .getData(g): return "data=\(String(decoding: g.data ?? [], as: UTF8.self)) \(stat(g.stat))"
            case let .getChildren(g): return "[" + g.children.joined(separator: ",") + "]"
            case let .sync(s): return s.path
            default: return "\(r)"
            }
        }
    }
}
