import CHotPaths

/// Where a node's blob lives in a `BlobArena`.
struct BlobRef: Equatable {
    var chunk: Int32
    var offset: UInt32
}

/// Append-only storage for node blobs (see `NodeBlob`) in 1 MiB chunks, so a node costs its encoded bytes rounded
/// instead of one or more heap objects (16-byte object header, malloc rounding, array headers). Blobs are packed
/// without alignment; `NodeBlob` reads and writes them byte-wise or with unaligned loads.
///
/// Every chunk is a copy-on-write `[UInt8]`: a `DataTree.committedCopy()` shares all of them, and the original tree
/// copies only the chunk it next appends to or overwrites. A changed node whose new blob has exactly the old one's
/// size (a setData of a same-sized value, the common case) is rewritten in place (`overwrite`); otherwise it gets
/// a new blob and the old one becomes garbage. A chunk whose live bytes fall to 0 is released; one that falls below half live is
/// reported (by `free`, or by `nextSparseRetired` when it stops being the tail already that sparse) so the tree can
/// move its live blobs to the tail (`DataTree.compact`), which bounds garbage to about half of each non-tail chunk. Blobs larger than `dedicatedBytesMin` get a chunk of their own, exactly sized.
struct BlobArena {
    static let chunkBytes = 1 << 20
    static let dedicatedBytesMin = 64 << 10

    private(set) var chunks: ContiguousArray<[UInt8]> = []
    /// Bytes appended to each chunk (its fill point).
    private(set) var used: [Int] = []
    /// Bytes of live blobs in each chunk.
    private var live: [Int] = []
    private var freeChunks: [Int32] = []
    /// The ctime blobs store theirs relative to (see `NodeBlob`): 0 until the first node with a non-zero ctime,
    /// that node's ctime from then on (it never changes again, so no stored blob needs rewriting).
    var timeBase: Int64 = 0
    /// The chunk small blobs are appended to, or -1.
    private var tail: Int32 = -1
    /// Former tails not yet checked for sparseness.
    private var retired: [Int32] = []

    /// Bytes held by chunks (capacity, live or not): for measurements.
    var reservedBytes: Int { chunks.reduce(0) { $0 + $1.count } }

    /// Appends a blob of `count` bytes written by `write` (which must fill all of them) and returns where it is.
    mutating func append(count: Int, _ write: (UnsafeMutableRawPointer) -> Void) -> BlobRef {
        let size = count
        let chunk: Int32
        if size >= BlobArena.dedicatedBytesMin {
            chunk = newChunk(bytes: size)
        } else {
            if tail < 0 || used[Int(tail)] + size > chunks[Int(tail)].count {
                if tail >= 0 { retired.append(tail) }
                tail = newChunk(bytes: BlobArena.chunkBytes)
            }
            chunk = tail
        }
        let offset = used[Int(chunk)]
        chunks[Int(chunk)].withUnsafeMutableBytes { write($0.baseAddress! + offset) }
        used[Int(chunk)] += size
        live[Int(chunk)] += size
        return BlobRef(chunk: chunk, offset: UInt32(offset))
    }

    /// Rewrites the `count` bytes of the live blob at `ref` (its size must not change, or the chunk could no longer
    /// be walked blob by blob) through `write`, which must fill all of them.
    mutating func overwrite(_ ref: BlobRef, count: Int, _ write: (UnsafeMutableRawPointer) -> Void) {
        let c = Int(ref.chunk)
        precondition(Int(ref.offset) + count <= used[c], "overwrite of \(count) bytes at \(ref) past the fill point \(used[c])")
        chunks[c].withUnsafeMutableBytes { write($0.baseAddress! + Int(ref.offset)) }
    }

    /// Marks a blob of `count` bytes dead. Returns true when its chunk should be compacted (live blobs moved away).
    mutating func free(_ ref: BlobRef, count: Int) -> Bool {
        let c = Int(ref.chunk)
        live[c] -= count
        precondition(live[c] >= 0, "chunk \(c) has \(live[c]) live bytes after freeing \(count) at \(ref.offset)")
        if live[c] == 0 && ref.chunk != tail {
            release(ref.chunk)
            return false
        }
        return ref.chunk != tail && chunks[c].count == BlobArena.chunkBytes && live[c] * 2 < used[c]
    }

    /// A former tail that was left less than half live (garbage written while it was the tail is never reported by
    /// `free`), to be compacted; nil when there is none.
    mutating func nextSparseRetired() -> Int32? {
        while let c = retired.popLast() {
            let i = Int(c)
            if c != tail && chunks[i].count == BlobArena.chunkBytes && live[i] * 2 < used[i] {
                if live[i] == 0 {
                    release(c)
                    continue
                }
                return c
            }
        }
        return nil
    }

    /// Forgets a chunk whose blobs are all dead or moved.
    mutating func release(_ chunk: Int32) {
        precondition(chunk != tail, "release of the tail chunk \(chunk)")
        chunks[Int(chunk)] = []
        used[Int(chunk)] = 0
        live[Int(chunk)] = 0
        freeChunks.append(chunk)
    }

    @inline(__always)
    func withBlob<R>(_ ref: BlobRef, _ body: (UnsafeRawPointer) throws -> R) rethrows -> R {
        try chunks[Int(ref.chunk)].withUnsafeBytes { try body($0.baseAddress! + Int(ref.offset)) }
    }

    private mutating func newChunk(bytes: Int) -> Int32 {
        // Not zero-filled: bytes past `used` are never read. Mapped in with one call rather than a page fault per
        // 4 KiB as blobs fill it: a fifth of a 1M-node snapshot restore went to those faults.
        let storage = [UInt8](unsafeUninitializedCapacity: bytes) { buffer, initialized in
            _ = warren_populate_write(buffer.baseAddress, buffer.count)
            initialized = bytes
        }
        if let reused = freeChunks.popLast() {
            chunks[Int(reused)] = storage
            return reused
        }
        chunks.append(storage)
        used.append(0)
        live.append(0)
        return Int32(chunks.count - 1)
    }
}
