import WarrenCore
import Atomics
import DequeModule
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import WarrenStorage
import WarrenTLS
import WarrenTree
import WarrenZab

/// The I/O shell around `ServerCore`: sockets (SwiftNIO), the clock, the transaction log thread and snapshots.
///
/// Threading: every call into the core runs on `coreLoop`, one thread, so the core needs no locks. Connections live
/// on the I/O event loops and hop to `coreLoop` once per socket read with every frame that read produced; the core's
/// actions hop back once per connection per batch (`ClientConnection.send`, thread-safe, keeps call order). Batching
/// both hops is what keeps the per-request cost down: a cross-thread hop is a lock, a wakeup and often a syscall.
public final class ServerShell: @unchecked Sendable {
    public let config: ServerConfig
    let logger: Logger
    let ioGroup: MultiThreadedEventLoopGroup
    /// nil when the core shares the (single) I/O loop.
    let coreGroup: MultiThreadedEventLoopGroup?
    let coreLoop: EventLoop
    /// The listening sockets: `clientPort` (plaintext) and/or `secureClientPort` (TLS).
    private var channels: [Channel] = []
    private var tlsReloadTasks: [RepeatedTask] = []
    private var nextConnectionId: UInt64 = 1
    private let connections = NIOLockedValueBox([UInt64: ClientConnection]())
    private let perIPCounts = NIOLockedValueBox([String: Int]())
    var core: ServerCore!
    private var storage: ServerStorage!
    private var tickTask: RepeatedTask?
    private var zabTickTask: RepeatedTask?
    private var quorum: QuorumTransport?
    /// The snapshot file a SNAP sync's intake wrote, while the `.snapshot` message it belongs to is processed
    /// (core loop only): its install commits this file instead of writing the bytes again.
    private var stagedSnapshot: StagedSnapshot?
    /// Core calls waiting for the one in progress (see `onCoreLoop`); only touched on `coreLoop`. Bound
    /// (`coreQueueLengthMax`, asserted once the queue is longer than `coreQueueCheckLength`): what a call can
    /// re-enter with is per connection — its close, its socket reads (at most `ClientConnection.batchesInFlightMax`
    /// + 1 waiting, see `ClientConnection.ReadGate`), a four-letter word — plus the shell's own timers and the log.
    private var coreQueue = Deque<() -> Void>()
    static let coreQueueCheckLength = 1024
    /// Every connection that was open at some moment since the queue last drained may still have calls in it:
    /// the open ones, and those closed since (a server that drops thousands of clients at once — losing its leader —
    /// removes them from the table while their closes and last reads are still queued).
    var coreQueueLengthMax: Int {
        let alive = connections.withLockedValue { $0.count } + connectionsClosedSinceDrain.load(ordering: .relaxed)
        return Self.coreQueueCheckLength + alive * (ClientConnection.batchesInFlightMax + 3)
    }
    private let connectionsClosedSinceDrain = ManagedAtomic(0)
    private let shutdownLock = NSLock()
    private var didShutdown = false
    private var draining = false
    /// Keeps a CPU awake briefly after a client request that arrived on its own; nil when `warren.spinWaitUs` is 0.
    let spinWaiter: SpinWaiter?
    /// Bound on bytes queued to one client before it is treated as not reading: 16 MiB, or room for four replies of
    /// the largest size `jute.maxbuffer` allows when that is more (a fixed 16 MiB closed a client pipelining two
    /// getData of 8 MiB values under a 16 MiB jute.maxbuffer, which ZooKeeper serves).
    public var outboundBytesMax: Int

    static func outboundBytesMax(juteMaxBufferBytes: Int) -> Int {
        max(16 << 20, 4 * (juteMaxBufferBytes + replyOverheadBytesMax))
    }
    /// Frame prefix, reply header and Stat around a value in a getData reply, with room to spare.
    static let replyOverheadBytesMax = 4096

    public init(config: ServerConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        outboundBytesMax = Self.outboundBytesMax(juteMaxBufferBytes: config.juteMaxBufferBytes)
        MallocTuning.apply()
        let ioThreads = config.ioThreads ?? Self.defaultIoThreads(cores: System.coreCount)
        if ioThreads == 0 {
            ioGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            coreGroup = nil
            coreLoop = ioGroup.next()
        } else {
            ioGroup = MultiThreadedEventLoopGroup(numberOfThreads: ioThreads)
            let core = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            coreGroup = core
            coreLoop = core.next()
        }
        let spinUs = config.spinWaitUs ?? Self.defaultSpinWaitUs
        spinWaiter = spinUs > 0 ? SpinWaiter(windowUs: spinUs) : nil
    }

    /// The spin window when zoo.cfg does not say (see `SpinWaiter` for what it buys and costs).
    static let defaultSpinWaitUs = 200

    /// Socket loops when zoo.cfg does not say. On two cores or fewer the core thread does the socket I/O itself:
    /// separate I/O threads cannot run beside the core and the log writer there, they only add a wakeup per hop
    /// (measured on 2 cores, 3-server ensemble, 16x32, 1 KiB: 0 loops vs 2 — 90 % reads 154k vs 118k ops/s,
    /// writes 53k vs 46k, reads 680k vs 546k). With more cores, I/O gets its own loops.
    static func defaultIoThreads(cores: Int) -> Int { cores <= 2 ? 0 : min(4, cores) }

    /// Recovers state from disk, binds the client port and starts serving. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        FileLimit.raise(logger: logger)
        let storage = try ServerStorage(config: config, logger: logger)
        let ensembleMode = !config.isStandalone
        let recovered = try storage.recover(applyLog: !ensembleMode)
        self.storage = storage
        var durable: DurableState?
        if ensembleMode {
            durable = DurableState(
                epochs: try storage.readEpochs(), snapshotZxid: Zxid(raw: recovered.tree.lastProcessedZxid),
                log: recovered.logged.map { LogEntry(zxid: Zxid(raw: $0.zxid), payload: $0.payload) })
        }
        let core = try coreLoop.submit {
            try ServerCore(config: self.config, recovered: recovered, now: Now.read(), logger: self.logger,
                           durable: durable, seed: UInt64.random(in: 0...UInt64.max))
        }.wait()
        self.core = core
        spinWaiter?.start()
        storage.startWriter(
            onDurable: { [weak self] zxid in
                guard let self else { return }
                self.onCoreLoop { self.perform(self.core.onDurable(upTo: zxid, now: Now.read())) }
            },
            onFailure: { [weak self] error in
                guard let self else { return }
                if ensembleMode { self.fatalDiskError("transaction log", error) }
                self.onCoreLoop { self.perform(self.core.onPersistFailed(error, now: Now.read())) }
            },
            resumeWhenSpaceReturns: !ensembleMode,
            onResumed: { [weak self] in
                guard let self else { return }
                self.onCoreLoop { self.core.onLogResumed() }
            })

        var port = 0
        if config.servesPlaintextClients {
            let ch = try clientBootstrap(tls: nil).bind(host: config.clientPortAddress, port: config.clientPort).wait()
            channels.append(ch)
            port = ch.localAddress?.port ?? config.clientPort
        }
        if let configured = config.secureClientPort, let settings = config.clientTLS {
            // The context lives in the listener's initializer and the reload task (`watchTLSFiles`).
            let tls = try TLSContextSource(settings: settings, role: .server)
            let host = config.secureClientPortAddress ?? config.clientPortAddress
            let ch = try clientBootstrap(tls: tls).bind(host: host, port: configured).wait()
            channels.append(ch)
            let securePort = ch.localAddress?.port ?? configured
            if port == 0 { port = securePort }
            logger.info("serving TLS clients", metadata: [
                "address": "\(host):\(securePort)", "clientAuth": "\(settings.clientAuth.rawValue)",
                "keyStore": "\(settings.keyStore?.path ?? "")", "trustStore": "\(settings.trustStore?.path ?? "system roots")",
            ])
            watchTLSFiles([tls], what: "client")
        }
        let tick = TimeAmount.milliseconds(Int64(max(10, min(config.tickTimeMs / 2, 100))))
        tickTask = coreLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [weak self] _ in
            guard let self else { return }
            self.onCoreLoop { self.perform(self.core.onTick(now: Now.read())) }
        }
        if ensembleMode { try startQuorum() }
        logger.info(
            "serving",
            metadata: [
                "address": "\(config.clientPortAddress):\(port)", "mode": "\(ensembleMode ? "ensemble" : "standalone")",
                "zxid": "0x\(String(core.lastProcessedZxid, radix: 16))",
            ])
        return port
    }

    /// Blocks until the listening sockets close.
    public func wait() throws {
        for ch in channels { try ch.closeFuture.wait() }
    }

    /// How often the TLS stores' files are checked for a change (a renewed certificate).
    static let tlsReloadInterval = TimeAmount.seconds(2)

    /// Rebuilds each context when its files change (`TLSContextSource.reloadIfChanged`), off the core thread.
    private func watchTLSFiles(_ sources: [TLSContextSource], what: String) {
        let logger = logger
        let task = ioGroup.next().scheduleRepeatedTask(initialDelay: Self.tlsReloadInterval, delay: Self.tlsReloadInterval) { _ in
            for source in sources {
                do {
                    if try source.reloadIfChanged() {
                        logger.info("\(what) TLS key or trust store changed: reloaded; new connections use it")
                    }
                } catch {
                    logger.error("\(what) TLS key or trust store changed but does not load; connections keep the previous one",
                                 metadata: ["error": "\(error)"])
                }
            }
        }
        tlsReloadTasks.append(task)
    }

    /// Client sockets: frames of at most `jute.maxbuffer`, behind TLS when `tls` is given (the handshake first;
    /// a client that does not speak TLS, or presents a certificate the trust store does not accept, is closed by
    /// it and never reaches the core).
    private func clientBootstrap(tls: TLSContextSource?) -> ServerBootstrap {
        let frameBytesMax = config.juteMaxBufferBytes
        return ServerBootstrap(group: ioGroup)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(LengthPrefixedFrameDecoder(frameBytesMax: frameBytesMax, fourLetterWords: true)))
                    try channel.pipeline.syncOperations.addHandler(ClientChannelHandler(server: self))
                }
            }
    }

    /// Writes a reconfig's membership where a restart finds it: `<zoo.cfg>.dynamic.<version>` (written durably),
    /// then zoo.cfg rewritten without server lines and with `dynamicConfigFile` naming the new file — ZooKeeper's
    /// layout, so a zoo.cfg moves between the two servers. The replicated log holds the change too: a server
    /// that crashes before this finishes starts from the previous membership and gets the change again from its
    /// leader. A failure is logged, not fatal, for the same reason.
    private func persistMembership(_ membership: DynamicConfig) {
        guard let cfgPath = config.sourcePath else { return }
        guard membership.members[config.myid] != nil else {
            // Its own address would be gone from its files: it could not start again. With the previous
            // membership it can, and then learns the current one from its peers' notifications.
            logger.warning("not a member of the new membership; keeping the previous dynamic config on disk so that this server can restart",
                           metadata: ["version": "0x\(String(membership.version, radix: 16))"])
            return
        }
        do {
            try DynamicConfigFiles.write(membership, zooCfg: cfgPath)
            logger.info("dynamic config written", metadata: ["file": "\(DynamicConfigFiles.path(for: membership, zooCfg: cfgPath))"])
        } catch {
            logger.error("cannot write the new membership to disk; a restart would start from the previous one until its leader resends the change",
                         metadata: ["error": "\(error)"])
        }
    }

    /// Ensemble: binds the quorum port, dials the peers, starts the Zab node and its tick (`ServerCore.zabTick`).
    private func startQuorum() throws {
        var peers: [ServerId: (host: String, port: Int)] = [:]
        for p in config.peers { peers[p.id] = (p.host, p.quorumPort) }
        var tls: (accepting: TLSContextSource, dialling: TLSContextSource)?
        if let settings = config.quorumTLS {
            let pair = (accepting: try TLSContextSource(settings: settings, role: .server),
                        dialling: try TLSContextSource(settings: settings, role: .client))
            tls = pair
            watchTLSFiles([pair.accepting, pair.dialling], what: "quorum")
            logger.info("quorum TLS on", metadata: [
                "keyStore": "\(settings.keyStore?.path ?? "")", "trustStore": "\(settings.trustStore?.path ?? "system roots")",
                "hostnameVerification": "\(settings.hostnameVerification)",
            ])
        }
        let treeConfig = config.treeConfig
        let transport = QuorumTransport(
            myid: config.myid, peers: peers, group: ioGroup, logger: logger,
            snapshotChunkBytes: config.snapshotChunkBytes, tls: tls,
            makeSnapshotIntake: { [storage, logger] zxid, totalBytes in
                var staged: StagedSnapshot?
                do {
                    staged = try storage?.snapshots.stage(zxid: zxid, payloadBytes: Int64(totalBytes))
                } catch {
                    logger.warning("cannot write the leader's snapshot while it arrives; writing it after",
                                   metadata: ["error": "\(error)"])
                }
                return SnapshotIntake(zxid: zxid, totalBytes: totalBytes, config: treeConfig, staged: staged)
            },
            onMessages: { [weak self] peer, messages in
                guard let self else { return }
                self.onCoreLoop {
                    let now = Now.read()
                    var actions: [CoreAction] = []
                    for message in messages {
                        if case let .snapshot(_, lastZxid, state) = message {
                            self.takePrepared(from: peer, zxid: lastZxid.raw, bytesKept: !state.isEmpty)
                        }
                        actions += self.core.onQuorumMessage(from: peer, message, now: now)
                    }
                    self.perform(actions)
                    self.stagedSnapshot?.discard()  // not installed (the core did not take the snapshot)
                    self.stagedSnapshot = nil
                    self.core.ensemble?.preparedSnapshot = nil
                }
            },
            onDisconnected: { [weak self] peer in
                guard let self else { return }
                self.onCoreLoop { self.perform(self.core.onPeerDisconnected(peer, now: Now.read())) }
            },
            onSyncProgress: { [weak self] peer, chunks, bytes, sent in
                guard let self else { return }
                self.onCoreLoop {
                    self.perform(self.core.onSyncProgress(peer, chunks: chunks, bytes: bytes, sent: sent, now: Now.read()))
                }
            })
        try coreLoop.submit { self.quorum = transport }.wait()
        try transport.start()
        onCoreLoop { self.perform(self.core.ensembleStart(now: Now.read())) }
        let tick = TimeAmount.milliseconds(Int64(ServerCore.zabTick(config.core).ms))
        zabTickTask = coreLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [weak self] _ in
            guard let self else { return }
            self.onCoreLoop { self.perform(self.core.onZabTick(now: Now.read())) }
        }
    }

    /// Waits (on the core loop) for what a SNAP sync's intake made while the stream arrived and hands it over: the
    /// tree to the core, the file to the install that follows.
    /// `bytesKept` false: the transport handed the bytes to the intake only, so without its tree there is nothing
    /// to restore — as with a snapshot that does not restore, this replica stops rather than diverge.
    private func takePrepared(from peer: ServerId, zxid: Int64, bytesKept: Bool) {
        guard let intake = quorum?.takeSnapshotIntake(from: peer, zxid: zxid) else { return }
        let started = ContinuousClock.now
        let prepared = intake.prepared()
        logger.info("snapshot prepared while it arrived", metadata: [
            "zxid": "0x\(String(zxid, radix: 16))", "restored": "\(prepared.tree != nil)", "written": "\(prepared.file != nil)",
            "waitedMs": "\(Int((ContinuousClock.now - started) / .milliseconds(1)))",
        ])
        for note in prepared.notes { logger.warning("\(note)", metadata: ["zxid": "0x\(String(zxid, radix: 16))"]) }
        guard let tree = prepared.tree else {
            if bytesKept { return }
            fatalError("cannot restore the snapshot sent by the leader at 0x\(String(zxid, radix: 16)): \(prepared.notes)")
        }
        core.ensemble?.preparedSnapshot = (zxid, tree)
        stagedSnapshot?.discard()
        stagedSnapshot = prepared.file
    }

    /// A replica whose disk failed must not keep voting or acknowledging: it stops, and rejoins after repair.
    private func fatalDiskError(_ what: String, _ error: Error) -> Never {
        if let e = error as? StorageError, TxnLog.isOutOfSpace(e) { leaveUntilSpaceReturns(what, error) }
        logger.critical("\(what) failed; stopping this ensemble member", metadata: ["error": "\(error)"])
        exit(1)
    }

    private let leaving = ManagedAtomic(false)

    /// An ensemble member whose disk is full cannot log, so it must not vote or acknowledge: it leaves at once
    /// (quorum links, the client port and client connections closed without waiting for any loop, so the others
    /// go on and its clients move), waits on the calling thread until its data directories have room again
    /// (`ServerStorage.resumeFreeBytesMin`, checked every second; a sync that then brings a snapshot too large
    /// for the disk makes it leave again), then executes itself again in place — same process id, same arguments — and so
    /// recovers from its log (an unsynced tail is cut) and syncs from the leader like any restarted member, with
    /// nobody having to restart it. Never returns; a second caller (another thread meeting the same full disk)
    /// just waits for the first one's exec.
    private func leaveUntilSpaceReturns(_ what: String, _ error: Error) -> Never {
        guard leaving.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged
        else { while true { sleep(3600) } }
        let dirs = [config.dataLogDir, config.dataDir]
        logger.critical("\(what) is out of disk space: leaving the ensemble; this server starts again by itself once its data directories have room",
                        metadata: ["error": "\(error)", "dataLogDir": "\(config.dataLogDir)"])
        zabTickTask?.cancel()
        quorum?.abandon()
        for ch in channels { ch.close(promise: nil) }
        for conn in connections.withLockedValue({ Array($0.values) }) { conn.close(reason: nil) }
        while !dirs.allSatisfy({ (ServerStorage.freeBytes($0) ?? 0) >= ServerStorage.resumeFreeBytesMin }) {
            sleep(1)
        }
        logger.warning("disk space is back: starting again", metadata: ["dataLogDir": "\(config.dataLogDir)"])
        Self.execSelf()
        logger.critical("cannot execute this server again; stopping", metadata: ["errno": "\(errno)"])
        exit(1)
    }

    /// Replaces this process with a fresh run of the same executable and arguments. Every descriptor above stderr
    /// is marked close-on-exec first, so the new run can bind the ports and lock the files again.
    private static func execSelf() {
        if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            for fd in fds.compactMap({ Int32($0) }) where fd > 2 {
                let flags = fcntl(fd, F_GETFD)
                if flags >= 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
            }
        }
        let args = CommandLine.arguments
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", &argv)
    }

    /// Stops serving: closes sockets, writes what is queued (and a final snapshot if one is worth it), stops the
    /// threads. Safe to call from several threads: the first call does the work, later ones wait for it to finish.
    public func shutdown() {
        shutdownLock.lock()
        defer { shutdownLock.unlock() }
        if didShutdown { return }
        didShutdown = true
        zabTickTask?.cancel()
        quorum?.stop()
        tickTask?.cancel()
        for task in tlsReloadTasks { task.cancel() }
        for ch in channels { try? ch.close().wait() }
        for conn in connections.withLockedValue({ Array($0.values) }) { conn.close(reason: nil) }
        var finalSnapshot: (zxid: Int64, tree: DataTree)?
        if let core, let (zxid, handoff) = try? coreLoop.submit({
            let (zxid, tree) = core.shutdownSnapshot()
            return (zxid, TreeHandoff(tree))
        }).wait() {
            finalSnapshot = (zxid, handoff.tree)
        }
        storage?.stop(finalSnapshot: finalSnapshot)
        try? ioGroup.syncShutdownGracefully()
        try? coreGroup?.syncShutdownGracefully()
        spinWaiter?.stop()
    }

    // MARK: connection events (called on I/O loops)

    func register(channel: Channel) -> ClientConnection? {
        let ip = channel.remoteAddress?.ipAddress ?? "unknown"
        let allowed = perIPCounts.withLockedValue { counts -> Bool in
            if config.maxClientCnxns > 0 && counts[ip, default: 0] >= config.maxClientCnxns { return false }
            counts[ip, default: 0] += 1
            return true
        }
        if !allowed {
            logger.warning(
                "too many connections from one address",
                metadata: ["client": "\(ip)", "maxClientCnxns": "\(config.maxClientCnxns)"])
            return nil
        }
        let conn = connections.withLockedValue { conns -> ClientConnection in
            let id = nextConnectionId
            nextConnectionId += 1
            let c = ClientConnection(id: id, channel: channel, outboundBytesMax: outboundBytesMax, logger: logger)
            conns[id] = c
            return c
        }
        onCoreLoop { self.core.onOpened(conn.id, remote: conn.remoteAddress, ip: conn.remoteIP, now: Now.read()) }
        return conn
    }

    /// The packets one socket read produced, in arrival order, handled in one hop to the core loop.
    func packets(_ batch: [[UInt8]], on conn: ClientConnection) {
        if let spin = spinWaiter { countForSpin(spin, batch.count, conn: conn) }
        conn.batchSubmitted()
        onCoreLoop {
            let now = Now.read()
            var actions: [CoreAction] = []
            for bytes in batch { actions += self.core.onPacket(conn.id, bytes, now: now) }
            self.perform(actions)
            conn.batchHandled()
        }
    }

    /// Tells the spinner about a socket read; the tick's first read schedules a task, which runs after the tick's
    /// I/O, to close the tick. With several I/O loops their ticks mix, which only makes the spinner more reluctant.
    private func countForSpin(_ spin: SpinWaiter, _ count: Int, conn: ClientConnection) {
        guard spin.onRead(packets: count, connection: conn.id) else { return }
        conn.channel.eventLoop.execute { spin.onTickEnd() }
    }

    /// Runs `work` on the core loop, after every core call requested before it. On the core loop itself (always
    /// so when the core shares the I/O loop) there is no hop: work runs right away unless another core call is in
    /// progress — a close or a resumed read inside `perform` can re-enter here synchronously — in which case it
    /// waits in `coreQueue`, so core calls never nest and replies leave in the order the core produced them.
    func onCoreLoop(_ work: @escaping () -> Void) {
        guard coreLoop.inEventLoop else {
            coreLoop.execute { self.onCoreLoop(work) }
            return
        }
        coreQueue.append(work)
        if coreQueue.count > Self.coreQueueCheckLength {
            let max = coreQueueLengthMax
            precondition(coreQueue.count <= max, "core queue holds \(coreQueue.count) calls, bound \(max)")
        }
        if draining { return }
        draining = true
        while let next = coreQueue.popFirst() { next() }
        draining = false
        connectionsClosedSinceDrain.store(0, ordering: .relaxed)
    }

    /// Reads what the word reports of the host on the connection's thread, then answers on the core thread.
    func fourLetterWord(_ word: String, on conn: ClientConnection) {
        let host = HostFacts.gather(HostFacts.parts(forFourLetterWord: word), dataDir: config.dataDir, dataLogDir: config.dataLogDir)
        onCoreLoop {
            let text = self.core.fourLetterWord(word, host: host, now: Now.read())
            conn.sendTextAndClose(text)
        }
    }

    func closed(_ conn: ClientConnection) {
        connections.withLockedValue { _ = $0.removeValue(forKey: conn.id) }
        connectionsClosedSinceDrain.wrappingIncrement(ordering: .relaxed)
        perIPCounts.withLockedValue { counts in
            counts[conn.remoteIP, default: 1] -= 1
            if counts[conn.remoteIP] == 0 { counts[conn.remoteIP] = nil }
        }
        onCoreLoop { self.perform(self.core.onClosed(conn.id, now: Now.read())) }
    }

    // MARK: actions (called on coreLoop)

    /// Carries out the core's actions. Actions with effects on this machine (persist, truncate, snapshot, epochs)
    /// run in the order given; packets to clients and peers are collected and written after them, one write per
    /// connection, in the order they were emitted for that connection. Sending later than emitted is always safe:
    /// the core only emits a reply or an ACK once what it depends on is durable (or, for the synchronous epoch and
    /// truncation writes, earlier in this same list), so deferring can never send anything before its persist.
    /// A close is preceded by the packets queued for that connection.
    ///
    /// Log appends (`persist`) are the one exception to "in the order given": they are held back until the next
    /// synchronous disk action or, at the latest, until the packets are out, because nothing sent depends on them
    /// (see above), while a leader's proposals should be on their way to the followers before it spends a write
    /// and a wake-up of the log thread on its own copy: Zab logs and broadcasts a proposal concurrently.
    func perform(_ actions: [CoreAction]) {
        var outbox = Outbox()
        var appends: [GroupCommitWriter.Record] = []
        func submitAppends() {
            if !appends.isEmpty { storage.submit(appends) }
            appends = []
        }
        for action in actions {
            // Disk steps that must find the appends emitted before them already submitted (exhaustive, so a new
            // action has to choose).
            switch action {
            case .persist, .send, .close, .setReading, .quorumSend, .quorumSendSnapshot, .membershipChanged: break
            case .snapshot, .rollLog, .truncateLog, .installSnapshot, .persistEpochs: submitAppends()
            }
            switch action {
            case .send(let id, let bytes):
                outbox.clients[id, default: []].append(bytes)
            case .close(let id, let reason):
                let conn = connections.withLockedValue { $0[id] }
                if let queued = outbox.clients.removeValue(forKey: id) { conn?.send(queued) }
                conn?.close(reason: reason)
            case .setReading(let id, let on):
                connections.withLockedValue({ $0[id] })?.setCorePaused(!on)
            case .persist(let records):
                appends += records
            case .snapshot(let zxid, let tree):
                storage.snapshotInBackground(zxid: zxid, tree: tree)
            case .rollLog:
                storage.rollLogSoon()
            case .quorumSend(let peer, let message):
                outbox.peers[peer, default: []].append(message)
            case .quorumSendSnapshot(let peer, let epoch, let lastZxid, let tree):
                // The messages emitted before it go first; later ones queue behind the stream in the transport.
                if let before = outbox.peers.removeValue(forKey: peer) { quorum?.send([peer: before]) }
                quorum?.sendSnapshot(to: peer, epoch: epoch, lastZxid: lastZxid, tree: tree)
            case .truncateLog(let zxid):
                do { try storage.truncateLog(after: zxid) } catch { fatalDiskError("log truncation", error) }
            case .installSnapshot(let zxid, let payload):
                let staged = stagedSnapshot?.zxid == zxid ? stagedSnapshot : nil
                if staged != nil { stagedSnapshot = nil }
                if staged == nil && payload.isEmpty {
                    // The bytes went only to a file that could not be written (its error is logged above).
                    fatalDiskError("snapshot install", StorageError.unrecoverable(reason: "the leader's snapshot file was not written"))
                }
                do {
                    try storage.installSnapshot(zxid: zxid, payload: payload, staged: staged)
                } catch {
                    fatalDiskError("snapshot install", error)
                }
            case .persistEpochs(let epochs):
                do { try storage.writeEpochs(epochs) } catch { fatalDiskError("epoch file write", error) }
            case .membershipChanged(let membership):
                // Messages already queued go to the peers they were meant for before the table changes.
                if !outbox.peers.isEmpty { quorum?.send(outbox.peers) }
                outbox.peers = [:]
                quorum?.updatePeers(Dictionary(uniqueKeysWithValues: membership.servers.map { ($0.id, ($0.host, $0.quorumPort)) }),
                                    outsider: membership.members[config.myid] == nil)
                persistMembership(membership)
            }
        }
        if !outbox.clients.isEmpty {
            let targets = connections.withLockedValue { conns in outbox.clients.map { (conns[$0.key], $0.value) } }
            for case let (conn?, packets) in targets { conn.send(packets) }
        }
        if !outbox.peers.isEmpty { quorum?.send(outbox.peers) }
        submitAppends()
    }
}

/// Packets collected during one `perform`, per destination, in emission order.
private struct Outbox {
    var clients: [UInt64: [[UInt8]]] = [:]
    var peers: [ServerId: [ZabMessage]] = [:]
}
