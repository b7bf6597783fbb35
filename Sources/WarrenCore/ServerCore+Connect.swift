import Logging
import WarrenJute
import WarrenTree
import WarrenZab

package extension ServerCore {
    /// The handshake. A new session is a transaction (so it survives a restart); a resumed one is checked against
    /// its password and answered at once. A client that has seen a zxid this server has not is refused, so it can
    /// never observe history going backwards.
    func onConnect(_ id: UInt64, _ bytes: [UInt8], now: Now) -> [CoreAction] {
        var r = JuteReader(bytes)
        guard let request = try? ConnectRequest(from: &r) else {
            return [.close(id, "malformed connect request (or a request before the handshake)")]
        }
        if isReadOnly { return connectReadOnly(id, request: request, now: now) }
        if let ens = ensemble, !ens.zab.isServing {
            return holdConnect(id, bytes, request: request, now: now)
        }
        if request.lastZxidSeen > tree.lastProcessedZxid {
            return [
                .close(
                    id,
                    "refusing session request: client has seen zxid 0x\(String(request.lastZxidSeen, radix: 16)), "
                        + "our last zxid is 0x\(String(tree.lastProcessedZxid, radix: 16))")
            ]
        }
        let timeoutMs = sessions.negotiate(request.timeOut)
        conns[id]?.timeoutMs = timeoutMs
        conns[id]?.handshakeInFlight = true
        if request.sessionId == 0 {
            let (sid, password) = sessions.createSession(timeoutMs: timeoutMs, monoMs: now.monoMs)
            return submitWrite(
                .createSession(sessionId: sid, timeoutMs: timeoutMs),
                ctx: SessionContext(sessionId: sid), origin: .connect(conn: id, request: request, password: password),
                now: now)
        }
        let sid = request.sessionId
        guard sessions.isValid(sid), !closingSessions.contains(sid),
            sessions.checkPassword(sid, request.passwd ?? [])
        else {
            // ZooKeeper's answer for an expired or unknown session: timeout 0, session 0; the client reports expiry.
            let resp = ConnectResponse(
                protocolVersion: 0, timeOut: 0, sessionId: 0, passwd: [UInt8](repeating: 0, count: 16),
                readOnly: request.readOnly == nil ? nil : false)
            conns[id]?.closing = true
            return [.send(id, resp.juteBytes()), .close(id, "session 0x\(Self.hex(sid)) is expired or invalid")]
        }
        sessions.touch(sid, monoMs: now.monoMs)
        return completeHandshake(id, request: request, sessionId: sid, password: sessions.password(for: sid), now: now)
    }

    /// Binds the connection to the session and answers the handshake. A previous connection of the same session
    /// is closed, as in ZooKeeper. `readOnly`: the session is a read-only server's (ConnectResponse.readOnly).
    func completeHandshake(_ id: UInt64, request: ConnectRequest, sessionId: Int64, password: [UInt8],
                           readOnly: Bool = false, now: Now)
        -> [CoreAction]
    {
        guard let conn = conns[id] else { return [] }
        var actions: [CoreAction] = []
        if let old = sessionConn[sessionId], old != id {
            watches.removeAll(old)
            conns[old]?.closing = true
            actions.append(.close(old, "session 0x\(Self.hex(sessionId)) moved to another connection"))
        }
        conn.sessionId = sessionId
        conn.connected = true
        conn.handshakeInFlight = false
        conns[id] = conn
        sessionConn[sessionId] = id
        let resp = ConnectResponse(
            protocolVersion: 0, timeOut: conn.timeoutMs, sessionId: sessionId, passwd: password,
            readOnly: request.readOnly == nil ? nil : readOnly)
        actions.append(.send(id, countSent(id, resp.juteBytes())))
        let early = conn.earlyPackets
        conns[id]?.earlyPackets = []
        for packet in early {
            conns[id]?.received -= 1
            stats.packetsReceived -= 1
            actions += onPacket(id, packet, now: now)
        }
        return actions
    }

    /// `addauth`. Digest credentials add `digest:user:hash` (and `super:` for the configured super digest).
    /// Unknown schemes fail the connection with AuthFailed, as ZooKeeper does.
    func onAuth(_ id: UInt64, _ packet: AuthPacket, now: Now) -> [CoreAction] {
        guard conns[id] != nil else { return [] }
        switch packet.scheme {
        case "digest":
            let credentials = String(decoding: packet.auth ?? [], as: UTF8.self)
            for newId in ACLRules.digestAuthIds(credentials: credentials, superDigest: config.treeConfig.superDigest)
            where !conns[id]!.authIds.contains(newId) {
                conns[id]!.authIds.append(newId)
            }
            return enqueueReply(id, Self.authReply(err: .ok), startMonoMs: now.monoMs)
        default:
            logger.info("authentication failed", metadata: ["client": "\(conns[id]!.remote)", "scheme": "\(packet.scheme)"])
            conns[id]?.closing = true
            return [.send(id, Self.authReply(err: .authFailed)), .close(id, "unknown auth scheme \(packet.scheme)")]
        }
    }

    /// ZooKeeper answers auth packets with zxid 0 in the header, not the last zxid applied.
    static func authReply(err: ErrorCode) -> [UInt8] {
        Response.empty.packet(header: ReplyHeader(xid: Xid.auth, zxid: 0, err: err.rawValue))
    }

    static func hex(_ v: Int64) -> String { String(UInt64(bitPattern: v), radix: 16) }
}
