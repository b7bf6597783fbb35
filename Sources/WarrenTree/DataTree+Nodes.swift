/// The mutable parts of a node as `DataTree.modify` hands them out.
struct NodeValue {
    /// nil for null data (Jute length -1), which ZooKeeper keeps distinct from empty.
    var data: [UInt8]?
    var stat: PersistedStat
    var aclRef: Int32
}

extension NodeBlob {
    /// True when both encode the same stat fields and data nullness/length (names are not compared).
    func sameStoredFields(_ o: NodeBlob) -> Bool {
        flags == o.flags && timeBase == o.timeBase && dataLength == o.dataLength && czxid == o.czxid && ctime == o.ctime && mzxid == o.mzxid
            && mtime == o.mtime && version == o.version && aversion == o.aversion && ephemeralOwner == o.ephemeralOwner
    }
}

/// Reading nodes out of slots, blobs and exts; the path lookup; blob and ext upkeep.
extension DataTree {
    // MARK: - Lookup

    @inline(__always) func slotOf(_ path: String) -> Int32? {
        if let found = path.utf8.withContiguousStorageIfAvailable({ slotOf(bytes: UnsafeRawBufferPointer($0)) }) { return found }
        var copy = path
        return copy.withUTF8 { slotOf(bytes: UnsafeRawBufferPointer($0)) }
    }

    @inline(__always) func slotOf(bytes path: UnsafeRawBufferPointer, tag: UInt64? = nil) -> Int32? {
        index.find(tag: tag ?? PathIndex.tag(bytes: path)) { matches($0, path: path) }
    }

    /// True when `slot`'s path is exactly `path` (UTF-8): its name chain, read upwards, matches the path's
    /// components from the end.
    func matches(_ slot: Int32, path: UnsafeRawBufferPointer) -> Bool {
        if slot == DataTree.rootSlot { return path.count == 1 && path[0] == UInt8(ascii: "/") }
        var end = path.count
        var s = slot
        while s != DataTree.rootSlot {
            let node = slots[Int(s)]
            let ok = arena.withBlob(node.blob) { p -> Bool in
                let b = NodeBlob(at: p, timeBase: arena.timeBase)
                let start = end - b.nameLength
                guard start >= 1, path[start - 1] == UInt8(ascii: "/") else { return false }
                for i in 0..<b.nameLength where p.load(fromByteOffset: b.nameOffset + i, as: UInt8.self) != path[start + i] {
                    return false
                }
                end = start - 1
                return true
            }
            if !ok { return false }
            s = node.parent
        }
        return end == 0
    }

    // MARK: - Reading a node

    @inline(__always) func blobHeader(_ slot: Int32) -> NodeBlob { arena.withBlob(slots[Int(slot)].blob) { NodeBlob(at: $0, timeBase: arena.timeBase) } }

    func stat(_ slot: Int32) -> PersistedStat {
        let b = blobHeader(slot)
        var stat = PersistedStat()
        stat.czxid = b.czxid
        stat.mzxid = b.mzxid
        stat.ctime = b.ctime
        stat.mtime = b.mtime
        stat.version = b.version
        stat.aversion = b.aversion
        stat.ephemeralOwner = b.ephemeralOwner
        let ext = slots[Int(slot)].ext
        if ext >= 0 {
            stat.cversion = exts[Int(ext)].cversion
            stat.pzxid = exts[Int(ext)].pzxid
        } else {
            stat.pzxid = b.czxid
        }
        return stat
    }

    /// A copy of the node's data; nil for null data.
    func data(_ slot: Int32) -> [UInt8]? {
        arena.withBlob(slots[Int(slot)].blob) { p in
            let b = NodeBlob(at: p, timeBase: arena.timeBase)
            if b.isDataNull { return nil }
            return [UInt8](UnsafeRawBufferPointer(start: p + b.dataOffset, count: b.dataLength))
        }
    }

    /// Bytes of data; 0 for null data, as ZooKeeper reports it in `dataLength`.
    func dataLength(_ slot: Int32) -> Int { blobHeader(slot).dataLength }

    func children(_ slot: Int32) -> SlotSet {
        let ext = slots[Int(slot)].ext
        return ext >= 0 ? exts[Int(ext)].children : SlotSet()
    }

    func childCount(_ slot: Int32) -> Int {
        let ext = slots[Int(slot)].ext
        return ext >= 0 ? exts[Int(ext)].children.count : 0
    }

    /// The node's name (last path component) as UTF-8; empty for the root.
    func nameBytes(_ slot: Int32) -> [UInt8] {
        arena.withBlob(slots[Int(slot)].blob) { p in
            let b = NodeBlob(at: p, timeBase: arena.timeBase)
            return [UInt8](UnsafeRawBufferPointer(start: p + b.nameOffset, count: b.nameLength))
        }
    }

    func name(_ slot: Int32) -> String { String(decoding: nameBytes(slot), as: UTF8.self) }

    /// The node's full path as UTF-8, rebuilt from the names up to the root.
    func pathBytes(_ slot: Int32) -> [UInt8] {
        if slot == DataTree.rootSlot { return [UInt8(ascii: "/")] }
        var length = 0
        var s = slot
        while s != DataTree.rootSlot {
            length += 1 + blobHeader(s).nameLength
            s = slots[Int(s)].parent
        }
        return [UInt8](unsafeUninitializedCapacity: length) { buffer, initialized in
            var end = length
            var s = slot
            while s != DataTree.rootSlot {
                arena.withBlob(slots[Int(s)].blob) { p in
                    let b = NodeBlob(at: p, timeBase: arena.timeBase)
                    end -= b.nameLength
                    UnsafeMutableRawBufferPointer(buffer).baseAddress!.advanced(by: end)
                        .copyMemory(from: p + b.nameOffset, byteCount: b.nameLength)
                    end -= 1
                    buffer[end] = UInt8(ascii: "/")
                }
                s = slots[Int(s)].parent
            }
            initialized = length
        }
    }

    func path(_ slot: Int32) -> String { String(decoding: pathBytes(slot), as: UTF8.self) }

    /// Everything about a node, materialized (copies path and data).
    func node(_ slot: Int32) -> NodeView {
        let s = slots[Int(slot)]
        precondition(!s.isFree, "node(\(slot)) of a free slot")
        return NodeView(path: path(slot), data: data(slot), stat: stat(slot), aclRef: s.aclRef, parent: s.parent,
                        children: Set(children(slot)))
    }

    // MARK: - Upkeep

    /// Gives the node an ext (children set, cversion, pzxid) if it has none.
    func ensureExt(_ slot: Int32) {
        guard slots[Int(slot)].ext < 0 else { return }
        let ext = NodeExt(children: SlotSet(), cversion: 0, pzxid: blobHeader(slot).czxid)
        if let free = freeExts.popLast() {
            exts[Int(free)] = ext
            slots[Int(slot)].ext = free
        } else {
            exts.append(ext)
            slots[Int(slot)].ext = Int32(exts.count - 1)
        }
    }

    /// Makes room in the node's children set for `count` children (restore knows how many are coming).
    func reserveChildren(_ slot: Int32, _ count: Int) {
        ensureExt(slot)
        exts[Int(slots[Int(slot)].ext)].children.reserveCapacity(count)
    }

    /// Sets cversion and pzxid without touching the digest (callers account for it).
    func setChildStat(_ slot: Int32, cversion: Int32, pzxid: Int64) {
        ensureExt(slot)
        let ext = Int(slots[Int(slot)].ext)
        exts[ext].cversion = cversion
        exts[ext].pzxid = pzxid
    }

    /// Writes a new blob for the slot (name, data, stat minus cversion/pzxid) and frees the old one, if any.
    /// `name` must not point into the arena.
    func rewriteBlob(_ slot: Int32, name: UnsafeRawBufferPointer, data: [UInt8]?, stat: PersistedStat) {
        if let data {
            data.withUnsafeBytes { rewriteBlob(slot, name: name, rawData: $0, stat: stat) }
        } else {
            rewriteBlob(slot, name: name, rawData: nil, stat: stat)
        }
    }

    /// `rewriteBlob` with the data as raw bytes (nil for null data).
    func rewriteBlob(_ slot: Int32, name: UnsafeRawBufferPointer, rawData data: UnsafeRawBufferPointer?, stat: PersistedStat) {
        if arena.timeBase == 0 { arena.timeBase = stat.ctime }
        let header = NodeBlob(nameLength: name.count, dataLength: data?.count, stat: stat, timeBase: arena.timeBase)
        let old = slots[Int(slot)]
        let oldCount = old.isFree ? 0 : blobHeader(slot).byteCount
        // The writer closures are literals passed straight to non-escaping parameters: stored in a local first,
        // the closure's context was a heap object allocated and freed for every node (5 % of a snapshot restore).
        if !old.isFree && header.byteCount == oldCount {
            // Same size: no new blob, no garbage, nothing to compact later.
            arena.overwrite(old.blob, count: oldCount) { header.write(to: $0, slot: slot, name: name, data: data) }
            return
        }
        let ref = arena.append(count: header.byteCount) { header.write(to: $0, slot: slot, name: name, data: data) }
        slots[Int(slot)].chunk = ref.chunk
        slots[Int(slot)].offset = ref.offset
        if !old.isFree { freeBlob(old.blob, count: oldCount) }
        while let sparse = arena.nextSparseRetired() { compact(sparse) }
    }

    /// Marks a blob dead; compacts its chunk when it became mostly garbage.
    func freeBlob(_ ref: BlobRef, count: Int) {
        if arena.free(ref, count: count) { compact(ref.chunk) }
    }

    /// Moves every live blob of `chunk` to the arena's tail and releases the chunk. A blob is live when its
    /// slot still points at it.
    func compact(_ chunk: Int32) {
        let used = arena.used[Int(chunk)]
        var offset = 0
        while offset < used {
            let here = BlobRef(chunk: chunk, offset: UInt32(offset))
            let (slot, count) = arena.withBlob(here) { p in (NodeBlob.slot(at: p), NodeBlob(at: p, timeBase: arena.timeBase).byteCount) }
            if slot >= 0 && Int(slot) < slots.count && slots[Int(slot)].blob == here {
                let bytes = arena.withBlob(here) { [UInt8](UnsafeRawBufferPointer(start: $0, count: count)) }
                let moved = arena.append(count: count) { p in bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: count) } }
                slots[Int(slot)].chunk = moved.chunk
                slots[Int(slot)].offset = moved.offset
            }
            offset += count
        }
        arena.release(chunk)
    }

    /// Java's `String.length` of UTF-8 bytes: one unit per scalar, two for scalars above U+FFFF.
    static func utf16Count(_ bytes: UnsafeRawBufferPointer) -> Int {
        var n = 0
        for b in bytes {
            if b & 0xC0 != 0x80 { n += 1 }
            if b >= 0xF0 { n += 1 }
        }
        return n
    }
}
