import WarrenJute
import WarrenTree

/// A ZooKeeper transaction log file (`FileTxnLog`). Layout, in Jute: `FileHeader{int magic "ZKLG", int version 2,
/// long dbid}`, then records `{long adler32, buffer txnEntry, byte 'B'}` where the checksum covers the entry's bytes
/// and the entry is `TxnHeader{long clientId, int cxid, long zxid, long time, int type}`, the txn record of that
/// type, and since 3.6 optionally `TxnDigest{int version, long treeDigest}`. The file is preallocated with zeros:
/// a record whose checksum and length are both 0 is the end of the data.
public enum ZooKeeperLog {
    public static let magic: Int32 = 0x5A4B_4C47  // "ZKLG"
    static let endOfRecord = UInt8(ascii: "B")
    /// `TxnDigest{int version, long treeDigest}`.
    static let txnDigestBytes = 12

    /// The readable txns of one file, in file order, and why reading stopped early (nil: clean end).
    public struct Contents {
        public var txns: [Txn] = []
        public var stoppedBecause: String?
    }

    /// Reads every record up to the end of the data, or up to the first record that is cut off, fails its checksum,
    /// lacks its end marker or does not decode: ZooKeeper too stops there. A bad file header is an error.
    public static func read(_ bytes: [UInt8], what: String) throws -> Contents {
        var r = JuteReader(bytes)
        guard bytes.count >= 16, (try? r.readInt()) == magic else { throw MigrationError("\(what) is not a ZooKeeper transaction log") }
        let version = try r.readInt()
        guard version == 2 else { throw MigrationError("\(what) has log format version \(version), expected 2") }
        _ = try r.readLong()  // dbid
        var contents = Contents()
        while r.remaining > 0 {
            let start = r.offset
            func stop(_ why: String) -> Contents {
                contents.stoppedBecause = "\(what) at byte \(start): \(why)"
                return contents
            }
            guard r.remaining >= 12 else {
                if bytes[start...].allSatisfy({ $0 == 0 }) { break }
                return stop("record header cut off")
            }
            let crc = try r.readLong()
            let length = try r.readInt()
            if length == 0 && crc == 0 { break }  // the preallocated zeros
            guard length > 0 && Int(length) + 1 <= r.remaining else { return stop("record of \(length) bytes cut off") }
            let entry = r.offset..<(r.offset + Int(length))
            let sum = bytes.withUnsafeBytes { ZooKeeperFiles.adler32(UnsafeRawBufferPointer(rebasing: $0[entry])) }
            guard Int64(sum) == crc else { return stop("checksum mismatch") }
            guard bytes[entry.upperBound] == endOfRecord else { return stop("record without its end marker") }
            var entryReader = JuteReader(bytes, offset: entry.lowerBound, end: entry.upperBound)
            do {
                contents.txns.append(try decodeEntry(&entryReader))
            } catch {
                return stop("undecodable txn (\(error))")
            }
            r = JuteReader(bytes, offset: entry.upperBound + 1)
        }
        return contents
    }

    /// A log entry as Warren's `Txn`. Warren's txn bodies are ZooKeeper's records, with three exceptions handled
    /// here: a reconfig is a `SetDataTxn` of `/zookeeper/config`; a close-session body is empty when ZooKeeper ran
    /// with `zookeeper.closeSessionTxn.enabled=false` (applying it removes all the session's ephemerals anyway); and
    /// the trailing digest, which Warren does not check, is skipped.
    static func decodeEntry(_ r: inout JuteReader) throws -> Txn {
        let header = TxnHeader(sessionId: try r.readLong(), cxid: try r.readInt(), zxid: try r.readLong(), timeMs: try r.readLong())
        let rawType = try r.readInt()
        guard let type = OpCode(rawValue: rawType) else { throw JuteError.badValue("txn type \(rawType)") }
        switch type {
        case .reconfig:
            return Txn(header: header, body: try TxnBody.decode(type: .setData, from: &r))
        case .closeSession:
            // Listed paths are deleted unconditionally, so a list is believed only when it ends where the entry
            // does or where a 12-byte digest starts.
            var probe = r
            let body = try? TxnBody.decode(type: .closeSession, from: &probe)
            let fits = probe.remaining == 0 || probe.remaining == txnDigestBytes
            return Txn(header: header, body: fits ? body ?? .closeSession(paths: []) : .closeSession(paths: []))
        default:
            return Txn(header: header, body: try TxnBody.decode(type: type, from: &r))
        }
    }

    /// A log file with the given txns, as ZooKeeper writes one (without digests or preallocation); for tests.
    public static func encode(_ txns: [Txn]) -> [UInt8] {
        var w = JuteWriter()
        w.writeInt(magic)
        w.writeInt(2)
        w.writeLong(0)
        for txn in txns {
            let entry = txn.juteBytes()
            w.writeLong(Int64(entry.withUnsafeBytes { ZooKeeperFiles.adler32($0) }))
            w.writeBuffer(entry)
            w.writeByte(endOfRecord)
        }
        return w.bytes
    }
}
