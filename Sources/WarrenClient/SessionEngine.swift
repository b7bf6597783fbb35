import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import WarrenJute

/// A request from submission to reply. Paths inside `request` are the server's (chroot applied).
struct PendingRequest {
    var request: Request
    /// The caller's path, for error reports.
    let clientPath: String?
    /// The watch the server leaves if the request succeeds.
    let watch: WatchRegistration?
    let promise: EventLoopPromise<Response>
    var xid: Int32 = 0
}

/// A credential given to `addAuth`, re-sent on every new connection of the session.
struct AuthEntry {
    let scheme: String
    let auth: [UInt8]
    /// The caller waiting for the first acknowledgement of this credential, until one arrives.
    var waiter: EventLoopPromise<Void>?
}

/// The connection state a caller can read at any time.
public enum ConnectionState: Sendable, Equatable {
    case connecting
    case connected
    case connectedReadOnly
    case closing
    case expired
    case authFailed
    case closed

    public var isConnected: Bool { self == .connected || self == .connectedReadOnly }
    public var isTerminal: Bool { self == .expired || self == .authFailed || self == .closed }
}

/// What the session looks like from outside the event loop.
struct SessionSnapshot: Sendable {
    var sessionId: Int64 = 0
    var password: [UInt8] = []
    var negotiatedTimeoutMs: Int32 = 0
    var state: ConnectionState = .connecting
    var host: HostAndPort?
}

/// The session machinery: one TCP connection at a time, the handshake, pings, the request pipeline, watch
/// bookkeeping and reconnects. Every stored property is confined to `loop`; every method except the
/// `nonisolated`-style entry points in `ZooKeeperClient` runs there.
final class SessionEngine: @unchecked Sendable {
    enum Phase {
        case idle
        case connecting
        case handshaking(Channel, HostAndPort)
        case connected(Channel)
        case closing(Channel)
        case stopped(SessionEvent)
    }

    /// ZooKeeper's Java client keeps each SetWatches packet under this many path bytes.
    static let setWatchesBytesMax = 128 * 1024

    let loop: EventLoop
    let config: ZooKeeperClient.Configuration
    let hosts: [HostAndPort]
    let chroot: Chroot
    let hub: EventHub
    var logger: Logger { config.logger }

    private let snapshotLock = NSLock()
    private var snapshotStorage = SessionSnapshot()

    var phase: Phase = .idle
    /// Incremented for every connection attempt and on stop; callbacks of older connections are ignored.
    var generation = 0
    private var hostCursor = 0
    var sessionId: Int64 = 0
    var password: [UInt8] = Array(repeating: 0, count: 16)
    var negotiatedTimeoutMs: Int32 = 0
    var lastZxidSeen: Int64 = 0
    private var nextXid: Int32 = 1
    /// Written to the current connection, awaiting replies in this order.
    var sent = CircularBuffer<PendingRequest>()
    /// Admitted, waiting for a connection.
    var queued = CircularBuffer<PendingRequest>()
    /// Over `outstandingRequestsMax`, waiting for a slot.
    var blocked = CircularBuffer<PendingRequest>()
    var authInfo: [AuthEntry] = []
    /// One entry per auth packet on the current connection: the index in `authInfo` and who waits for it.
    var authWaiters = CircularBuffer<(index: Int, promise: EventLoopPromise<Void>?)>()
    var watches = WatchTable()
    private var pingTask: RepeatedTask?
    private var attemptTimer: Scheduled<Void>?
    private var reconnectTimer: Scheduled<Void>?
    private var initialTimer: Scheduled<Void>?
    private var closeTimer: Scheduled<Void>?
    var lastReceived = NIODeadline.now()
    private var failedAttempts = 0
    private var firstSession: EventLoopPromise<Void>?
    private var closeWaiters: [EventLoopPromise<Void>] = []

    init(loop: EventLoop, config: ZooKeeperClient.Configuration, connectString: ConnectString) {
        self.loop = loop
        self.config = config
        var hosts = connectString.hosts
        if config.shuffleHosts { hosts.shuffle() }
        self.hosts = hosts
        chroot = Chroot(root: connectString.chroot)
        hub = EventHub()
    }

    var snapshot: SessionSnapshot { snapshotLock.withLock { snapshotStorage } }

    func updateSnapshot(_ change: (inout SessionSnapshot) -> Void) {
        snapshotLock.withLock { change(&snapshotStorage) }
    }

    // MARK: - Connecting

    /// Starts connecting; `firstSession` completes when the first session is established, or fails (and the
    /// engine stops) if none is within the initial connect timeout.
    func start(firstSession: EventLoopPromise<Void>) {
        loop.preconditionInEventLoop()
        self.firstSession = firstSession
        let timeoutMs = config.initialConnectTimeoutMs ?? Int64(config.sessionTimeoutMs)
        initialTimer = loop.scheduleTask(in: .milliseconds(timeoutMs)) { [self] in
            guard self.firstSession != nil else { return }
            logger.warning("no session within \(timeoutMs) ms of trying \(hosts)")
            stop(.closed, failFirstWith: ZooKeeperError(.connectionLoss, message: "could not connect to \(hosts)"))
        }
        attemptConnect()
    }

    private var attemptTimeoutMs: Int64 {
        config.connectAttemptTimeoutMs ?? max(200, Int64(config.sessionTimeoutMs) / Int64(hosts.count))
    }

    private func attemptConnect() {
        loop.preconditionInEventLoop()
        guard case .idle = phase else { return }
        let host = hosts[hostCursor % hosts.count]
        hostCursor &+= 1
        generation += 1
        let gen = generation
        phase = .connecting
        updateSnapshot { $0.state = .connecting; $0.host = nil }
        logger.debug("connecting to \(host)", metadata: ["session": "\(hex(sessionId))"])
        let timeout = TimeAmount.milliseconds(attemptTimeoutMs)
        attemptTimer = loop.scheduleTask(in: timeout) { [self] in
            guard gen == generation else { return }
            switch phase {
            case .connecting:
                connectionLost(gen, reason: "connect to \(host) timed out")
            case let .handshaking(channel, _):
                logger.debug("handshake with \(host) timed out")
                channel.close(promise: nil)
            default: break
            }
        }
        let frameBytesMax = config.frameBytesMax
        let tls = config.tls
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                let handler = FrameHandler(
                    frameBytesMax: frameBytesMax,
                    onFrame: { [self] frame in handleFrame(frame, generation: gen) },
                    onClosed: { [self] error in
                        connectionLost(gen, reason: error.map { "connection closed: \($0)" } ?? "connection closed")
                    })
                return channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        // The server name for SNI and the certificate check; an address is checked against the
                        // certificate's IP entries instead (and cannot be sent as SNI).
                        let isAddress = (try? SocketAddress(ipAddress: host.host, port: 0)) != nil
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls.context, serverHostname: isAddress ? nil : host.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: host.host, port: host.port)
            .whenComplete { [self] result in
                switch result {
                case let .success(channel):
                    guard gen == generation, case .connecting = phase else {
                        channel.close(promise: nil)
                        return
                    }
                    phase = .handshaking(channel, host)
                    let request = ConnectRequest(
                        protocolVersion: 0, lastZxidSeen: lastZxidSeen, timeOut: config.sessionTimeoutMs,
                        sessionId: sessionId, passwd: password, readOnly: config.allowReadOnly)
                    write(request.juteBytes(), to: channel)
                case let .failure(error):
                    connectionLost(gen, reason: "connect to \(host) failed: \(error)")
                }
            }
    }

    /// The connection of generation `gen` is gone (or never came up): fail what was in flight and try again.
    func connectionLost(_ gen: Int, reason: String) {
        loop.preconditionInEventLoop()
        guard gen == generation else { return }
        var wasConnected = false
        var channel: Channel?
        switch phase {
        case .stopped:
            return
        case .closing:
            stop(.closed)
            return
        case let .connected(c):
            wasConnected = true
            channel = c
        case let .handshaking(c, _):
            channel = c
        case .idle, .connecting:
            break
        }
        // Retire this connection before closing it: closing calls back into here, and that call must be ignored.
        generation += 1
        phase = .idle
        cancelConnectionTimers()
        channel?.close(promise: nil)
        logger.debug("\(reason)", metadata: ["session": "\(hex(sessionId))"])
        failInFlight(ZooKeeperError(.connectionLoss))
        if wasConnected {
            failedAttempts = 0
            updateSnapshot { $0.state = .connecting; $0.host = nil }
            hub.publish(.disconnected)
        } else {
            failedAttempts += 1
        }
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        // Straight to the next host after losing a working connection; after failed attempts, back off
        // exponentially (capped) so that a server that is down is not hammered.
        var delayMs: Int64 = 0
        if failedAttempts > 0 {
            let exponent = min(failedAttempts, 16)
            delayMs = min(config.reconnectDelayMaxMs, 10 << Int64(exponent))
        }
        reconnectTimer = loop.scheduleTask(in: .milliseconds(delayMs)) { [self] in attemptConnect() }
    }

    private func cancelConnectionTimers() {
        pingTask?.cancel()
        pingTask = nil
        attemptTimer?.cancel()
        attemptTimer = nil
        reconnectTimer?.cancel()
        reconnectTimer = nil
    }

    /// The server answered the handshake on `channel`.
    func handshakeCompleted(_ response: ConnectResponse, channel: Channel, host: HostAndPort) {
        attemptTimer?.cancel()
        attemptTimer = nil
        if response.timeOut <= 0 {
            logger.info("session \(hex(sessionId)) expired")
            stop(.expired)
            return
        }
        if sessionId != 0 && response.sessionId != sessionId {
            logger.warning("server answered session \(hex(response.sessionId)) for \(hex(sessionId))")
        }
        sessionId = response.sessionId
        password = response.passwd
        negotiatedTimeoutMs = response.timeOut
        failedAttempts = 0
        phase = .connected(channel)
        let readOnly = response.readOnly ?? false
        updateSnapshot {
            $0.sessionId = response.sessionId
            $0.password = response.passwd
            $0.negotiatedTimeoutMs = response.timeOut
            $0.state = readOnly ? .connectedReadOnly : .connected
            $0.host = host
        }
        logger.debug("session \(hex(sessionId)) established with \(host), timeout \(response.timeOut) ms")
        startPinging(channel)
        for index in authInfo.indices {
            write(Request.auth(AuthPacket(scheme: authInfo[index].scheme, auth: authInfo[index].auth))
                    .packet(xid: Xid.auth), to: channel)
            authWaiters.append((index, authInfo[index].waiter))
            authInfo[index].waiter = nil
        }
        let setWatches = setWatchesPackets()
        if !setWatches.isEmpty {
            logger.debug("re-registering watches from zxid \(hex(lastZxidSeen)) in \(setWatches.count) packet(s)")
        }
        for packet in setWatches { write(packet, to: channel) }
        while let request = queued.popFirst() { send(request, on: channel) }
        hub.publish(.connected(readOnly: readOnly))
        initialTimer?.cancel()
        initialTimer = nil
        firstSession?.succeed(())
        firstSession = nil
    }

    private func startPinging(_ channel: Channel) {
        let gen = generation
        let intervalMs = max(1, Int64(negotiatedTimeoutMs) / 3)
        let readTimeoutMs = Int64(negotiatedTimeoutMs) * 2 / 3
        pingTask = loop.scheduleRepeatedTask(
            initialDelay: .milliseconds(intervalMs), delay: .milliseconds(intervalMs)
        ) { [self] _ in
            guard gen == generation else { return }
            // A server that has said nothing for 2/3 of the session timeout is presumed gone, so that the
            // session can move to another server before it expires.
            if NIODeadline.now() - lastReceived > .milliseconds(readTimeoutMs) {
                logger.info("no reply for \(readTimeoutMs) ms; dropping the connection")
                channel.close(promise: nil)
                return
            }
            write(Request.ping.packet(xid: Xid.ping), to: channel)
        }
    }

    /// SetWatches (or SetWatches2, if persistent watches exist) packets re-registering every watch, each under
    /// `setWatchesBytesMax` path bytes.
    private func setWatchesPackets() -> [[UInt8]] {
        guard !watches.isEmpty else { return [] }
        let lists: [[String]] = [
            watches.data.sorted(), watches.exist.sorted(), watches.child.sorted(), watches.persistent.sorted(),
            watches.persistentRecursive.sorted(),
        ].map { $0.map(chroot.serverPath) }
        var packets: [[UInt8]] = []
        var chunk: [[String]] = Array(repeating: [], count: lists.count)
        var chunkBytes = 0
        func emit() {
            if watches.hasPersistent {
                let body = SetWatches2(
                    relativeZxid: lastZxidSeen, dataWatches: chunk[0], existWatches: chunk[1],
                    childWatches: chunk[2], persistentWatches: chunk[3], persistentRecursiveWatches: chunk[4])
                packets.append(Request.setWatches2(body).packet(xid: Xid.setWatches))
            } else {
                let body = SetWatches(
                    relativeZxid: lastZxidSeen, dataWatches: chunk[0], existWatches: chunk[1], childWatches: chunk[2])
                packets.append(Request.setWatches(body).packet(xid: Xid.setWatches))
            }
            chunk = Array(repeating: [], count: lists.count)
            chunkBytes = 0
        }
        for (kind, list) in lists.enumerated() {
            for path in list {
                if chunkBytes > 0 && chunkBytes + path.utf8.count > Self.setWatchesBytesMax { emit() }
                chunk[kind].append(path)
                chunkBytes += path.utf8.count
            }
        }
        emit()
        return packets
    }

    // MARK: - Stopping

    /// Ends the engine for good: closes the connection, fails everything waiting with the error `event` implies,
    /// publishes `event` and finishes every event stream.
    func stop(_ event: SessionEvent, failFirstWith firstError: ZooKeeperError? = nil) {
        loop.preconditionInEventLoop()
        precondition(event.isTerminal, "stop with non-terminal event \(event)")
        var channel: Channel?
        switch phase {
        case .stopped:
            return
        case let .connected(c), let .closing(c), let .handshaking(c, _):
            channel = c
        case .idle, .connecting:
            break
        }
        // State first: closing the channel calls `connectionLost`, which must see a stopped engine.
        phase = .stopped(event)
        generation += 1
        channel?.close(promise: nil)
        cancelConnectionTimers()
        initialTimer?.cancel()
        closeTimer?.cancel()
        let code: ErrorCode = event == .authFailed ? .authFailed : .sessionExpired
        failInFlight(ZooKeeperError(code))
        let stillBlocked = blocked
        blocked.removeAll()
        for request in stillBlocked { request.promise.fail(ZooKeeperError(code, path: request.clientPath)) }
        for entry in authInfo { entry.waiter?.fail(ZooKeeperError(code)) }
        firstSession?.fail(firstError ?? ZooKeeperError(code))
        firstSession = nil
        updateSnapshot {
            $0.host = nil
            switch event {
            case .expired: $0.state = .expired
            case .authFailed: $0.state = .authFailed
            default: $0.state = .closed
            }
        }
        hub.publish(event)
        let waiters = closeWaiters
        closeWaiters = []
        for w in waiters { w.succeed(()) }
    }

    /// Ends the session: asks the server to close it (waiting at most `closeTimeoutMs` for the answer), then
    /// stops. `done` succeeds once stopped.
    func close(_ done: EventLoopPromise<Void>) {
        loop.preconditionInEventLoop()
        switch phase {
        case .stopped:
            done.succeed(())
        case .closing:
            closeWaiters.append(done)
        case let .connected(channel):
            closeWaiters.append(done)
            phase = .closing(channel)
            updateSnapshot { $0.state = .closing }
            let promise = loop.makePromise(of: Response.self)
            promise.futureResult.whenComplete { [self] _ in stop(.closed) }
            send(PendingRequest(request: .closeSession, clientPath: nil, watch: nil, promise: promise), on: channel)
            closeTimer = loop.scheduleTask(in: .milliseconds(config.closeTimeoutMs)) { [self] in stop(.closed) }
        case .idle, .connecting, .handshaking:
            closeWaiters.append(done)
            stop(.closed)
        }
    }

    // MARK: - Requests

    /// Admits `request`: sends it now if connected, queues it for the next connection otherwise, or parks it
    /// until a slot frees if `outstandingRequestsMax` requests are already in flight.
    func submit(_ request: PendingRequest) {
        loop.preconditionInEventLoop()
        switch phase {
        case let .stopped(event):
            let code: ErrorCode = event == .authFailed ? .authFailed : .sessionExpired
            request.promise.fail(ZooKeeperError(code, path: request.clientPath))
        case .closing:
            request.promise.fail(ZooKeeperError(.sessionExpired, path: request.clientPath,
                                                message: "the client is closing"))
        default:
            if sent.count + queued.count >= config.outstandingRequestsMax || !blocked.isEmpty {
                blocked.append(request)
            } else {
                dispatch(request)
            }
        }
    }

    private func dispatch(_ request: PendingRequest) {
        if case let .connected(channel) = phase {
            send(request, on: channel)
        } else {
            queued.append(request)
        }
    }

    /// Moves parked requests into the pipeline while there is room.
    func admitBlocked() {
        switch phase {
        case .stopped, .closing: return
        default: break
        }
        while !blocked.isEmpty && sent.count + queued.count < config.outstandingRequestsMax {
            dispatch(blocked.removeFirst())
        }
    }

    private func send(_ request: PendingRequest, on channel: Channel) {
        var request = request
        request.xid = nextXid
        nextXid = nextXid == Int32.max ? 1 : nextXid + 1
        write(request.request.packet(xid: request.xid), to: channel)
        sent.append(request)
    }

    /// Fails every sent and queued request and moves auth waiters back to their credentials (which are re-sent
    /// on the next connection).
    private func failInFlight(_ error: ZooKeeperError) {
        let failing = Array(sent) + Array(queued)
        sent.removeAll()
        queued.removeAll()
        for (index, promise) in authWaiters where promise != nil {
            if authInfo[index].waiter == nil { authInfo[index].waiter = promise } else { promise?.fail(error) }
        }
        authWaiters.removeAll()
        for request in failing {
            var e = error
            e.path = request.clientPath
            request.promise.fail(e)
        }
        admitBlocked()
    }

    func write(_ payload: [UInt8], to channel: Channel) {
        channel.writeAndFlush(ByteBuffer(bytes: Frame.encode(payload)), promise: nil)
    }

    /// Registers a credential and sends it if connected; `done` completes when the server acknowledges it.
    func addAuth(scheme: String, auth: [UInt8], done: EventLoopPromise<Void>) {
        loop.preconditionInEventLoop()
        switch phase {
        case let .stopped(event):
            done.fail(ZooKeeperError(event == .authFailed ? .authFailed : .sessionExpired))
        case .closing:
            done.fail(ZooKeeperError(.sessionExpired, message: "the client is closing"))
        case let .connected(channel):
            authInfo.append(AuthEntry(scheme: scheme, auth: auth, waiter: nil))
            write(Request.auth(AuthPacket(scheme: scheme, auth: auth)).packet(xid: Xid.auth), to: channel)
            authWaiters.append((authInfo.count - 1, done))
        case .idle, .connecting, .handshaking:
            authInfo.append(AuthEntry(scheme: scheme, auth: auth, waiter: done))
        }
    }
}

func hex(_ v: Int64) -> String { "0x" + String(UInt64(bitPattern: v), radix: 16) }
