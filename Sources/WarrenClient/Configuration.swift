import Logging
import WarrenJute
import WarrenTLS

extension ZooKeeperClient {
    /// Tunables of a client. Times are in milliseconds, as ZooKeeper states them.
    public struct Configuration: Sendable {
        /// The session timeout asked for; the server clamps it to its own bounds (see `negotiatedTimeoutMs`).
        public var sessionTimeoutMs: Int32
        /// How long one TCP connect plus handshake may take before the next host is tried; nil means
        /// `sessionTimeoutMs / number of hosts`, as ZooKeeper's Java client does.
        public var connectAttemptTimeoutMs: Int64?
        /// How long `connect` waits for the first session before giving up; nil means `sessionTimeoutMs`.
        public var initialConnectTimeoutMs: Int64?
        /// Requests in flight (sent or waiting for a connection) at most; further callers wait for a slot.
        public var outstandingRequestsMax: Int
        /// The largest reply frame accepted, in bytes; a larger one drops the connection (ZooKeeper's
        /// `jute.maxbuffer` on the client side).
        public var frameBytesMax: Int
        /// Whether a read-only server may be used.
        public var allowReadOnly: Bool
        /// The longest pause between reconnect attempts once every host has failed in a row.
        public var reconnectDelayMaxMs: Int64
        /// How long `close()` waits for the server to acknowledge the end of the session.
        public var closeTimeoutMs: Int64
        /// Whether the host list is shuffled (ZooKeeper's clients do, to spread sessions over the ensemble).
        public var shuffleHosts: Bool
        /// TLS for every connection (the server's `secureClientPort`): the trust store that must have signed the
        /// server's certificate and, for servers with `ssl.clientAuth=need`, this client's key store. nil = plaintext.
        public var tls: TLSContextSource?
        public var logger: Logger

        public init(
            sessionTimeoutMs: Int32 = 30_000, connectAttemptTimeoutMs: Int64? = nil,
            initialConnectTimeoutMs: Int64? = nil, outstandingRequestsMax: Int = 1000,
            frameBytesMax: Int = FrameDecoder.frameBytesMaxDefault, allowReadOnly: Bool = false,
            reconnectDelayMaxMs: Int64 = 1000, closeTimeoutMs: Int64 = 2000, shuffleHosts: Bool = true,
            tls: TLSContextSource? = nil, logger: Logger = Logger(label: "warren.client")
        ) {
            precondition(sessionTimeoutMs > 0, "sessionTimeoutMs \(sessionTimeoutMs) must be positive")
            precondition(outstandingRequestsMax > 0, "outstandingRequestsMax \(outstandingRequestsMax) must be positive")
            self.sessionTimeoutMs = sessionTimeoutMs
            self.connectAttemptTimeoutMs = connectAttemptTimeoutMs
            self.initialConnectTimeoutMs = initialConnectTimeoutMs
            self.outstandingRequestsMax = outstandingRequestsMax
            self.frameBytesMax = frameBytesMax
            self.allowReadOnly = allowReadOnly
            self.reconnectDelayMaxMs = reconnectDelayMaxMs
            self.closeTimeoutMs = closeTimeoutMs
            self.shuffleHosts = shuffleHosts
            self.tls = tls
            self.logger = logger
        }
    }
}
