#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import WarrenJute

/// session-churn: each loop opens a TCP connection, creates a session, closes it with closeSession and waits for the
/// answer; one op is that whole cycle. Blocking sockets with timeouts, one thread per loop.
enum SessionChurn {
    /// Runs one loop on the calling thread until `window.stopNs`; a cycle that fails counts as a connection error.
    static func loop(target: HostPort, sessionTimeoutMs: Int, window: Window) -> RunStats {
        var stats = RunStats()
        let close = Frame.encode(Request.closeSession.packet(xid: 1))
        while Clock.nowNs() < window.stopNs {
            let start = Clock.nowNs()
            do {
                let (fd, _) = try BenchConnection.handshake(
                    target: target, sessionTimeoutMs: sessionTimeoutMs, timeoutMs: 5000)
                defer { Socket.close(fd) }
                try Socket.writeAll(fd, close)
                var decoder = FrameDecoder()
                var r = JuteReader(try Socket.readFrame(fd, &decoder))
                let header = try ReplyHeader(from: &r)
                let end = Clock.nowNs()
                guard end >= window.measureStartNs && end <= window.stopNs else { continue }
                if header.err != 0 {
                    stats.errors[header.err, default: 0] += 1
                } else {
                    stats.ops += 1
                    stats.histogram.record(end - start)
                }
            } catch {
                stats.noteConnectionError("\(error)")
                // A refused or dropped connection would otherwise spin; back off briefly.
                usleep(10_000)
            }
        }
        return stats
    }
}
