import Foundation
import Logging
import WarrenStorage
import WarrenZab

/// The ensemble's extra disk state: ZooKeeper's `acceptedEpoch` and `currentEpoch` files in dataDir (plus Warren's
/// `acceptedLeader`, which Zab needs to promise an epoch to one leader only), log truncation and installing a
/// leader's snapshot. Every method here is synchronous and durable when it returns.
extension ServerStorage {
    private func epochPath(_ name: String) -> String { (config.dataDir as NSString).appendingPathComponent(name) }

    /// The epochs last written by `writeEpochs`; zeros on a fresh server.
    func readEpochs() throws -> EpochState {
        func value(_ name: String, default d: Int64) throws -> Int64 {
            guard let data = FileManager.default.contents(atPath: epochPath(name)) else { return d }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard let v = Int64(text) else { throw StartupError("\(epochPath(name)): expected a number, got '\(text)'") }
            return v
        }
        return EpochState(acceptedEpoch: try value("acceptedEpoch", default: 0),
                          acceptedLeader: try value("acceptedLeader", default: -1),
                          currentEpoch: try value("currentEpoch", default: 0))
    }

    /// Writes the epoch files durably: accepted first, so a crash in between never leaves current above accepted.
    func writeEpochs(_ e: EpochState) throws {
        try Self.writeDurably(epochPath("acceptedLeader"), "\(e.acceptedLeader)\n")
        try Self.writeDurably(epochPath("acceptedEpoch"), "\(e.acceptedEpoch)\n")
        try Self.writeDurably(epochPath("currentEpoch"), "\(e.currentEpoch)\n")
    }

    /// Zab's TRUNC: waits for queued appends, then removes every record after `zxid`.
    func truncateLog(after zxid: Int64) throws {
        flush()
        for line in try log.truncate(after: zxid) { logger.info("log truncated: \(line)") }
    }

    /// Zab's SNAP: waits for queued appends, writes the leader's state as the snapshot at `zxid`, and drops log
    /// records after it (records at or below it are older than the snapshot and never replayed).
    /// `staged`: the same snapshot, already written and synced while it arrived (`SnapshotIntake`); it is renamed
    /// into place instead of writing `payload` again.
    func installSnapshot(zxid: Int64, payload: [UInt8], staged: StagedSnapshot? = nil) throws {
        precondition(staged.map { $0.zxid == zxid && (payload.isEmpty || $0.payloadBytes == Int64(payload.count)) } ?? !payload.isEmpty,
                     "staged snapshot \(staged.map { "at \($0.zxid) of \($0.payloadBytes) bytes" } ?? "") installed as \(zxid) of \(payload.count) bytes")
        let started = ContinuousClock.now
        flush()
        if let staged {
            try staged.commit()
        } else {
            try snapshots.writeSnapshot(zxid: zxid, payload: payload)
        }
        logger.info("leader's snapshot written", metadata: [
            "zxid": "0x\(String(zxid, radix: 16))", "ms": "\(Self.ms(ContinuousClock.now - started))",
            "staged": "\(staged != nil)"])
        for line in try log.truncate(after: zxid) { logger.info("log truncated for snapshot: \(line)") }
    }

    /// Session passwords must verify on every member, including members added later by a reconfig, so an
    /// ensemble uses one fixed secret instead of a per-server random file (an earlier one derived from the server
    /// list stopped verifying once a reconfig changed the list). Like ZooKeeper's fixed secret, the password
    /// protects a session against clients that do not know its id, not against readers of this source.
    static let ensembleSecret: UInt64 = 0x5741_5252_454E_5A4B

    /// Write to a temporary file, fsync, rename over `path`, fsync the directory.
    static func writeDurably(_ path: String, _ text: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw StartupError("cannot write \(tmp): errno \(errno)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else { throw StartupError("cannot write \(tmp): errno \(errno)") }
        guard rename(tmp, path) == 0 else { throw StartupError("cannot rename \(tmp): errno \(errno)") }
        let dir = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }
}
