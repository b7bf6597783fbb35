import WarrenJute
import WarrenZab

/// A handshake that arrived while this ensemble member was not serving (an election, or the sync after it).
package struct HeldConnect {
    let id: UInt64
    let bytes: [UInt8]
    /// Monotonic (`Now.monoMs`).
    let untilMonoMs: Int64
}

/// Handshakes during an election wait for it instead of being refused.
///
/// Why: a refused client backs off before it tries the next server (kazoo: 100 ms doubling, with jitter; the Java
/// client: up to a second), so after a leader dies the write gap was the client's retry schedule rather than the
/// election (Warren elects in tens of milliseconds). Held, the handshake is answered the moment this server serves.
/// Bounded in count (`heldConnectsMax`) and time: at most `connectHoldMsMax`, and at most a quarter of the session
/// timeout the client asks for, so a client that divides its session timeout among its hosts (kazoo, the Java and C
/// clients) still has time to try another one. Expired handshakes are closed as before (`expireHeldConnects`, on the
/// core's tick).
package extension ServerCore {
    static let heldConnectsMax = 1024
    static let connectHoldMsMax: Int64 = 1000

    /// Holds `id`'s handshake until this server serves; refuses it when the hold would be too short or the queue
    /// is full. Packets that follow it queue as early packets, as behind any handshake in flight.
    func holdConnect(_ id: UInt64, _ bytes: [UInt8], request: ConnectRequest, now: Now) -> [CoreAction] {
        let holdMs = min(Self.connectHoldMsMax, Int64(max(0, request.timeOut)) / 4)
        guard let ens = ensemble, holdMs > 0, ens.heldConnects.count < Self.heldConnectsMax, let conn = conns[id] else {
            return [.close(id, "not serving: this server is not synchronized with a leader")]
        }
        conn.handshakeInFlight = true
        ens.heldConnects.append(HeldConnect(id: id, bytes: bytes, untilMonoMs: now.monoMs + holdMs))
        stats.connectsHeld += 1
        return []
    }

    /// Answers every held handshake whose connection is still open; called by `runZab` once Zab serves, inside its
    /// loop, so the createSession writes these start are carried out in the same call.
    func releaseHeldConnects(now: Now) -> [CoreAction] {
        guard let ens = ensemble, ens.zab.isServing, !ens.heldConnects.isEmpty else { return [] }
        return replayHeldConnects(now: now)
    }

    /// Takes every held handshake and handles it now, in the order they came (those whose connection closed
    /// meanwhile are dropped).
    func replayHeldConnects(now: Now) -> [CoreAction] {
        guard let ens = ensemble else { return [] }
        let held = ens.heldConnects
        ens.heldConnects = []
        var actions: [CoreAction] = []
        for h in held {
            guard let conn = conns[h.id], !conn.closing else { continue }
            conn.handshakeInFlight = false
            actions += onConnect(h.id, h.bytes, now: now)
        }
        return actions
    }

    /// Closes held handshakes past their time, and forgets those whose connection has gone.
    func expireHeldConnects(now: Now) -> [CoreAction] {
        guard let ens = ensemble, !ens.heldConnects.isEmpty else { return [] }
        var actions: [CoreAction] = []
        ens.heldConnects.removeAll { h in
            guard let conn = conns[h.id], !conn.closing else { return true }
            guard now.monoMs >= h.untilMonoMs else { return false }
            conn.closing = true
            actions.append(.close(h.id, "not serving: no leader within the handshake's wait"))
            return true
        }
        return actions
    }
}
