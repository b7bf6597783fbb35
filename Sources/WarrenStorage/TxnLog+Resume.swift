#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TxnLog {
    /// Whether the log failed because its file system was full (ENOSPC) or over quota (EDQUOT): the one failure
    /// `resumeAfterFullDisk` can undo.
    public var failedForSpace: Bool {
        lock.locked {
            guard let failure else { return false }
            return Self.isOutOfSpace(failure)
        }
    }

    public static func isOutOfSpace(_ error: StorageError) -> Bool {
        switch error {
        case let .io(_, _, code): return code == ENOSPC || code == EDQUOT
        case let .logFailed(cause): return isOutOfSpace(cause)
        default: return false
        }
    }

    /// Makes a log that failed for want of space usable again, without reopening it: everything appended after
    /// the last successful sync (never acknowledged) is cut off — the current file is truncated back to what was
    /// synced and fsynced, or removed if nothing in it was — and the next append starts a new file after the last
    /// durable zxid. Records that were synced are not touched, so nothing acknowledged is lost and no torn or
    /// unacknowledged record stays behind for a later start to replay.
    ///
    /// Throws the original failure if it was not a full disk (after a failed write or fsync for any other reason
    /// the state of the disk is unknown), or the error of a step that fails now (the log stays failed).
    public func resumeAfterFullDisk() throws {
        try lock.locked {
            guard let failed = failure else { return }
            guard !isClosed, Self.isOutOfSpace(failed) else { throw StorageError.logFailed(cause: failed) }
            buffer.removeAll(keepingCapacity: true)
            if let c = current {
                if c.syncedRecords == 0 {
                    c.file.close()
                    current = nil
                    try Directory.remove(Directory.join(directory, files[files.count - 1].name), faults: options.faults)
                    files.removeLast()
                    try Directory.sync(directory, faults: options.faults)
                    let count = files.count
                    updateStats { $0.logFileCount = count }
                } else {
                    try c.file.truncate(to: c.syncedBytes)
                    try c.file.dataSync()
                    c.file.close()
                    current = nil
                    if directoryDirty { try Directory.sync(directory, faults: options.faults) }
                }
            } else if directoryDirty {
                try Directory.sync(directory, faults: options.faults)
            }
            last = syncedLast
            unsynced = false
            directoryDirty = false
            failure = nil
            let lastZxid = last
            updateStats { $0.lastZxid = lastZxid }
        }
    }
}
