/// ZooKeeper's quota bookkeeping (its `Quotas`, and the quota parts of `DataTree`).
///
/// A path `P` has a quota while `/zookeeper/quota<P>/zookeeper_limits` exists; zkCli's `setquota` writes the limits
/// there and creates `/zookeeper/quota<P>/zookeeper_stats` beside it. The server keeps the stat node's data
/// (`count=N,bytes=M`) equal to the usage of the subtree at `P`: creating the stat node recounts the subtree, and
/// every create, delete and setData at or below `P` adjusts it, charged to the deepest quota path above the node.
/// Limits are not enforced (ZooKeeper's `zookeeper.enforceQuota` is off by default).
///
/// Stat updates change only the stat node's data: not its version, mzxid or mtime, and they fire no watch, as in
/// ZooKeeper. They happen in `apply`, from the txn alone, so every replica writes the same bytes.
public enum Quotas {
    /// The node under which quota limits and stats live.
    public static let root = "/zookeeper/quota"
    public static let limitNode = "zookeeper_limits"
    public static let statNode = "zookeeper_stats"

    /// `/zookeeper/quota<path>/zookeeper_limits`.
    public static func limitPath(for path: String) -> String { root + path + "/" + limitNode }
    /// `/zookeeper/quota<path>/zookeeper_stats`.
    public static func statPath(for path: String) -> String { root + path + "/" + statNode }

    /// The path a limit or stat node is about ("/a/b" for "/zookeeper/quota/a/b/zookeeper_stats"), or nil when
    /// `path` is neither, or sits directly under /zookeeper/quota (which would be a quota on "", ignored like in
    /// ZooKeeper 3.9). A node must be strictly below "/zookeeper/quota/": ZooKeeper's plain string-prefix test also
    /// maps oddities like "/zookeeper/quotaX/zookeeper_limits" to "/X", which Warren does not copy.
    static func quotaedPath(of path: String, node: String) -> String? {
        guard PathValidation.lastComponent(of: path) == node, let parent = PathValidation.parent(of: path),
            parent.hasPrefix(root + "/")
        else { return nil }
        return String(parent.dropFirst(root.count))
    }
}

extension DataTree {
    /// Quota bookkeeping after `apply` created `path` with `dataLength` bytes (ZooKeeper's `createNode` tail): a new
    /// limit node starts a quota, a new stat node is filled with its subtree's usage, then the node is charged.
    func quotaAfterCreate(path: String, dataLength: Int) {
        if let quotaed = Quotas.quotaedPath(of: path, node: Quotas.limitNode) {
            quotaPaths.insert(quotaed)
        } else if let quotaed = Quotas.quotaedPath(of: path, node: Quotas.statNode) {
            recountQuota(quotaed)
        }
        if let prefix = quotaPrefix(of: path) { chargeQuota(prefix, bytes: Int64(dataLength), count: 1) }
    }

    /// Quota bookkeeping after `apply` deleted `path`, which held `dataLength` bytes: a deleted limit node ends its
    /// quota (the stat node stays, frozen), then the node's usage is refunded.
    func quotaAfterDelete(path: String, dataLength: Int) {
        if let quotaed = Quotas.quotaedPath(of: path, node: Quotas.limitNode) {
            quotaPaths.remove(quotaed)
        }
        if let prefix = quotaPrefix(of: path) { chargeQuota(prefix, bytes: -Int64(dataLength), count: -1) }
    }

    /// Quota bookkeeping after `apply` changed the data of `path` by `bytesDiff` bytes. The stat node is rewritten
    /// even when nothing changed, as ZooKeeper does (which normalises its text).
    func quotaAfterSetData(path: String, bytesDiff: Int) {
        if let prefix = quotaPrefix(of: path) { chargeQuota(prefix, bytes: Int64(bytesDiff), count: 0) }
    }

    /// The deepest path with a quota that is `path` or one of its ancestors (never "/"), or nil. ZooKeeper's
    /// `getMaxPrefixWithQuota`, matching whole components.
    func quotaPrefix(of path: String) -> String? {
        if quotaPaths.isEmpty { return nil }
        var candidate = path
        while candidate != "/" {
            if quotaPaths.contains(candidate) { return candidate }
            guard let parent = PathValidation.parent(of: candidate) else { return nil }
            candidate = parent
        }
        return nil
    }

    /// Every path that has a quota now, sorted.
    var pathsWithQuota: [String] { quotaPaths.sorted() }

    /// Rebuilds the quota paths from the limit nodes (after a snapshot restore). Unlike ZooKeeper, which recounts
    /// every stat node when it loads a snapshot, the stat nodes keep their stored data: a restored replica must
    /// equal one that never restarted, and the incremental counts differ from a recount when quotas nest.
    func rebuildQuotaPaths() {
        quotaPaths = []
        guard let top = slotOf(Quotas.root) else { return }
        var stack = [top]
        while let slot = stack.popLast() {
            if let quotaed = Quotas.quotaedPath(of: path(slot), node: Quotas.limitNode) { quotaPaths.insert(quotaed) }
            stack.append(contentsOf: children(slot))
        }
    }

    /// ZooKeeper's `updateQuotaForPath`: sets the stat node of `quotaed` to the node count and data bytes of the
    /// subtree at `quotaed` (0 and 0 if it does not exist), dropping any other keys.
    private func recountQuota(_ quotaed: String) {
        guard let statSlot = slotOf(Quotas.statPath(for: quotaed)) else { return }
        var count: Int64 = 0
        var bytes: Int64 = 0
        var stack = slotOf(quotaed).map { [$0] } ?? []
        while let slot = stack.popLast() {
            count += 1
            bytes += Int64(dataLength(slot))
            stack.append(contentsOf: children(slot))
        }
        setQuotaStatData(statSlot, QuotaStats(count: count, bytes: bytes).encoded)
    }

    /// ZooKeeper's `updateQuotaStat`: adds to the count and bytes in the stat node of `prefix`, keeping its other
    /// keys. A missing stat node, or one whose data does not parse (where ZooKeeper would throw), is left alone.
    private func chargeQuota(_ prefix: String, bytes: Int64, count: Int64) {
        guard let statSlot = slotOf(Quotas.statPath(for: prefix)),
            var stats = QuotaStats(parsing: data(statSlot))
        else { return }
        stats.count &+= count
        stats.bytes &+= bytes
        setQuotaStatData(statSlot, stats.encoded)
    }

    private func setQuotaStatData(_ slot: Int32, _ data: [UInt8]) {
        let oldLength = dataLength(slot)
        modify(slot) { $0.data = data }
        pathAndDataSize += Int64(data.count - oldLength)
    }
}
