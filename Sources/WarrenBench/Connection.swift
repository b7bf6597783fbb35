import WarrenJute

/// A request sent and not yet answered.
struct InFlight {
    var xid: Int32
    var op: OpCode
    var sentNs: UInt64
    /// The driver's own bookkeeping (a pipeline slot, a script step).
    var tag: Int
    /// Whether a successful reply counts as a measured op.
    var measured: Bool
}

/// A first-in first-out queue over a ring buffer; replies come back in request order, so in-flight requests live
/// here and the head is always the one the next reply answers.
struct FIFO<Element> {
    private var slots: [Element?] = Array(repeating: nil, count: 16)
    private var head = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }
    var first: Element? { count == 0 ? nil : slots[head] }

    mutating func append(_ e: Element) {
        if count == slots.count {
            var grown = [Element?](repeating: nil, count: slots.count * 2)
            for i in 0..<count { grown[i] = slots[(head + i) % slots.count] }
            slots = grown
            head = 0
        }
        slots[(head + count) % slots.count] = e
        count += 1
    }

    mutating func removeFirst() -> Element? {
        guard count > 0 else { return nil }
        let e = slots[head]
        slots[head] = nil
        head = (head + 1) % slots.count
        count -= 1
        return e
    }

    mutating func removeAll() {
        while removeFirst() != nil {}
    }
}

/// A request frame encoded once with xid 0; sending it copies the bytes and patches the xid in place, which keeps
/// the read hot path free of encoding work.
struct FrameTemplate {
    let bytes: [UInt8]
    let op: OpCode

    init(_ request: Request) {
        bytes = Frame.encode(request.packet(xid: 0))
        op = request.opCode
    }
}

/// What a connection's socket delivered, in arrival order.
enum Incoming {
    /// The answer to `request`; `body` is positioned after the reply header (empty when `header.err != 0`).
    case reply(InFlight, ReplyHeader, JuteReader)
    case notification(WatcherEvent)
}

/// One ZooKeeper session over a non-blocking socket, driven by exactly one `Engine` thread.
///
/// Requests are queued with `send` and go out on `flush`; `receive` reads whatever has arrived and hands replies
/// back in order, matched against the in-flight queue (a reply whose xid is not the head's is a protocol violation,
/// because ZooKeeper answers a session's requests in order).
final class BenchConnection {
    let index: Int
    let target: HostPort
    let sessionId: Int64
    let sessionTimeoutMs: Int
    private let fd: Int32
    static let frameBytesMax = 64 << 20
    private var decoder = FrameDecoder(frameBytesMax: BenchConnection.frameBytesMax)
    private var out: [UInt8] = []
    private var outSent = 0
    private(set) var inflight = FIFO<InFlight>()
    private var nextXid: Int32 = 1
    private(set) var isOpen = true
    private(set) var lastSendNs: UInt64

    private init(index: Int, target: HostPort, fd: Int32, sessionId: Int64, sessionTimeoutMs: Int) {
        self.index = index
        self.target = target
        self.fd = fd
        self.sessionId = sessionId
        self.sessionTimeoutMs = sessionTimeoutMs
        lastSendNs = Clock.nowNs()
        out.reserveCapacity(64 * 1024)
    }

    /// Connects, creates a session (blocking, bounded by `timeoutMs`) and leaves the socket non-blocking.
    static func open(index: Int, target: HostPort, sessionTimeoutMs: Int, timeoutMs: Int = 5000) throws
        -> BenchConnection
    {
        let (fd, response) = try handshake(target: target, sessionTimeoutMs: sessionTimeoutMs, timeoutMs: timeoutMs)
        do {
            try Socket.setNonBlocking(fd, true)
        } catch {
            Socket.close(fd)
            throw error
        }
        return BenchConnection(
            index: index, target: target, fd: fd, sessionId: response.sessionId,
            sessionTimeoutMs: Int(response.timeOut))
    }

    /// A blocking socket with a new session on it; the caller owns the descriptor.
    static func handshake(target: HostPort, sessionTimeoutMs: Int, timeoutMs: Int) throws -> (Int32, ConnectResponse) {
        let fd = try Socket.connect(to: target, timeoutMs: timeoutMs)
        do {
            Socket.setTimeouts(fd, ms: timeoutMs)
            let request = ConnectRequest(
                lastZxidSeen: 0, timeOut: Int32(sessionTimeoutMs), sessionId: 0, passwd: [UInt8](repeating: 0, count: 16))
            try Socket.writeAll(fd, Frame.encode(request.juteBytes()))
            var decoder = FrameDecoder()
            var r = JuteReader(try Socket.readFrame(fd, &decoder))
            let response = try ConnectResponse(from: &r)
            guard response.timeOut > 0 else { throw BenchError.connect("\(target): session rejected") }
            return (fd, response)
        } catch {
            Socket.close(fd)
            if let e = error as? BenchError { throw e }
            throw BenchError.protocolViolation("\(target): bad handshake reply: \(error)")
        }
    }

    var hasPendingOutput: Bool { outSent < out.count }

    /// Queues `request`; it is written by the next `flush`.
    func send(_ request: Request, tag: Int, measured: Bool, nowNs: UInt64) {
        let xid = takeXid()
        out.append(contentsOf: Frame.encode(request.packet(xid: xid)))
        track(InFlight(xid: xid, op: request.opCode, sentNs: nowNs, tag: tag, measured: measured))
    }

    /// Queues a pre-encoded request; it is written by the next `flush`.
    func send(_ template: FrameTemplate, tag: Int, measured: Bool, nowNs: UInt64) {
        let xid = takeXid()
        let start = out.count
        out.append(contentsOf: template.bytes)
        let u = UInt32(bitPattern: xid)
        out[start + 4] = UInt8(truncatingIfNeeded: u >> 24)
        out[start + 5] = UInt8(truncatingIfNeeded: u >> 16)
        out[start + 6] = UInt8(truncatingIfNeeded: u >> 8)
        out[start + 7] = UInt8(truncatingIfNeeded: u)
        track(InFlight(xid: xid, op: template.op, sentNs: nowNs, tag: tag, measured: measured))
    }

    /// Queues a ping (xid -2), which keeps an idle session alive and is not tracked as a request.
    func sendPing(nowNs: UInt64) {
        out.append(contentsOf: Frame.encode(Request.ping.packet(xid: Xid.ping)))
        lastSendNs = nowNs
    }

    private func takeXid() -> Int32 {
        let xid = nextXid
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        return xid
    }

    private func track(_ f: InFlight) {
        inflight.append(f)
        lastSendNs = f.sentNs
    }

    /// Writes queued bytes until done or the socket is full.
    /// - Throws: `BenchError.protocolViolation` if the server closed the connection or the write failed.
    func flush() throws {
        while outSent < out.count {
            let r = try out.withUnsafeBytes { try Socket.write(fd, UnsafeRawBufferPointer(rebasing: $0[outSent...])) }
            switch r {
            case let .bytes(n): outSent += n
            case .wouldBlock: return
            case .closed: throw BenchError.protocolViolation("\(target): connection closed by server")
            }
        }
        out.removeAll(keepingCapacity: true)
        outSent = 0
    }

    /// Reads what the socket holds (at most a few reads, for fairness between connections) and calls `handle` for
    /// each reply and notification in arrival order. `clock` is read once per read(2): replies that arrived together
    /// share a timestamp, passed as `handle`'s second argument.
    /// - Throws: `BenchError.protocolViolation` when the server closed the connection, sent a bad frame, or answered
    ///   out of order. The connection is unusable afterwards.
    func receive(scratch: UnsafeMutableRawBufferPointer, _ handle: (Incoming, UInt64) -> Void) throws {
        for _ in 0..<4 {
            let r = try Socket.read(fd, into: scratch)
            let n: Int
            switch r {
            case let .bytes(count): n = count
            case .wouldBlock: return
            case .closed: throw BenchError.protocolViolation("\(target): connection closed by server")
            }
            let now = Clock.nowNs()
            decoder.feed(UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            while true {
                let frame: [UInt8]?
                do { frame = try decoder.next() } catch {
                    throw BenchError.protocolViolation("\(target): bad frame: \(error)")
                }
                guard let frame else { break }
                try dispatch(frame, now: now, handle)
            }
            if n < scratch.count { return }
        }
    }

    private func dispatch(_ frame: [UInt8], now: UInt64, _ handle: (Incoming, UInt64) -> Void) throws {
        var r = JuteReader(frame)
        do {
            let header = try ReplyHeader(from: &r)
            switch header.xid {
            case Xid.notification:
                handle(.notification(try WatcherEvent(from: &r)), now)
            case Xid.ping:
                return
            default:
                guard let head = inflight.removeFirst() else {
                    throw BenchError.protocolViolation("\(target): reply xid \(header.xid) with nothing in flight")
                }
                guard head.xid == header.xid else {
                    throw BenchError.protocolViolation(
                        "\(target): reply xid \(header.xid), expected \(head.xid) (\(head.op))")
                }
                handle(.reply(head, header, r), now)
            }
        } catch let e as BenchError {
            throw e
        } catch {
            throw BenchError.protocolViolation("\(target): undecodable reply: \(error)")
        }
    }

    /// Asks the server to end the session (best effort, not awaited) and closes the socket. Idempotent.
    func close(sayGoodbye: Bool) {
        guard isOpen else { return }
        isOpen = false
        if sayGoodbye {
            var bytes = Frame.encode(Request.closeSession.packet(xid: takeXid()))
            if hasPendingOutput { bytes = Array(out[outSent...]) + bytes }
            _ = try? bytes.withUnsafeBytes { try Socket.write(fd, $0) }
        }
        inflight.removeAll()
        Socket.close(fd)
    }

    /// The raw descriptor, for poll(2) only.
    var pollDescriptor: Int32 { fd }
}
