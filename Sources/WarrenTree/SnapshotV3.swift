import WarrenJute

/// Version 3 node records: after the node count, `long structureBytes`, then every node's version 2 record without
/// its data bytes (the data length stays in the record), `structureBytes` in all, then the data of every node with
/// data, concatenated in the same pre-order:
///
///     int nodeCount, long structureBytes, record × nodeCount, data × nodeCount
///
/// Why: node values are often incompressible (random or already compressed), and interleaved with the small,
/// very compressible records they make the whole payload cost a compressor's full effort for about 12%. Kept
/// apart, the snapshot file can deflate the records and store the values as they are, per block
/// (`WarrenStorage.SnapshotFormat`), and restore walks two regions with two cursors, no more work than version 2.
/// The bytes still depend only on the tree's content.
enum SnapshotV3 {
    /// The least a version 3 record takes: child count, name length, name byte, data length, ACL index, flags,
    /// czxid, ctime (one byte each; only the root's name is empty).
    static let recordBytesMin = 7
}

extension DataTree {
    func writeNodesV3(_ order: [Int32], aclIndex: [Int32], to w: inout JuteWriter) {
        let lengthOffset = w.bytes.count
        w.writeLong(0)  // structureBytes, back-filled below
        let structureStart = w.bytes.count
        for slot in order { writeNodeRecord(slot, aclIndex: aclIndex, inlineData: false, to: &w) }
        let structureBytes = Int64(w.bytes.count - structureStart)
        w.patchInt(Int32(truncatingIfNeeded: structureBytes >> 32), at: lengthOffset)
        w.patchInt(Int32(truncatingIfNeeded: structureBytes), at: lengthOffset + 4)
        for slot in order {
            arena.withBlob(slots[Int(slot)].blob) { p in
                let b = NodeBlob(at: p, timeBase: arena.timeBase)
                w.writeRaw(UnsafeRawBufferPointer(start: p + b.dataOffset, count: b.dataLength))
            }
        }
    }
}

extension SnapshotV2Loader {
    /// Loads `nodeCount` version 3 records from `c`, which starts at `structureBytes`; returns where the data region
    /// ended (the caller checks it is the end of the snapshot). Throws if the records do not fill exactly their
    /// region or a data length runs past the end.
    mutating func loadNodesV3(_ c: inout SnapshotCursor, nodeCount: Int) throws -> Int {
        let structureBytes = try c.readLong()
        guard structureBytes >= 0, structureBytes <= Int64(c.end - c.offset),
              Int64(nodeCount) * Int64(SnapshotV3.recordBytesMin) <= structureBytes + 1 else {
            throw SnapshotError.inconsistent("\(nodeCount) node records cannot take \(structureBytes) of \(c.end - c.offset) bytes")
        }
        let valuesStart = c.offset + Int(structureBytes)
        var records = SnapshotCursor(c.raw, offset: c.offset, end: valuesStart)
        var values = SnapshotCursor(c.raw, offset: valuesStart, end: c.end)
        for _ in 0..<nodeCount {
            let childCount = try records.readCount(limit: Int(Int32.max))
            let name = try records.readRaw(try records.readCount(limit: records.end - records.offset))
            let dataTag = try records.readCount(limit: values.end - values.offset + 1)
            let data = dataTag == 0 ? nil : try values.readRaw(dataTag - 1)
            try add(childCount: childCount, name: name, data: data, &records)
        }
        guard records.offset == records.end else {
            throw SnapshotError.inconsistent("\(records.end - records.offset) bytes after the last node record")
        }
        try finish()
        return values.offset
    }
}
