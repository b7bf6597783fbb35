import Logging
import NIOCore
import NIOPosix
import WarrenJute

/// A ZooKeeper session over SwiftNIO.
///
/// `connect` returns once the first session is established. The client then keeps the session alive (pings at a
/// third of the negotiated timeout), pipelines requests (replies come back in request order), and on connection
/// loss reconnects to the next host of the (shuffled) list with the same session, re-sending credentials and
/// watches. Requests in flight when a connection drops fail with `connectionLoss`; the caller decides whether to
/// retry. If the session expires the client stops for good (`sessionEvents()` ends with `.expired`): make a new one.
///
/// Paths are the caller's: with a chroot in the connect string, it is prepended to every path sent and removed
/// from every path received.
// Sendable: it holds no mutable state of its own; the session's lives in `engine`, which synchronizes itself.
public final class ZooKeeperClient: @unchecked Sendable {
    let engine: SessionEngine

    /// The connect string this client was made from.
    public let connectString: ConnectString

    private init(engine: SessionEngine, connectString: ConnectString) {
        self.engine = engine
        self.connectString = connectString
    }

    /// Connects to one of the servers of `connectString` (`"h1:2181,h2:2181/chroot"`) and returns once a session
    /// is established.
    /// - Parameter group: the event loops to run on; the client uses one loop of it.
    /// - Throws: `ZooKeeperError` with `badArguments` for a bad connect string, `connectionLoss` if no server
    ///   answered within `configuration.initialConnectTimeoutMs`.
    public static func connect(
        _ connectString: String, configuration: Configuration = Configuration(),
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ZooKeeperClient {
        let parsed = try ConnectString(parsing: connectString)
        let loop = group.next()
        let engine = SessionEngine(loop: loop, config: configuration, connectString: parsed)
        let client = ZooKeeperClient(engine: engine, connectString: parsed)
        let established = loop.makePromise(of: Void.self)
        loop.execute { engine.start(firstSession: established) }
        try await established.futureResult.get()
        return client
    }

    /// Convenience for `connect` with just a session timeout.
    public static func connect(_ connectString: String, sessionTimeoutMs: Int32) async throws -> ZooKeeperClient {
        try await connect(connectString, configuration: Configuration(sessionTimeoutMs: sessionTimeoutMs))
    }

    deinit {
        let engine = self.engine
        engine.loop.execute {
            let done = engine.loop.makePromise(of: Void.self)
            engine.close(done)
        }
    }

    // MARK: - Session

    /// The session id (0 before the first session).
    public var sessionId: Int64 { engine.snapshot.sessionId }
    /// The session password the server gave.
    public var sessionPassword: [UInt8] { engine.snapshot.password }
    /// The session timeout the server granted, in milliseconds.
    public var negotiatedTimeoutMs: Int32 { engine.snapshot.negotiatedTimeoutMs }
    public var state: ConnectionState { engine.snapshot.state }
    /// The server currently connected to, if any.
    public var connectedHost: HostAndPort? { engine.snapshot.host }

    /// Watch events from now on (every kind, or those passing `filter`), in the order the server sent them. The
    /// stream ends when the client stops. Subscribe before setting the watch so that no event is missed.
    public func watchEvents(
        matching filter: @escaping @Sendable (WatchEvent) -> Bool = { _ in true }
    ) -> AsyncStream<WatchEvent> {
        engine.hub.watchEvents(filter: filter)
    }

    /// Watch events for `path` only.
    public func watchEvents(path: String) -> AsyncStream<WatchEvent> {
        engine.hub.watchEvents { $0.path == path }
    }

    /// Session state changes from now on; the stream ends after the terminal event (expired, authFailed, closed).
    public func sessionEvents() -> AsyncStream<SessionEvent> { engine.hub.sessionEvents() }

    /// Ends the session on the server and stops the client. Requests still waiting fail with `sessionExpired`.
    public func close() async {
        let done = engine.loop.makePromise(of: Void.self)
        engine.loop.execute { [engine] in engine.close(done) }
        try? await done.futureResult.get()
    }

    /// Drops the current TCP connection without ending the session, as a network fault would; the client
    /// reconnects. For tests and for moving a session to another server.
    public func dropConnection() {
        engine.loop.execute { [engine] in
            switch engine.phase {
            case let .connected(channel), let .handshaking(channel, _): channel.close(promise: nil)
            default: break
            }
        }
    }

    /// Adds credentials to the session (re-sent on every reconnect) and waits for the server to accept them.
    /// - Throws: `ZooKeeperError(.authFailed)` if the server rejects them; the client then stops, as ZooKeeper's
    ///   does.
    public func addAuth(scheme: String, auth: [UInt8]) async throws {
        let done = engine.loop.makePromise(of: Void.self)
        engine.loop.execute { [engine] in engine.addAuth(scheme: scheme, auth: auth, done: done) }
        try await done.futureResult.get()
    }

    /// Sends `request` and waits for its reply. `clientPath` is used in errors; `watch` is recorded on success.
    func execute(_ request: Request, clientPath: String?, watch: WatchRegistration? = nil) async throws -> Response {
        let promise = engine.loop.makePromise(of: Response.self)
        let pending = PendingRequest(request: request, clientPath: clientPath, watch: watch, promise: promise)
        engine.loop.execute { [engine] in engine.submit(pending) }
        return try await promise.futureResult.get()
    }

    func serverPath(_ clientPath: String, isSequential: Bool = false) throws -> String {
        try validatePath(clientPath, isSequential: isSequential)
        return engine.chroot.serverPath(clientPath)
    }

    func clientPath(_ serverPath: String) -> String { engine.chroot.clientPath(serverPath) }
}

/// A reply that does not match its request's opcode: the server broke the protocol.
func unexpected(_ response: Response, path: String?) -> ZooKeeperError {
    ZooKeeperError(.marshallingError, path: path, message: "unexpected reply \(response)")
}
