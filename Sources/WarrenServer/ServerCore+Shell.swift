import Logging
import WarrenCore
import WarrenZab

extension ServerCore {
    /// The core as the shell starts it: from zoo.cfg's settings and what `ServerStorage.recover` read, with the
    /// request latencies reported to swift-metrics.
    convenience init(config: ServerConfig, recovered: RecoveredServerState, now: Now, logger: Logger,
                     durable: DurableState? = nil, seed: UInt64 = 0) throws {
        try self.init(config: config.core, tree: recovered.tree, sessionSecret: recovered.sessionSecret,
                      recordsSinceSnapshot: recovered.recordsSinceSnapshot, now: now, logger: logger,
                      durable: durable, seed: seed)
        requestObserver = { op, ms in ServerMetrics.recordRequest(op, ms: ms) }
    }
}
