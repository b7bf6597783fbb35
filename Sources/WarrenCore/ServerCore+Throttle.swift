import DequeModule
import WarrenJute

/// Requests of open connections in the pipeline, across the server, and the bound they must stay within.
///
/// Bound (asserted on every change): `count <= limit + connections`. A connection's packet is handled only while
/// `count < limit` or while that connection has nothing in flight (`ServerCore.admits`), and one packet adds at
/// most one pipeline entry; so past the limit each connection adds at most one more (ZooKeeper's
/// `shouldThrottle` likewise spares connections with nothing outstanding, which keeps light clients served
/// during a flood from others).
package final class InFlightCount {
    private(set) var count = 0
    /// Open connections (the core's `conns`).
    var connections = 0
    /// `globalOutstandingLimit`; set by the core at start.
    var limit = 1000

    var countMax: Int { limit + connections }

    func add(_ delta: Int) {
        count += delta
        precondition(count >= 0 && (delta <= 0 || count <= countMax),
                      "requests in flight \(count) outside 0...\(countMax) (limit \(limit), \(connections) connections)")
    }
}

/// Overload: ZooKeeper's `globalOutstandingLimit` and per-connection backpressure.
///
/// A packet from a connection is handled when that connection has nothing in flight, or when it has fewer than
/// `connectionOutstandingMax` requests in flight and the server fewer than `globalOutstandingLimit`. Otherwise the
/// packet is held, in order, in the connection's `held` queue and the socket is paused (`setReading(false)`):
/// bytes then stay in the kernel's socket buffer and, once that is full, in the client's, as with ZooKeeper's
/// `disableRecv`. Paused connections are resumed first come, first served whenever requests complete; each
/// handles its held packets while it is admitted, then reading resumes. No request is dropped and no connection
/// closed for sending too much: a flood only waits.
///
/// With `throttled_op_wait_time` (ZooKeeper 3.6+) set, a held request that waited longer than that is answered
/// `ZTHROTTLEDOP` (-127) instead, except pings and closeSession, as ZooKeeper's `RequestThrottler` does.
package extension ServerCore {
    /// Bytes of held packets per connection: a pause takes effect before the next socket read, so what is held is
    /// what one read (and, with separate I/O loops, the few reads already under way) decoded, at most a few
    /// hundred KiB, plus one frame of up to jute.maxbuffer. Past this the connection is closed with a clear reason
    /// (it would mean reads went on after the pause).
    var heldBytesMax: Int { 4 << 20 + config.juteMaxBufferBytes }

    /// Whether a packet of `conn` may be handled now.
    func admits(_ conn: ConnState) -> Bool {
        conn.outstanding == 0
            || (conn.outstanding < Self.connectionOutstandingMax && inFlight.count < config.globalOutstandingLimit)
    }

    func pause(_ conn: ConnState, _ actions: inout [CoreAction]) {
        guard pausedConnections.insert(conn.id).inserted else { return }
        pausedQueue.append(conn.id)
        actions.append(.setReading(conn.id, false))
    }

    func hold(_ conn: ConnState, _ bytes: [UInt8], now: Now) -> [CoreAction] {
        var actions: [CoreAction] = []
        conn.heldBytes += bytes.count
        if conn.heldBytes > heldBytesMax {
            conn.closing = true
            return [.close(conn.id, "more than \(heldBytesMax) bytes of requests read while the connection was paused")]
        }
        conn.held.append((bytes, now.monoMs))
        pause(conn, &actions)
        return actions
    }

    /// Lets paused connections go on, oldest pause first, while the server has room: each handles its held packets
    /// while admitted; a connection left with nothing held is read again, one still held back goes to the back of
    /// the queue. Stops once the server is at its limit (a connection with nothing in flight would still be
    /// admitted, but it waits its turn: requests completing bring the count down and call this again).
    func resumePaused(_ actions: inout [CoreAction], now: Now) {
        var rounds = pausedQueue.count
        while rounds > 0, inFlight.count < config.globalOutstandingLimit, let id = pausedQueue.popFirst() {
            rounds -= 1
            guard let conn = conns[id], pausedConnections.contains(id), !conn.closing else {
                pausedConnections.remove(id)
                continue
            }
            while admits(conn), !conn.closing, let next = conn.held.popFirst() {
                conn.heldBytes -= next.bytes.count
                actions += processHeld(conn, next.bytes, heldAtMonoMs: next.heldAtMonoMs, now: now)
            }
            if conns[id] == nil || conn.closing {
                pausedConnections.remove(id)
            } else if conn.held.isEmpty && admits(conn) {
                pausedConnections.remove(id)
                actions.append(.setReading(id, true))
            } else {
                pausedQueue.append(id)
            }
        }
    }

    /// A held packet: carried out, or answered `ZTHROTTLEDOP` if it waited past `throttled_op_wait_time`.
    private func processHeld(_ conn: ConnState, _ bytes: [UInt8], heldAtMonoMs: Int64, now: Now) -> [CoreAction] {
        let waitMs = config.throttledOpWaitTimeMs
        guard waitMs > 0, now.monoMs - heldAtMonoMs > Int64(waitMs) else { return process(conn, bytes, now: now) }
        var r = JuteReader(bytes)
        guard let header = try? r.read(RequestHeader.self),
              let op = OpCode(rawValue: header.type), op != .ping, op != .closeSession
        else { return process(conn, bytes, now: now) }
        stats.packetsReceived += 1
        stats.bytesReceived += bytes.count + 4
        stats.throttledOps += 1
        conn.received += 1
        return enqueueReply(conn.id, replyBytes(xid: header.xid, err: .throttledOp), startMonoMs: heldAtMonoMs)
    }
}
