import WarrenJute
import WarrenZab

@testable import WarrenServer

/// One simulated ZooKeeper client (a session, reconnecting to another server when its connection is lost) that
/// checks the guarantees ZooKeeper gives a client on every reply. See `EnsembleSim`.
final class SimClient {
    enum State { case idle, connecting, connected }

    enum Op {
        case setData(path: String, value: String)
        case create(path: String, value: String)
        /// The ephemeral node every new session creates (checked against session expiry at the end).
        case createEphemeral(path: String)
        /// A read that must see at least the version (mzxid) `atLeast` of the node; `watch` leaves a data watch.
        case getData(path: String, atLeast: Int64, watch: Bool = false)
        /// `ackedBefore`: the newest acknowledged write to `path` when the sync was sent; the read after the
        /// sync must see it.
        case sync(path: String, ackedBefore: Int64)
    }

    let index: Int
    private(set) var state = State.idle
    private(set) var stateSinceMs: Int64 = 0
    private(set) var server: ServerId?
    private(set) var conn: UInt64 = 0
    private var sessionId: Int64 = 0
    private var passwd = [UInt8](repeating: 0, count: 16)
    /// The highest zxid any reply of this session carried: sent as `lastZxidSeen` when reconnecting.
    private(set) var lastZxidSeen: Int64 = 0
    private var nextXid: Int32 = 1
    /// Requests sent on the current connection and not answered, in the order sent, with when they were sent.
    private(set) var outstanding: [(xid: Int32, op: Op, sentMs: Int64)] = []
    /// Per key, the newest version (mzxid) this client wrote or read: later reads must not see older ones.
    var seen: [String: Int64] = [:]
    /// Data watches this session holds (set by a read, not yet fired), with the version that read returned: the
    /// event must come before any reply showing a newer version, and the watches survive reconnects (SetWatches).
    private(set) var watches: [String: Int64] = [:]
    var writes = 0
    /// While asleep the client does nothing (a stopped client process).
    var asleepUntilMs: Int64 = 0
    /// Sessions this client has started.
    private var sessions = 0
    private(set) var replies = 0

    init(index: Int) { self.index = index }

    /// ZooKeeper's promise: a client sees a watch event for a node before it sees the node's new data.
    private func checkWatch(_ sim: EnsembleSim, _ path: String, shows mzxid: Int64, in what: String) {
        if let watched = watches[path], mzxid > watched {
            sim.fail("client \(index): \(what) shows \(path) at \(mzxid.hex) before the event of its watch set at \(watched.hex)")
        }
    }

    func connect(_ sim: EnsembleSim, lastZxidSeen: Int64) {
        guard let (id, c) = sim.clientOpen(self) else { return }
        server = id
        conn = c
        state = .connecting
        stateSinceMs = sim.nowMs
        outstanding = []
        let request = ConnectRequest(lastZxidSeen: lastZxidSeen, timeOut: 4000, sessionId: sessionId, passwd: passwd)
        sim.note("client \(index) connects to \(id) (conn \(c), session \(sessionId.hex), seen \(lastZxidSeen.hex))")
        sim.clientSend(self, request.juteBytes())
    }

    /// The connection ended (closed by the server, or the server crashed): what was outstanding has an unknown
    /// outcome, like a ConnectionLoss; the session reconnects at the next step.
    func connectionLost(_ sim: EnsembleSim, reason: String) {
        guard state != .idle else { return }
        sim.note("client \(index) lost conn \(conn) (\(reason)), \(outstanding.count) outstanding")
        state = .idle
        stateSinceMs = sim.nowMs
        outstanding = []
        server = nil
    }

    func request(_ sim: EnsembleSim, _ op: Op) {
        let xid = nextXid
        nextXid += 1
        let request: Request
        switch op {
        case let .setData(path, value): request = .setData(SetDataRequest(path: path, data: Array(value.utf8), version: -1))
        case let .create(path, value):
            request = .create(CreateRequest(path: path, data: Array(value.utf8), acl: ACL.openUnsafe, flags: 0))
        case let .createEphemeral(path):
            request = .create(CreateRequest(path: path, data: [], acl: ACL.openUnsafe, flags: 1))
        case let .getData(path, _, watch): request = .getData(GetDataRequest(path: path, watch: watch))
        case let .sync(path, _): request = .sync(SyncRequest(path: path))
        }
        outstanding.append((xid, op, sim.nowMs))
        sim.note("client \(index) sends \(xid) \(op)")
        sim.clientSend(self, request.packet(xid: xid))
    }

    func receive(_ sim: EnsembleSim, _ bytes: [UInt8]) {
        var r = JuteReader(bytes)
        if state == .connecting {
            guard let response = try? ConnectResponse(from: &r) else { return sim.fail("client \(index): bad handshake reply") }
            if response.timeOut <= 0 {
                watches = [:]
                sim.note("client \(index): session \(sessionId.hex) expired; starting a new one")
                sim.sessionsExpired += 1
                sessionId = 0
                lastZxidSeen = 0
                seen = [:]
                state = .idle
                return
            }
            if sessionId != 0 && response.sessionId != sessionId {
                sim.fail("client \(index): resumed session \(sessionId.hex) answered as \(response.sessionId.hex)")
            }
            let isNew = sessionId == 0
            sessionId = response.sessionId
            passwd = response.passwd
            state = .connected
            stateSinceMs = sim.nowMs
            if isNew {
                sessions += 1
                sim.followUp(self, .createEphemeral(path: "/sim-e\(index)-\(sessions)"))
            } else if !watches.isEmpty {
                // As ZooKeeper's clients do: the watches go to the new server, which fires at once those whose
                // node changed after the last zxid this session saw.
                let set = SetWatches(relativeZxid: lastZxidSeen, dataWatches: watches.keys.sorted(), existWatches: [],
                                     childWatches: [])
                sim.note("client \(index) re-sets watches \(watches.keys.sorted()) from \(lastZxidSeen.hex)")
                sim.clientSend(self, Request.setWatches(set).packet(xid: Xid.setWatches))
            }
            return
        }
        guard state == .connected, let header = try? r.read(ReplyHeader.self) else { return }
        if header.xid == Xid.notification {
            guard let event = try? r.read(WatcherEvent.self) else { return sim.fail("client \(index): bad notification") }
            sim.note("client \(index) event \(event.type) \(event.path)")
            guard event.type == EventType.nodeDataChanged.rawValue || event.type == EventType.nodeDeleted.rawValue else { return }
            sim.watchEvents += 1
            if watches.removeValue(forKey: event.path) == nil {
                sim.fail("client \(index): event \(event.type) for \(event.path), which it does not watch")
            }
            return
        }
        if header.xid == Xid.ping || header.xid == Xid.setWatches { return }
        replies += 1
        sim.note("client \(index) reply \(header.xid) zxid \(header.zxid.hex) err \(header.err)")
        guard let first = outstanding.first else {
            return sim.fail("client \(index): reply xid \(header.xid) with nothing outstanding")
        }
        guard first.xid == header.xid else {
            return sim.fail("client \(index): reply xid \(header.xid) before \(first.xid) (FIFO)")
        }
        outstanding.removeFirst()
        if header.zxid < lastZxidSeen && header.err == 0 {
            sim.fail("client \(index): reply zxid \(header.zxid.hex) older than \(lastZxidSeen.hex) seen before")
        }
        lastZxidSeen = max(lastZxidSeen, header.zxid)
        let err = ErrorCode(rawValue: header.err)
        switch first.op {
        case let .setData(path, value):
            if err == .noNode {
                sim.followUp(self, .create(path: path, value: value))
                return
            }
            guard err == .ok, let stat = try? r.read(StatResponse.self).stat else { return }
            sim.recordAck(key: path, zxid: stat.mzxid, value: value, sentMs: first.sentMs)
            sim.observe(key: path, version: stat.version, mzxid: stat.mzxid, value: value, by: "client \(index)'s write")
            checkWatch(sim, path, shows: stat.mzxid, in: "its write's reply")
            seen[path] = max(seen[path] ?? 0, stat.mzxid)
        case let .create(path, value):
            guard err == .ok else { return }
            sim.recordAck(key: path, zxid: header.zxid, value: value, sentMs: first.sentMs)
            seen[path] = max(seen[path] ?? 0, header.zxid)
        case let .createEphemeral(path):
            if err == .ok { sim.recordEphemeral(path, session: sessionId) }
        case let .getData(path, atLeast, watch):
            guard err == .ok, let response = try? r.read(GetDataResponse.self) else { return }
            let mzxid = response.stat.mzxid
            checkWatch(sim, path, shows: mzxid, in: "a read")
            if watch { watches[path] = mzxid }
            sim.observe(key: path, version: response.stat.version, mzxid: mzxid,
                        value: String(decoding: response.data ?? [], as: UTF8.self), by: "client \(index)'s read")
            if mzxid < atLeast {
                sim.fail("client \(index): read of \(path) saw version \(mzxid.hex), older than \(atLeast.hex) it needed")
            }
            seen[path] = max(seen[path] ?? 0, mzxid)
        case let .sync(path, ackedBefore):
            guard err == .ok else { return }
            // The read after the sync must see every write acknowledged before the sync was sent.
            sim.followUp(self, .getData(path: path, atLeast: max(ackedBefore, seen[path] ?? 0)))
        }
    }
}
