extension TxnLog {
    /// The records with zxids above `zxid`, oldest first, read lazily file by file (see `LogRecordIterator`).
    /// Covers what was appended before this call (flushed, though perhaps not yet synced), nothing later.
    public func records(after zxid: Int64) throws -> LogRecordIterator {
        try lock.locked {
            try checkUsable()
            try failing { try flushBuffer() }
            let currentBytes = current?.bytes
            var sources = files.enumerated().map { index, entry in
                LogRecordIterator.Source(path: Directory.join(directory, entry.name), nameZxid: entry.zxid,
                                         bytesMax: index == files.count - 1 ? currentBytes : nil)
            }
            // A file holds nothing above `zxid` when its successor starts at or before `zxid + 1`.
            while sources.count >= 2, sources[1].nameZxid - 1 <= zxid { sources.removeFirst() }
            return LogRecordIterator(sources: sources, after: zxid, faults: options.faults)
        }
    }

    /// All records above `zxid`, verified; see `LogRecordIterator.next()` for what is checked.
    public func readRecords(after zxid: Int64) throws -> [LogRecord] {
        var iterator = try records(after: zxid)
        var result: [LogRecord] = []
        while let record = try iterator.next() { result.append(record) }
        return result
    }
}

/// Reads log records in zxid order across files, verifying as it goes.
///
/// Each file is read whole and verified before any of its records is returned: a checksum failure anywhere in it,
/// or an incomplete record (the log repaired torn tails on open, so none may remain), throws `corruptRecord`.
/// Records must be strictly increasing across files, and the returned ones must form a gap-free history starting
/// right after the requested zxid (see `ZxidOrder.follows`); otherwise `zxidOrder` is thrown. The files must stay
/// in place while iterating: a purge that deletes one underneath gives `StorageError.io`.
public struct LogRecordIterator {
    struct Source {
        var path: String
        var nameZxid: Int64
        /// Read only this many bytes (the flushed part of the file being appended to); nil for the whole file.
        var bytesMax: Int64?
    }

    private var sources: [Source]
    private let after: Int64
    private let faults: FaultInjector?
    private var bytes: [UInt8] = []
    private var located: [LogFormat.Located] = []
    private var position = 0
    private var path = ""
    private var fileVersion = LogFormat.version
    private var lastSeen: Int64?
    private var lastReturned: Int64

    init(sources: [Source], after: Int64, faults: FaultInjector?) {
        self.sources = sources
        self.after = after
        self.faults = faults
        self.lastReturned = after
    }

    /// The next record, nil at the end, or a thrown `StorageError`. After a throw the iterator is unusable.
    public mutating func next() throws -> LogRecord? {
        while true {
            while position < located.count {
                let record = located[position]
                position += 1
                guard record.zxid > after else { continue }
                guard ZxidOrder.follows(lastReturned, record.zxid) else {
                    throw StorageError.zxidOrder(file: path, offset: Int64(record.offset), previous: lastReturned, zxid: record.zxid)
                }
                lastReturned = record.zxid
                return LogRecord(zxid: record.zxid, payload: Array(bytes[record.payload]), fileVersion: fileVersion)
            }
            guard !sources.isEmpty else { return nil }
            try load(sources.removeFirst())
        }
    }

    private mutating func load(_ source: Source) throws {
        let file = try PosixFile.open(source.path, writable: false, faults: faults)
        defer { file.close() }
        bytes = try file.readAll(limit: source.bytesMax)
        let scan = try LogFormat.scan(bytes, file: source.path, nameZxid: source.nameZxid, tornTailAllowed: false)
        if let first = scan.records.first, let lastSeen, first.zxid <= lastSeen {
            throw StorageError.zxidOrder(file: source.path, offset: Int64(first.offset), previous: lastSeen, zxid: first.zxid)
        }
        lastSeen = scan.records.last?.zxid ?? lastSeen
        located = scan.records
        fileVersion = scan.fileVersion
        position = 0
        path = source.path
    }
}
