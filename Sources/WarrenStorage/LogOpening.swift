/// Finding the log files on open and repairing a torn tail. Runs before the `TxnLog` exists, single-threaded.
enum LogOpening {
    struct Result {
        var files: [TxnLog.FileEntry]
        var lastZxid: Int64
        var report: [String]
    }

    /// The log files in `directory` (other names are ignored), oldest first. Creates the directory if missing.
    static func listFiles(_ directory: String, faults: FaultInjector? = nil) throws -> [TxnLog.FileEntry] {
        try Directory.ensure(directory, faults: faults)
        return try Directory.list(directory, faults: faults)
            .compactMap { name in ZxidFileName.parse(prefix: LogFormat.filePrefix, name: name).map { TxnLog.FileEntry(name: name, zxid: $0) } }
            .sorted { $0.zxid < $1.zxid }
    }

    /// Verifies the newest file and cuts off its torn tail; a newest file left without records is deleted and the
    /// one before it becomes the newest and is checked the same way. Older files were synced before their
    /// successor was created, so they are verified only when read.
    static func recover(directory: String, faults: FaultInjector?) throws -> Result {
        var files = try listFiles(directory, faults: faults)
        var report: [String] = []
        var removedFile = false
        var lastZxid: Int64 = 0
        while let newest = files.last {
            let path = Directory.join(directory, newest.name)
            let file = try PosixFile.open(path, writable: true, faults: faults)
            defer { file.close() }
            let scan = try LogFormat.scan(try file.readAll(), file: path, nameZxid: newest.zxid, tornTailAllowed: true)
            guard let lastRecord = scan.records.last else {
                let why: String
                if case let .torn(_, reason) = scan.tail { why = reason } else { why = "no records" }
                try Directory.remove(path, faults: faults)
                report.append("removed log file \(path) holding no complete record (\(why))")
                removedFile = true
                files.removeLast()
                continue
            }
            if case let .torn(offset, reason) = scan.tail {
                let size = try file.size()
                try file.truncate(to: Int64(offset))
                try file.dataSync()
                report.append("truncated torn tail of \(path) at offset \(offset), \(Int64(offset) < size ? size - Int64(offset) : 0) "
                    + "bytes dropped: \(reason)")
            }
            lastZxid = lastRecord.zxid
            break
        }
        if removedFile { try Directory.sync(directory, faults: faults) }
        return Result(files: files, lastZxid: lastZxid, report: report)
    }
}
