/// Targets for the on-disk formats (Docs/storage-format.md): snapshot files, log files, the tree snapshot inside a
/// snapshot file, and the txns inside log records. The inputs are file contents; the readers take them from
/// memory, as the store does after reading a file whole, so no file system is involved.

#if DEBUG || WARREN_FUZZING
import WarrenJute
@testable import WarrenServer
@testable import WarrenStorage
import WarrenTree

extension Fuzz {
    static let storageTargets = [
        FuzzTarget(name: "snapfile", summary: "a snapshot file (SnapshotFormat.decode)", run: fuzzSnapshotFile),
        FuzzTarget(name: "logfile", summary: "a log file (LogFormat.scan), its records decoded as txns", run: fuzzLogFile),
        FuzzTarget(name: "restore", summary: "a tree snapshot payload (DataTree.restore)", run: fuzzRestore),
        FuzzTarget(name: "txn", summary: "byte 0 even: a Jute txn (log version 1), odd: a compact txn (version 2)", run: fuzzTxn),
    ]
}

/// The zxid a file's header claims (bytes 8..<16 in both formats), used as the zxid its name would carry, so that
/// the name check does not stop every input.
private func headerZxid(_ input: [UInt8]) -> Int64 {
    guard input.count >= 16 else { return 0 }
    return input[8..<16].reduce(Int64(0)) { $0 << 8 | Int64($1) }
}

/// A file that decodes has a payload that, written again as version 2 blocks, decodes to the same snapshot.
func fuzzSnapshotFile(_ input: [UInt8]) {
    guard case let .success(snapshot) = SnapshotFormat.decode(input, nameZxid: headerZxid(input)) else { return }
    expectRoundTrip(snapshot, "snapshot file", encode: snapshotFile) { try SnapshotFormat.decode($0, nameZxid: snapshot.zxid).get() }
}

/// `snapshot` as a version 2 file with level-1 blocks of 1 KB (small, so that short payloads span several).
private func snapshotFile(_ snapshot: Snapshot) -> [UInt8] {
    var body: [UInt8] = []
    let (bytes, crc) = try! snapshot.payload.withUnsafeBytes { payload in
        try SnapshotBlocks.write(payload, level: 1, blockBytes: 1024) { body += $0 }
    }
    let header = SnapshotFormat.Header(zxid: snapshot.zxid, payloadBytes: Int64(snapshot.payload.count),
                                       compressedBytes: bytes, payloadCrc: crc)
    return SnapshotFormat.encode(header) + body
}

/// Scans the file as the newest one (torn tail allowed) and decodes each record as the server does. The records
/// found, written again, scan clean to the same records.
func fuzzLogFile(_ input: [UInt8]) {
    let scan: LogFormat.Scan
    do {
        scan = try LogFormat.scan(input, file: "log.fuzz", nameZxid: headerZxid(input), tornTailAllowed: true)
    } catch {
        expect(error is StorageError, "scan threw \(error), not a StorageError")
        return
    }
    expect(scan.validEnd <= input.count, "validEnd \(scan.validEnd) past the \(input.count)-byte file")
    let records = scan.records.map {
        LogRecord(zxid: $0.zxid, payload: Array(input[$0.payload]), fileVersion: scan.fileVersion)
    }
    for record in records {
        expect(scan.records.last!.end <= scan.validEnd, "a record ends past validEnd")
        _ = try? ServerStorage.txn(in: record, logDir: "fuzz")
    }
    guard let first = records.first else { return }
    let rewritten = records.reduce(LogFormat.fileHeader(firstZxid: first.zxid, version: scan.fileVersion)) { bytes, record in
        var bytes = bytes
        LogFormat.append(record, to: &bytes)
        return bytes
    }
    expectRoundTrip(records, "log records", encode: { _ in rewritten }) { bytes in
        let again = try LogFormat.scan(bytes, file: "log.fuzz", nameZxid: first.zxid, tornTailAllowed: false)
        expect(again.tail == .clean, "rewritten log has a torn tail")
        return again.records.map { LogRecord(zxid: $0.zxid, payload: Array(bytes[$0.payload]), fileVersion: again.fileVersion) }
    }
}

/// A snapshot that restores, written again (in the current version), restores to a tree with the same snapshot.
func fuzzRestore(_ input: [UInt8]) {
    guard let tree = try? DataTree.restore(from: input) else { return }
    expectRoundTrip(tree.snapshot(), "tree snapshot", encode: { $0 }) { try DataTree.restore(from: $0).snapshot() }
}

/// Both txn encodings round-trip, and a txn read from either is the same txn in the other.
func fuzzTxn(_ input: [UInt8]) {
    guard let first = input.first else { return }
    let bytes = Array(input.dropFirst())
    let zxid: Int64 = 0x1_0000_0001
    guard let txn = try? first % 2 == 0 ? juteTxn(bytes) : Txn(compact: bytes, zxid: zxid) else { return }
    expectRoundTrip(txn, "Jute txn", encode: { $0.juteBytes() }, decode: juteTxn)
    expectRoundTrip(txn, "compact txn", encode: { $0.compactBytes() }, decode: { try Txn(compact: $0, zxid: txn.zxid) })
}

/// A Jute txn as the server reads one from a version 1 log record (trailing bytes ignored).
private func juteTxn(_ bytes: [UInt8]) throws -> Txn {
    var r = JuteReader(bytes)
    return try Txn(from: &r)
}
#endif
