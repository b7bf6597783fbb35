import WarrenClient

/// Why a recipe operation did not do what was asked. ZooKeeper's own failures pass through as `ZooKeeperError`.
public enum RecipeError: Error, Equatable, Sendable {
    /// The session expired (or the client was closed): ephemeral nodes are gone, so is any lock or leadership.
    case sessionLost
    /// A lock operation by an owner that does not hold the lock.
    case notHeld
    /// `acquire` was called on an instance whose previous `acquire` has not returned yet.
    case acquireInProgress
    /// Our own znode disappeared while we were waiting (someone deleted it, or the session moved on).
    case nodeMissing(String)
    /// A recipe's znode held data this library cannot read.
    case malformedData(path: String, reason: String)
    /// A bound was reached (e.g. `connectionLossRetriesMax`); `what` says which.
    case limitReached(String)
}
