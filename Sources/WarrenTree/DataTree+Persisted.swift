import WarrenJute

extension DataTree {
    /// A committed node's stat as snapshots persist it, or nil: unlike a client `Stat`, it keeps the owner that
    /// marks a container or TTL node (clients see 0 there) and the cversion as the count of child creates (clients
    /// see twice that minus the children left). For tools that copy a tree into another format (`warren export`).
    public func persistedStat(_ path: String) -> PersistedStat? {
        slotOf(path).map { stat($0) }
    }
}
