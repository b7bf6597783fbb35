import Foundation
import WarrenJute

/// The data and `Stat` of recently read nodes, so that a read-only open can be answered without a round trip.
///
/// It is only as fresh as the persistent recursive watch: entries are served only while the cache is `live`
/// (the watch is registered on a connected session with no gap since), every watch event of a path drops its
/// entry, and losing the connection or the session drops everything. A read that was under way while anything
/// was dropped does not store its result (`ticket`/`store`), so a reply that raced with an event cannot put old
/// data back. Thread-safe; no I/O.
public final class DataCache: @unchecked Sendable {
    public struct Limits: Sendable {
        public var entriesMax: Int
        public var bytesMax: Int
        /// Larger nodes are not cached (one would push out many small ones).
        public var entryBytesMax: Int

        public init(entriesMax: Int = 4096, bytesMax: Int = 32 << 20, entryBytesMax: Int = 1 << 20) {
            self.entriesMax = entriesMax
            self.bytesMax = bytesMax
            self.entryBytesMax = entryBytesMax
        }
    }

    struct Entry {
        var data: [UInt8]
        var stat: Stat
        var lastUse: UInt64
    }

    public let limits: Limits
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var bytes = 0
    private var live = false
    /// Bumped by every drop: a read whose ticket is older may have missed it.
    private var epoch: UInt64 = 0
    private var clock: UInt64 = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether entries are served (the watch is known to report every change).
    public var isLive: Bool { lock.withLock { live } }

    public var count: Int { lock.withLock { entries.count } }
    public var totalBytes: Int { lock.withLock { bytes } }

    /// Starts (true) or stops (false) serving. Either way everything cached is dropped: after a gap in the watch
    /// nothing cached before can be trusted.
    public func setLive(_ isLive: Bool) {
        lock.withLock {
            live = isLive
            dropAll()
        }
    }

    /// The cached data and `Stat` of `path`, nil if there is none or the cache is not live.
    public func lookup(_ path: String) -> (data: [UInt8], stat: Stat)? {
        lock.withLock {
            guard live, var entry = entries[path] else { return nil }
            clock += 1
            entry.lastUse = clock
            entries[path] = entry
            return (entry.data, entry.stat)
        }
    }

    /// Taken before a read is sent; nil if the cache is not live (the result must then not be stored).
    public func ticket() -> UInt64? {
        lock.withLock { live ? epoch : nil }
    }

    /// Stores what a read taken under `ticket` returned, unless anything was dropped since the ticket was taken.
    public func store(_ path: String, data: [UInt8], stat: Stat, ticket: UInt64) {
        lock.withLock {
            guard live, ticket == epoch, data.count <= limits.entryBytesMax else { return }
            clock += 1
            if let old = entries.updateValue(Entry(data: data, stat: stat, lastUse: clock), forKey: path) {
                bytes -= old.data.count
            }
            bytes += data.count
            if entries.count > limits.entriesMax || bytes > limits.bytesMax { evict() }
        }
    }

    /// Drops `path`'s entry (it changed, or this mount is changing it).
    public func invalidate(_ path: String) {
        lock.withLock {
            epoch += 1
            if let old = entries.removeValue(forKey: path) { bytes -= old.data.count }
        }
    }

    /// Drops everything, staying live or not as it was.
    public func invalidateAll() {
        lock.withLock { dropAll() }
    }

    private func dropAll() {
        epoch += 1
        entries.removeAll()
        bytes = 0
    }

    /// Drops the least recently used quarter (at least down to the limits), so eviction's sort is paid rarely.
    private func evict() {
        let byAge = entries.sorted { $0.value.lastUse < $1.value.lastUse }
        var index = 0
        let targetCount = limits.entriesMax * 3 / 4
        let targetBytes = limits.bytesMax * 3 / 4
        while index < byAge.count, entries.count > targetCount || bytes > targetBytes {
            let (path, entry) = byAge[index]
            entries.removeValue(forKey: path)
            bytes -= entry.data.count
            index += 1
        }
    }
}
