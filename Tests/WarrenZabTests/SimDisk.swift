import WarrenZab

/// One simulated server's disk: epoch files and snapshots are written synchronously; log appends stay volatile
/// until their fsync completes (or a later truncate/snapshot flushes them). A crash keeps the durable log plus a
/// random prefix of the unsynced appends — the cut can fall inside an entry (a torn write), which recovery drops.
struct SimDisk {
    struct Snapshot {
        var zxid: Zxid
        /// Length of the delivered sequence the snapshot holds.
        var count: Int
        var tree: [UInt8]
    }

    var epochs = EpochState()
    var snapshot: Snapshot
    var durable: [LogEntry] = []
    /// Unsynced append batches, oldest first, by batch number.
    var unsynced: [(batch: Int, entries: [LogEntry])] = []
    private var nextBatch = 0

    init(emptyTree: [UInt8]) {
        snapshot = Snapshot(zxid: .zero, count: 0, tree: emptyTree)
    }

    /// Queues an append; returns its batch number for `complete`.
    mutating func append(_ entries: [LogEntry]) -> Int {
        nextBatch += 1
        unsynced.append((nextBatch, entries))
        return nextBatch
    }

    /// The fsync of `batch` finished: it and every older batch are durable.
    mutating func complete(_ batch: Int) {
        while let first = unsynced.first, first.batch <= batch {
            durable += first.entries
            unsynced.removeFirst()
        }
    }

    mutating func flush() {
        for b in unsynced { durable += b.entries }
        unsynced = []
    }

    mutating func truncate(after t: Zxid) {
        flush()
        durable.removeAll { $0.zxid > t }
    }

    mutating func install(_ s: Snapshot) {
        flush()
        durable = []
        snapshot = s
    }

    /// Takes a local snapshot of the state machine and purges the log it covers.
    mutating func takeSnapshot(_ s: Snapshot) {
        snapshot = s
        durable.removeAll { $0.zxid <= s.zxid }
    }

    /// What survives a power cut: durable entries plus a torn prefix of the unsynced ones.
    mutating func crash<G: RandomNumberGenerator>(using rng: inout G) {
        let volatile = unsynced.flatMap(\.entries)
        let bytes = volatile.reduce(0) { $0 + $1.payload.count + 20 }
        var cut = bytes == 0 ? 0 : Int.random(in: 0...bytes, using: &rng)
        for e in volatile {
            let size = e.payload.count + 20
            guard cut >= size else { break }  // a partial record fails its checksum and ends the log
            durable.append(e)
            cut -= size
        }
        unsynced = []
    }

    var recovered: DurableState {
        DurableState(epochs: epochs, snapshotZxid: snapshot.zxid, log: durable.filter { $0.zxid > snapshot.zxid })
    }

    /// True when `z` (or a later snapshot covering it) is durable here.
    func holdsDurably(_ z: Zxid) -> Bool {
        snapshot.zxid >= z || durable.contains { $0.zxid == z }
    }
}

/// A min-heap of timed simulator events; ties break by insertion order so runs are reproducible.
struct EventQueue<Element> {
    private var heap: [(time: Int, seq: Int, element: Element)] = []
    private var seq = 0

    var isEmpty: Bool { heap.isEmpty }
    var nextTime: Int? { heap.first?.time }

    mutating func push(_ element: Element, at time: Int) {
        seq += 1
        heap.append((time, seq, element))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard less(i, parent) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (time: Int, element: Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < heap.count && less(l, m) { m = l }
            if r < heap.count && less(r, m) { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
        return (top.time, top.element)
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        (heap[a].time, heap[a].seq) < (heap[b].time, heap[b].seq)
    }
}
