import Logging
import WarrenJute
import WarrenTree
import XCTest

@testable import WarrenCore
@testable import WarrenServer

/// One `CoreAction`, decoded into what a client (or the shell) would see. Transcripts of these are compared whole,
/// so a test states every packet, persist and close the core produced, in order.
enum Event: Equatable, CustomStringConvertible {
    case connected(UInt64, ConnectResponse)
    case reply(UInt64, ReplyHeader, Response)
    case watch(UInt64, WatcherEvent)
    case close(UInt64)
    /// The zxids of the records handed to the log.
    case persist([Int64])
    case reading(UInt64, Bool)
    case snapshot(Int64)
    case rollLog

    var description: String {
        switch self {
        case let .connected(c, r): return "connected(\(c), timeOut: \(r.timeOut), session: \(r.sessionId))"
        case let .reply(c, h, r): return "reply(\(c), xid: \(h.xid), zxid: \(h.zxid), err: \(h.err), \(r))"
        case let .watch(c, e): return "watch(\(c), type: \(e.type), state: \(e.state), \(e.path))"
        case let .close(c): return "close(\(c))"
        case let .persist(z): return "persist(\(z))"
        case let .reading(c, on): return "reading(\(c), \(on))"
        case let .snapshot(z): return "snapshot(\(z))"
        case .rollLog: return "rollLog"
        }
    }
}

/// Drives a `ServerCore` the way `ServerShell` does, without sockets, disk or a clock.
///
/// It remembers the opcode of every request it sends (by connection and xid) so reply bodies can be decoded, and
/// which connections are waiting for a `ConnectResponse` (it has no `ReplyHeader`). Time only moves when a test
/// says so: both clocks together (`nowMs`, `tick(at:)`), or the wall clock alone (`stepWallClock`).
final class CoreDriver {
    let core: ServerCore
    /// What the core is told the time is.
    var now: Now
    /// The monotonic clock; setting it moves the wall clock by as much (time passing).
    var nowMs: Int64 {
        get { now.monoMs }
        set { now.advance(byMs: newValue - now.monoMs) }
    }
    private var nextConnectionId: UInt64 = 1
    private var requestOps: [UInt64: [Int32: OpCode]] = [:]
    private var awaitingConnectResponse: Set<UInt64> = []
    /// Zxids handed to the log by `.persist` actions, in order.
    private(set) var persistedZxids: [Int64] = []
    /// Every `.persist` record's payload by zxid, for tests that look inside a transaction.
    private(set) var persistedPayloads: [Int64: [UInt8]] = [:]

    static let startMs: Int64 = 1_000_000
    /// The wall clock at the start: a plausible date (2026-11-25), far from the monotonic reading, so a test can
    /// tell which clock a value came from.
    static let startWallMs: Int64 = 1_795_564_800_000

    /// tickTime 2000 ms, so session timeouts are clamped to [4000, 40000] ms.
    static func config(_ edit: (inout ServerConfig) -> Void = { _ in }) -> ServerConfig {
        var c = ServerConfig()
        c.tickTimeMs = 2000
        c.dataDir = ""
        c.snapCount = 1_000_000
        edit(&c)
        return c
    }

    init(config: ServerConfig = CoreDriver.config()) throws {
        now = Now(monoMs: Self.startMs, wallMs: Self.startWallMs)
        let logger = Logger(label: "warren-test") { _ in SwiftLogNoOpLogHandler() }
        core = try ServerCore(
            config: config, recovered: RecoveredServerState(tree: DataTree(config: config.treeConfig), sessionSecret: 42),
            now: now, logger: logger)
    }

    // MARK: events into the core

    func open(ip: String = "127.0.0.1") -> UInt64 {
        let id = nextConnectionId
        nextConnectionId += 1
        core.onOpened(id, remote: "/\(ip):\(40000 + id)", ip: ip, now: now)
        return id
    }

    /// Sends a ConnectRequest; the next packet to `conn` is decoded as its ConnectResponse.
    func sendConnect(_ conn: UInt64, _ request: ConnectRequest) -> [Event] {
        awaitingConnectResponse.insert(conn)
        return events(core.onPacket(conn, request.juteBytes(), now: now))
    }

    func send(_ conn: UInt64, xid: Int32, _ request: Request) -> [Event] {
        requestOps[conn, default: [:]][xid] = request.opCode
        return events(core.onPacket(conn, request.packet(xid: xid), now: now))
    }

    /// Raw bytes as one packet, for malformed input.
    func sendRaw(_ conn: UInt64, _ bytes: [UInt8]) -> [Event] {
        events(core.onPacket(conn, bytes, now: now))
    }

    func durable(upTo zxid: Int64) -> [Event] {
        events(core.onDurable(upTo: zxid, now: now))
    }

    /// Reports everything persisted so far as durable.
    func durableAll() -> [Event] {
        durable(upTo: persistedZxids.last ?? 0)
    }

    func tick(at ms: Int64) -> [Event] {
        nowMs = ms
        return events(core.onTick(now: now))
    }

    /// Sets or steps the wall clock by `ms` (either way), as an administrator or NTP can; the monotonic clock
    /// does not move.
    func stepWallClock(byMs ms: Int64) {
        now = Now(monoMs: now.monoMs, wallMs: now.wallMs + ms)
    }

    func closed(_ conn: UInt64) -> [Event] {
        events(core.onClosed(conn, now: now))
    }

    func persistFailed() -> [Event] {
        struct DiskFull: Error {}
        return events(core.onPersistFailed(DiskFull(), now: now))
    }

    // MARK: conveniences

    /// A full new-session handshake: returns the connection and the server's answer.
    func connectNewSession(timeOutMs: Int32 = 10_000, file: StaticString = #filePath, line: UInt = #line) throws
        -> (conn: UInt64, response: ConnectResponse)
    {
        let conn = open()
        _ = sendConnect(conn, ConnectRequest(lastZxidSeen: 0, timeOut: timeOutMs, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16)))
        let answer = durableAll()
        guard answer.count == 1, case let .connected(c, response) = answer[0], c == conn else {
            XCTFail("handshake answered \(answer)", file: file, line: line)
            throw DriverError.unexpected(answer)
        }
        return (conn, response)
    }

    /// Sends a write and reports it durable; returns everything that came out of both steps.
    func write(_ conn: UInt64, xid: Int32, _ request: Request) -> [Event] {
        send(conn, xid: xid, request) + durableAll()
    }

    // MARK: decoding

    /// The events `actions` stand for, after checking the core's invariants (each connection's `outstanding`
    /// against its pipeline), so every transcript checks them after every step.
    func events(_ actions: [CoreAction]) -> [Event] {
        for line in core.outstandingDisagreements() { XCTFail("core invariant: \(line)") }
        return actions.map(event)
    }

    private func event(_ action: CoreAction) -> Event {
        switch action {
        case let .send(conn, bytes):
            return decodePacket(conn, bytes)
        case let .close(conn, _):
            return .close(conn)
        case let .setReading(conn, on):
            return .reading(conn, on)
        case let .persist(records):
            for record in records {
                persistedZxids.append(record.zxid)
                persistedPayloads[record.zxid] = record.payload
            }
            return .persist(records.map(\.zxid))
        case let .snapshot(zxid, _):
            return .snapshot(zxid)
        case .rollLog:
            return .rollLog
        case .quorumSend, .quorumSendSnapshot, .truncateLog, .installSnapshot, .persistEpochs, .membershipChanged:
            preconditionFailure("ensemble action from a standalone core: \(action)")
        }
    }

    private func decodePacket(_ conn: UInt64, _ bytes: [UInt8]) -> Event {
        var r = JuteReader(bytes)
        if awaitingConnectResponse.remove(conn) != nil {
            let response = try! ConnectResponse(from: &r)
            precondition(r.isAtEnd, "trailing bytes after ConnectResponse: \(bytes)")
            return .connected(conn, response)
        }
        let header = try! r.read(ReplyHeader.self)
        if header.xid == Xid.notification {
            let event = try! WatcherEvent(from: &r)
            precondition(r.isAtEnd, "trailing bytes after WatcherEvent: \(bytes)")
            return .watch(conn, event)
        }
        let op: OpCode
        switch header.xid {
        case Xid.ping: op = .ping
        case Xid.auth: op = .auth
        case Xid.setWatches: op = .setWatches
        default: op = requestOps[conn]?[header.xid] ?? .closeSession
        }
        let response = header.err == 0 ? try! Response.decode(for: op, body: &r) : .empty
        precondition(r.isAtEnd, "trailing bytes after reply to \(op) (err \(header.err)): \(bytes)")
        return .reply(conn, header, response)
    }
}

enum DriverError: Error {
    case unexpected([Event])
}

// MARK: request and event builders, so transcripts read like the protocol

extension Request {
    static func create(_ path: String, _ data: String = "", mode: CreateMode = .persistent) -> Request {
        .create(CreateRequest(path: path, data: Array(data.utf8), acl: ACL.openUnsafe, mode: mode))
    }
    static func setData(_ path: String, _ data: String, version: Int32 = -1) -> Request {
        .setData(SetDataRequest(path: path, data: Array(data.utf8), version: version))
    }
    static func getData(_ path: String, watch: Bool = false) -> Request {
        .getData(GetDataRequest(path: path, watch: watch))
    }
    static func exists(_ path: String, watch: Bool = false) -> Request {
        .exists(ExistsRequest(path: path, watch: watch))
    }
    static func getChildren(_ path: String, watch: Bool = false) -> Request {
        .getChildren(GetChildrenRequest(path: path, watch: watch))
    }
    static func delete(_ path: String, version: Int32 = -1) -> Request {
        .delete(DeleteRequest(path: path, version: version))
    }
}

extension Event {
    /// A reply with an error code and, as ZooKeeper sends for errors, no body.
    static func error(_ conn: UInt64, xid: Int32, zxid: Int64, _ err: ErrorCode) -> Event {
        .reply(conn, ReplyHeader(xid: xid, zxid: zxid, error: err), .empty)
    }
    static func ok(_ conn: UInt64, xid: Int32, zxid: Int64, _ response: Response = .empty) -> Event {
        .reply(conn, ReplyHeader(xid: xid, zxid: zxid, error: .ok), response)
    }
    static func watch(_ conn: UInt64, _ type: EventType, _ path: String) -> Event {
        .watch(conn, WatcherEvent(type: type, state: .syncConnected, path: path))
    }

    /// The reply's header, if this is a reply.
    var replyHeader: ReplyHeader? {
        if case let .reply(_, h, _) = self { return h }
        return nil
    }
    var response: Response? {
        if case let .reply(_, _, r) = self { return r }
        return nil
    }
}

extension Now {
    /// Both clocks `ms` later: time passing, no step.
    mutating func advance(byMs ms: Int64) {
        self = Now(monoMs: monoMs + ms, wallMs: wallMs + ms)
    }

    func advanced(byMs ms: Int64) -> Now {
        var later = self
        later.advance(byMs: ms)
        return later
    }
}
