import Foundation
import Logging
import WarrenClient
import WarrenJute
import WarrenTLS

/// The mount's ZooKeeper session, kept alive for the life of the mount: if the session expires, a new one is
/// opened (credentials and the recursive watch re-added) and the mount carries on.
///
/// Every request goes through `run`, which bounds its time and retries it after a connection loss.
// Sendable: the callbacks are @Sendable, `options` and `logger` immutable, every var behind `lock`.
public final class ZooKeeperConnection: @unchecked Sendable {
    public let options: MountOptions
    let logger: Logger
    /// Called for every watch event, on a task of its own (never a FUSE request thread).
    let onWatchEvent: @Sendable (WatchEvent) -> Void
    /// Called after a new session replaced an expired one: anything cached may be stale.
    let onNewSession: @Sendable () -> Void
    /// Called when the session is back after a disconnection: watch events may have been missed (ZooKeeper does
    /// not resend what a persistent watch missed).
    let onReconnected: @Sendable () -> Void
    /// Called with true when the recursive watch is registered on a connected session (from then on every change
    /// is reported), and with false when that stops being known (disconnection, expiry).
    let onWatchHealth: @Sendable (Bool) -> Void

    private let lock = NSLock()
    private var client: ZooKeeperClient?
    private var stopped = false
    /// False if the server refused addWatch (older than 3.6): reads then leave one-shot watches.
    private var recursiveWatch: Bool
    /// Whether the current client is connected (as far as its session events said).
    private var connected = true
    /// The client the recursive watch was added on (the client re-registers it on every reconnect).
    private var watchedClient: ObjectIdentifier?
    /// TLS for every session of the mount, built once at `start` from the `tls*` options; nil without `tls`.
    private var tls: TLSContextSource?

    public init(options: MountOptions, logger: Logger, onWatchEvent: @escaping @Sendable (WatchEvent) -> Void,
                onNewSession: @escaping @Sendable () -> Void, onReconnected: @escaping @Sendable () -> Void = {},
                onWatchHealth: @escaping @Sendable (Bool) -> Void = { _ in }) {
        self.options = options
        self.logger = logger
        self.onWatchEvent = onWatchEvent
        self.onNewSession = onNewSession
        self.onReconnected = onReconnected
        self.onWatchHealth = onWatchHealth
        self.recursiveWatch = !options.oneShotWatches
    }

    /// The current client. Only valid after `start`.
    public var current: ZooKeeperClient {
        lock.withLock {
            guard let client else { preconditionFailure("ZooKeeperConnection used before start (stopped: \(stopped))") }
            return client
        }
    }

    public var sessionId: Int64 { lock.withLock { client?.sessionId ?? 0 } }

    /// Whether reads must leave one-shot watches (no persistent recursive watch on this server).
    public var needsOneShotWatches: Bool { lock.withLock { !recursiveWatch } }

    /// Opens the first session. Throws if no server answers, the credentials are refused or the chroot is
    /// missing, so that a mount with a wrong connect string fails at once.
    public func start() async throws {
        tls = try Self.makeTLS(options)
        let client = try await openSession()
        guard try await client.exists("/") != nil else {
            await client.close()
            throw OptionError("the chroot \(options.chroot) does not exist on \(options.connectString)")
        }
        install(client)
    }

    /// Ends the session (ephemerals go at once).
    public func stop() async {
        let client: ZooKeeperClient? = lock.withLock {
            stopped = true
            return self.client
        }
        await client?.close()
    }

    private func openSession() async throws -> ZooKeeperClient {
        var config = ZooKeeperClient.Configuration(sessionTimeoutMs: options.sessionTimeoutMs)
        config.logger = logger
        config.initialConnectTimeoutMs = Int64(max(options.sessionTimeoutMs, 5000))
        config.tls = tls
        let client = try await ZooKeeperClient.connect(options.connectString, configuration: config)
        if let file = options.credentialsFile {
            let credential = try Self.readCredential(file)
            try await client.addAuth(scheme: "digest", auth: Array(credential.utf8))
        }
        return client
    }

    /// The TLS context of `options` (PEM files, as ZooKeeper's `ssl.keyStore`/`ssl.trustStore` with type PEM).
    /// - Throws: `OptionError` naming the file that does not load.
    static func makeTLS(_ options: MountOptions) throws -> TLSContextSource? {
        guard options.tls else { return nil }
        if options.tlsKeyFile != nil && options.tlsCertFile == nil {
            throw OptionError("tls_key needs tls_cert (the certificate chain that goes with the key)")
        }
        let settings = TLSSettings(
            keyStore: options.tlsCertFile.map { .init(path: $0, password: nil, type: .pem, keyPath: options.tlsKeyFile) },
            trustStore: options.tlsCAFile.map { .init(path: $0, password: nil, type: .pem) })
        do {
            return try TLSContextSource(settings: settings, role: .client)
        } catch {
            throw OptionError("TLS: \(error)")
        }
    }

    /// The first line of a credentials file, `user:password`.
    static func readCredential(_ file: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw OptionError("cannot read the credentials file \(file)")
        }
        let line = text.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        let credential = line.trimmingWhitespace()
        guard credential.contains(":") else { throw OptionError("\(file) must hold user:password on its first line") }
        return credential
    }

    /// Makes `client` current: subscribes to its watch and session events and adds the recursive watch.
    private func install(_ client: ZooKeeperClient) {
        lock.withLock {
            self.client = client
            connected = true
        }
        let events = client.watchEvents()
        let sessions = client.sessionEvents()
        let onWatchEvent = self.onWatchEvent
        Task.detached { for await event in events { onWatchEvent(event) } }
        Task.detached { [weak self] in
            var disconnected = false
            for await event in sessions {
                guard let self else { return }
                // A replaced (expired) client's late events say nothing about the current one.
                let isCurrent = self.lock.withLock { self.client === client }
                switch event {
                case .expired:
                    if isCurrent {
                        self.lock.withLock { self.connected = false }
                        self.onWatchHealth(false)
                    }
                    self.logger.critical(
                        "zkfs: SESSION EXPIRED for \(self.options.connectString) (session 0x\(String(UInt64(bitPattern: client.sessionId), radix: 16))): ephemerals and @held locks of this mount are gone; opening a new session")
                    await self.replaceExpiredSession()
                case .authFailed:
                    self.logger.critical("zkfs: the server rejected the credentials; requests will fail with EACCES/EIO")
                case .disconnected:
                    disconnected = true
                    if isCurrent {
                        self.lock.withLock { self.connected = false }
                        self.onWatchHealth(false)
                    }
                    self.logger.warning("zkfs: disconnected from \(self.options.connectString); reconnecting")
                case .connected:
                    // The client re-registered the recursive watch (from the last zxid seen) before this event.
                    let healthy = self.lock.withLock { () -> Bool in
                        guard isCurrent else { return false }
                        self.connected = true
                        return self.watchedClient == ObjectIdentifier(client)
                    }
                    if disconnected {
                        self.onReconnected()
                        if healthy { self.onWatchHealth(true) }
                    }
                    disconnected = false
                case .closed:
                    break
                }
            }
        }
        Task.detached { [weak self] in await self?.addRecursiveWatch(client) }
    }

    private func addRecursiveWatch(_ client: ZooKeeperClient) async {
        if options.oneShotWatches {
            lock.withLock { recursiveWatch = false }
            return
        }
        do {
            try await client.addWatch("/", mode: .persistentRecursive)
            let healthy = lock.withLock { () -> Bool in
                recursiveWatch = true
                watchedClient = ObjectIdentifier(client)
                return connected && self.client === client
            }
            if healthy { onWatchHealth(true) }
        } catch let error as ZooKeeperError where error.code == .unimplemented {
            logger.notice("zkfs: server has no addWatch; falling back to one-shot watches")
            lock.withLock { recursiveWatch = false }
        } catch {
            logger.error("zkfs: addWatch failed (\(error)); falling back to one-shot watches")
            lock.withLock { recursiveWatch = false }
        }
    }

    private func replaceExpiredSession() async {
        var attempt = 0
        while !lock.withLock({ stopped }) {
            attempt += 1
            do {
                let client = try await openSession()
                install(client)
                logger.critical("zkfs: new session 0x\(String(UInt64(bitPattern: client.sessionId), radix: 16)) after expiry (attempt \(attempt)); the mount goes on")
                onNewSession()
                return
            } catch {
                logger.error("zkfs: reopening the session failed (attempt \(attempt)): \(error)")
                try? await Task.sleep(nanoseconds: UInt64(min(attempt, 10)) * 500_000_000)
            }
        }
    }

    // MARK: - Requests

    /// How long a request may take in all, retries included: long enough to ride out a reconnect within the
    /// session timeout, short enough that a dead ensemble answers EIO rather than hanging the caller.
    var requestDeadlineMs: Int64 { Int64(options.sessionTimeoutMs) + 2000 }

    /// Runs `body` against the current client. A connection loss or timeout is retried up to
    /// `options.retriesMax` times (with growing pauses) when `idempotent`, all within `requestDeadlineMs`; then,
    /// or for any other error, the error is thrown. `reconcile`, if given, is asked after a retried attempt
    /// failed whether the error actually means an earlier, lost attempt succeeded; it returns the result to
    /// use, or nil to throw. Non-idempotent requests are retried only when they have a `reconcile`.
    public func run<T: Sendable>(
        idempotent: Bool = true,
        reconcile: (@Sendable (ZooKeeperError, ZooKeeperClient) async throws -> T?)? = nil,
        _ body: @escaping @Sendable (ZooKeeperClient) async throws -> T
    ) async throws -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        var attempt = 0
        var lostOne = false
        while true {
            let client = current
            let elapsedMs = Int64((DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
            let remainingMs = max(requestDeadlineMs - elapsedMs, 100)
            do {
                return try await withTimeout(ms: remainingMs) { try await body(client) }
            } catch let error as ZooKeeperError {
                if lostOne, let reconcile, let result = try await reconcile(error, client) { return result }
                let transient = error.code == .connectionLoss || error.code == .operationTimeout
                    || error.code == .sessionExpired
                let pauseMs = Int64(attempt + 1) * 200
                guard transient, attempt < options.retriesMax, idempotent || reconcile != nil,
                      elapsedMs + pauseMs < requestDeadlineMs
                else { throw error }
                lostOne = true
                attempt += 1
                logger.info("zkfs: \(error); retry \(attempt) of \(options.retriesMax)")
                try? await Task.sleep(nanoseconds: UInt64(pauseMs) * 1_000_000)
            }
        }
    }
}

/// Resumes with whichever comes first: `body`'s outcome or an operationTimeout after `ms`. `body` keeps running
/// after a timeout (a request already sent cannot be taken back); its outcome is then dropped.
func withTimeout<T: Sendable>(ms: Int64, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = OnceFlag()
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
        let timer = Task {
            try? await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
            if !Task.isCancelled, once.claim() {
                continuation.resume(throwing: ZooKeeperError(.operationTimeout, message: "no answer within \(ms) ms"))
            }
        }
        Task {
            do {
                let value = try await body()
                timer.cancel()
                if once.claim() { continuation.resume(returning: value) }
            } catch {
                timer.cancel()
                if once.claim() { continuation.resume(throwing: error) }
            }
        }
    }
}

/// True for the first `claim()` only.
// Sendable: its one var is read and written only under `lock`.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var claimed = false
    func claim() -> Bool {
        lock.withLock {
            defer { claimed = true }
            return !claimed
        }
    }
}
