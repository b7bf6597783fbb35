extension TxnLog {
    /// Removes every record with a zxid above `zxid` (Zab's TRUNC) and makes the removal durable: newer files are
    /// deleted, the file holding `zxid` is cut after it and fsynced, then the directory is fsynced. Pending appends
    /// are written first (they may be among what is removed). Afterwards `lastZxid` is the last record kept, or
    /// `zxid` if none is; the next append starts a new file. Returns one report line per change. A failure marks
    /// the log failed, like a failed write.
    @discardableResult
    public func truncate(after zxid: Int64) throws -> [String] {
        try lock.locked {
            try checkUsable()
            var report: [String] = []
            try failing {
                try flushBuffer()
                try trimRunway()
                // The file is closed for good here (the next append starts a new one), so it must end at its data
                // on disk too: left to a later sync that never comes, a crash after the next file exists kept its
                // zero fill, which an older file may not have — the log then refused to start (found by
                // EnsembleSim over SimulatedDisk, seed 3164).
                try current?.file.dataSync()
                current?.file.close()
                current = nil
                unsynced = false
                var removedFile = false
                while let newest = files.last, newest.zxid > zxid {
                    let path = Directory.join(directory, newest.name)
                    try Directory.remove(path, faults: options.faults)
                    files.removeLast()
                    removedFile = true
                    report.append("removed log file \(path): all its records are after 0x\(String(zxid, radix: 16))")
                }
                var kept = zxid
                if let newest = files.last {
                    let path = Directory.join(directory, newest.name)
                    let file = try PosixFile.open(path, writable: true, faults: options.faults)
                    defer { file.close() }
                    let scan = try LogFormat.scan(try file.readAll(), file: path, nameZxid: newest.zxid, tornTailAllowed: false)
                    if let cut = scan.records.first(where: { $0.zxid > zxid }) {
                        try file.truncate(to: Int64(cut.offset))
                        try file.dataSync()
                        report.append("truncated \(path) at offset \(cut.offset): records after 0x\(String(zxid, radix: 16))")
                    }
                    kept = scan.records.last(where: { $0.zxid <= zxid })?.zxid ?? zxid
                }
                if removedFile || directoryDirty { try Directory.sync(directory, faults: options.faults) }
                directoryDirty = false
                last = kept
            }
            let lastZxid = last
            let count = files.count
            updateStats {
                $0.lastZxid = lastZxid
                $0.logFileCount = count
            }
            return report
        }
    }

    /// Deletes the log files that hold no record above `zxid` — those followed by a file starting at or before
    /// `zxid + 1` — and fsyncs the directory. The newest file is never deleted, so the file spanning `zxid` stays.
    /// Used by purge with the oldest retained snapshot's zxid. Returns the deleted paths. Safe while appending; a
    /// failure here does not mark the log failed (no appended data is at stake).
    public func removeFiles(notNeededAfter zxid: Int64) throws -> [String] {
        try lock.locked {
            if isClosed { throw StorageError.closed }
            var removed: [String] = []
            defer {
                let count = files.count
                updateStats { $0.logFileCount = count }
            }
            while files.count >= 2, files[1].zxid - 1 <= zxid {
                let path = Directory.join(directory, files[0].name)
                try Directory.remove(path, faults: options.faults)
                files.removeFirst()
                removed.append(path)
            }
            if !removed.isEmpty { try Directory.sync(directory, faults: options.faults) }
            return removed
        }
    }
}
