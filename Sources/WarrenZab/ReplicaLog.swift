/// The core's view of one server's history: a base (the zxid folded into the state machine's snapshot, or trimmed
/// from memory), the entries after it, how far they are delivered and how far they are durable.
///
/// Invariant: `base <= delivered <= last`, entries strictly increasing and all `> base`, `synced <= last`.
struct ReplicaLog: CustomStringConvertible {
    private(set) var base: Zxid
    /// Entries after `base`, starting at `storage[head]` (trimming advances `head`; storage is compacted lazily).
    private var storage: [LogEntry]
    private var head = 0
    /// The last delivered (applied) zxid.
    private(set) var delivered: Zxid
    /// Every entry through this zxid is durable.
    private(set) var synced: Zxid
    /// Payload bytes of the delivered entries still held (`storage[head..<firstIndex(after: delivered)]`), kept as
    /// they are delivered and trimmed so the byte bound costs nothing per delivery.
    private(set) var deliveredBytes = 0
    /// Each `.persist` batch not yet reported, oldest first: the zxid its report names, and how far it makes the
    /// log durable (capped by truncations and snapshots issued after it).
    private var pendingBatches: [(reported: Zxid, effective: Zxid)] = []

    init(snapshotZxid: Zxid, entries: [LogEntry]) {
        for (a, b) in zip(entries, entries.dropFirst()) {
            precondition(a.zxid < b.zxid, "recovered log not in zxid order: \(a.zxid) then \(b.zxid)")
        }
        precondition(entries.first.map { $0.zxid > snapshotZxid } ?? true,
                     "recovered log starts at \(entries[0].zxid), not after snapshot \(snapshotZxid)")
        base = snapshotZxid
        storage = entries
        delivered = snapshotZxid
        synced = entries.last?.zxid ?? snapshotZxid
    }

    var entries: ArraySlice<LogEntry> { storage[head...] }
    var last: Zxid { head < storage.count ? storage[storage.count - 1].zxid : base }
    var count: Int { storage.count - head }
    var hasPendingPersists: Bool { !pendingBatches.isEmpty }

    /// Position in `storage` of the entry with zxid `z`, or nil.
    private func index(of z: Zxid) -> Int? {
        var lo = head, hi = storage.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if storage[mid].zxid < z { lo = mid + 1 } else { hi = mid }
        }
        return lo < storage.count && storage[lo].zxid == z ? lo : nil
    }

    /// Position of the first entry with zxid `> z`.
    private func firstIndex(after z: Zxid) -> Int {
        var lo = head, hi = storage.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if storage[mid].zxid <= z { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// True when `z` is the base or a logged entry.
    func contains(_ z: Zxid) -> Bool { z == base || index(of: z) != nil }

    /// The largest zxid in {base} ∪ entries that is `<= z`, or nil when `z < base` (the history before the base is
    /// no longer available as individual entries).
    func largest(atMost z: Zxid) -> Zxid? {
        if z < base { return nil }
        let i = firstIndex(after: z)
        return i > head ? storage[i - 1].zxid : base
    }

    /// Entries with zxid in `(after, through]`.
    func entries(after: Zxid, through: Zxid) -> ArraySlice<LogEntry> {
        let from = firstIndex(after: after)
        let to = firstIndex(after: through)
        return from < to ? storage[from..<to] : []
    }

    func entry(_ z: Zxid) -> LogEntry? { index(of: z).map { storage[$0] } }

    mutating func append(_ e: LogEntry) {
        precondition(e.zxid > last, "append of \(e.zxid) after \(last): zxids must strictly increase; \(self)")
        storage.append(e)
    }

    /// Records that a `.persist` batch ending at `z` was emitted (or extends the newest one when `merge`).
    mutating func notePersistBatch(endingAt z: Zxid, merge: Bool) {
        if merge && !pendingBatches.isEmpty {
            pendingBatches[pendingBatches.count - 1] = (z, z)
        } else {
            pendingBatches.append((z, z))
        }
    }

    /// Applies a `.persisted(upTo:)` report. Returns false when no outstanding batch ends at `z`.
    mutating func persisted(upTo z: Zxid) -> Bool {
        guard let i = pendingBatches.firstIndex(where: { $0.reported == z }) else { return false }
        // Batches complete in order, so everything up to this batch's (capped) end is durable.
        synced = max(synced, min(pendingBatches[i].effective, last))
        pendingBatches.removeFirst(i + 1)
        return true
    }

    /// Drops entries after `t`. Never below what was delivered.
    mutating func truncate(after t: Zxid) {
        precondition(t >= delivered, "truncation to \(t) below delivered \(delivered): \(self)")
        precondition(t >= base, "truncation to \(t) below base \(base): \(self)")
        storage.removeSubrange(firstIndex(after: t)...)
        synced = min(synced, t)
        pendingBatches = pendingBatches.map { ($0.reported, min($0.effective, t)) }
    }

    /// Replaces everything with a snapshot at `z` (durable, delivered).
    mutating func installSnapshot(at z: Zxid) {
        precondition(z >= delivered, "snapshot at \(z) would roll back delivered \(delivered): \(self)")
        storage = []
        head = 0
        base = z
        delivered = z
        deliveredBytes = 0
        synced = z
        pendingBatches = pendingBatches.map { ($0.reported, min($0.effective, z)) }
    }

    /// Marks entries through `c` delivered and returns them (in order). Stops at the last logged entry.
    mutating func takeDeliverable(upTo c: Zxid) -> ArraySlice<LogEntry> {
        guard c > delivered else { return [] }
        let out = entries(after: delivered, through: c)
        if let lastOut = out.last {
            precondition(lastOut.zxid > delivered, "delivery would not advance: \(self)")
            delivered = lastOut.zxid
            for e in out { deliveredBytes += e.payload.count }
        }
        return out
    }

    /// Forgets delivered entries beyond the newest `retain` ones, and beyond the newest that fit in `bytesMax` of
    /// payload (they stay on disk; DIFF can no longer use them, a learner that far behind gets a SNAP). The byte
    /// bound is what keeps large values from holding `retain` × jute.maxbuffer in memory.
    mutating func trim(retaining retain: Int, bytesMax: Int) {
        let end = firstIndex(after: delivered)
        var newHead = head
        while newHead < end && (end - newHead > retain || deliveredBytes > bytesMax) {
            deliveredBytes -= storage[newHead].payload.count
            newHead += 1
        }
        precondition(deliveredBytes >= 0, "delivered bytes below zero: \(deliveredBytes); \(self)")
        guard newHead > head else { return }
        head = newHead
        base = storage[head - 1].zxid
        if head > 64 && head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
    }

    var description: String {
        "log(base \(base), \(count) entries to \(last), delivered \(delivered), synced \(synced), pending \(pendingBatches.map(\.reported)))"
    }
}
