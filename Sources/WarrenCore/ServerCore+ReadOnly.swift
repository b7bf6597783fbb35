import Logging
import WarrenJute
import WarrenTree
import WarrenZab

/// Read-only mode (`readonlymode.enabled`), as ZooKeeper's: an ensemble member that has been looking for a leader
/// for `readOnlyGraceMs` (ZooKeeper: max(2 s, tickTime)) decides it is partitioned and serves clients that allow
/// read-only sessions (ConnectRequest.readOnly) from its last tree.
///
/// - Handshakes: a read-only client gets a *local* session (not replicated: no quorum could commit it) and
///   ConnectResponse.readOnly = true; a session this server already knows is resumed the same way. A client that
///   does not allow read-only sessions is refused (connection closed), as ZooKeeper does.
/// - Requests: reads, exists, getChildren, watches as usual; every write, `sync`, `check`, `multi`, `reconfig`,
///   and closing a session that is not local, answer `NotReadOnly` (-119) and change nothing.
/// - `isro` answers `ro`, `srvr` says `Mode: read-only`.
/// - Leaving: as soon as Zab stops looking (this server found a leader, or leads), every client connection is
///   closed and the local sessions are forgotten, so clients reconnect and move to a read-write server (a
///   client's read-only session is unknown there: it gets a new one, as with ZooKeeper).
///
/// Local sessions never expire while the server stays read-only (only a leader expires sessions); they are bounded
/// in number (`readOnlySessionsMax`) and all forgotten when it rejoins.
package extension ServerCore {
    static let readOnlyGraceMsMin = 2000
    static let readOnlySessionsMax = 65_536

    /// How long a member looks for a leader before it serves read-only clients.
    var readOnlyGraceMs: Int64 { Int64(max(Self.readOnlyGraceMsMin, config.tickTimeMs)) }

    /// Whether this member serves read-only clients now.
    var isReadOnly: Bool { ensemble?.readOnly ?? false }

    /// On every Zab tick: enters read-only mode after the grace period of looking. Held handshakes are answered
    /// at once (read-only clients accepted, the others refused).
    func checkReadOnly(now: Now) -> [CoreAction] {
        guard config.readOnlyModeEnabled, let ens = ensemble, !ens.readOnly, ens.zab.state == .looking,
              let since = ens.lookingSinceMonoMs, now.monoMs - since >= readOnlyGraceMs else { return [] }
        ens.readOnly = true
        ens.mode = "read-only"
        logger.info("no quorum: serving read-only clients", metadata: ["zxid": "0x\(Self.hex(tree.lastProcessedZxid))"])
        return replayHeldConnects(now: now)
    }

    /// Leaves read-only mode when Zab no longer looks: closes every client and forgets the local sessions.
    func leaveReadOnlyIfRejoined() -> [CoreAction] {
        guard let ens = ensemble, ens.readOnly, ens.zab.state != .looking else { return [] }
        ens.readOnly = false
        if ens.mode == "read-only" { ens.mode = "looking" }
        logger.info("rejoined a quorum: closing read-only clients", metadata: ["sessions": "\(ens.readOnlySessions.count)"])
        let actions = dropClients("server rejoined its quorum; reconnect for a read-write session")
        for id in ens.readOnlySessions { sessions.close(id) }
        ens.readOnlySessions = []
        ens.touchedSessions = []
        return actions
    }

    /// The handshake while read-only (see the type's contract).
    func connectReadOnly(_ id: UInt64, request: ConnectRequest, now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        guard request.readOnly == true else {
            conns[id]?.closing = true
            return [.close(id, "refusing session request for not-read-only client: no quorum")]
        }
        if request.lastZxidSeen > tree.lastProcessedZxid {
            conns[id]?.closing = true
            return [.close(id, "refusing session request: client has seen zxid 0x\(Self.hex(request.lastZxidSeen)), "
                               + "our last zxid is 0x\(Self.hex(tree.lastProcessedZxid))")]
        }
        let timeoutMs = sessions.negotiate(request.timeOut)
        conns[id]?.timeoutMs = timeoutMs
        if request.sessionId == 0 {
            guard ens.readOnlySessions.count < Self.readOnlySessionsMax else {
                conns[id]?.closing = true
                return [.close(id, "refusing session request: \(Self.readOnlySessionsMax) read-only sessions")]
            }
            let (sid, password) = sessions.createSession(timeoutMs: timeoutMs, monoMs: now.monoMs)
            ens.readOnlySessions.insert(sid)
            return completeHandshake(id, request: request, sessionId: sid, password: password, readOnly: true, now: now)
        }
        let sid = request.sessionId
        guard sessions.isValid(sid), sessions.checkPassword(sid, request.passwd ?? []) else {
            let resp = ConnectResponse(protocolVersion: 0, timeOut: 0, sessionId: 0,
                                       passwd: [UInt8](repeating: 0, count: 16), readOnly: true)
            conns[id]?.closing = true
            return [.send(id, resp.juteBytes()), .close(id, "session 0x\(Self.hex(sid)) is expired or invalid")]
        }
        return completeHandshake(id, request: request, sessionId: sid, password: sessions.password(for: sid),
                                 readOnly: true, now: now)
    }

    /// Requests a read-only server refuses or handles itself; nil for the ones it serves as usual (reads).
    func handleReadOnly(_ id: UInt64, _ header: RequestHeader, _ request: Request, now: Now) -> [CoreAction]? {
        guard isReadOnly, let conn = conns[id], let ens = ensemble else { return nil }
        switch request {
        case .closeSession where ens.readOnlySessions.contains(conn.sessionId):
            ens.readOnlySessions.remove(conn.sessionId)
            sessions.close(conn.sessionId)
            let reply = enqueueReply(id, replyBytes(xid: header.xid, err: .ok), startMonoMs: now.monoMs)
            conns[id]?.closing = true
            return reply + [.close(id, "read-only session closed")]
        case .closeSession, .create, .create2, .createContainer, .createTTL, .delete, .setData, .setACL, .check,
             .multi, .sync, .reconfig:
            return enqueueReply(id, replyBytes(xid: header.xid, err: .notReadOnly), startMonoMs: now.monoMs)
        default:
            return nil
        }
    }
}
