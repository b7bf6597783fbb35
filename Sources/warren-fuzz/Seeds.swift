/// `warren-fuzz seed REPO OUTDIR`: the seed corpora, from the captured wire fixtures and from the project's own
/// encoders and writers, so every seed is an input the real code produces or accepts.

#if DEBUG || WARREN_FUZZING
import Foundation
import WarrenJute
@testable import WarrenCore
@testable import WarrenServer
@testable import WarrenStorage
@testable import WarrenTree
import WarrenZab

enum Seeds {
    static func write(repo: String, to out: String) throws {
        var corpus = Corpus(root: out)
        try wireSeeds(fixtures: repo + "/Tests/WarrenJuteTests/Fixtures", into: &corpus)
        quorumSeeds(into: &corpus)
        try textSeeds(zooCfgExample: repo + "/Docs/zoo.cfg.example", into: &corpus)
        try storageSeeds(into: &corpus)
        try corpus.flush()
    }

    /// Client frames split out of the captured streams. Replies get the opcode of the request with their xid.
    static func wireSeeds(fixtures: String, into corpus: inout Corpus) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter { $0.hasSuffix("-c2s.bin") }
        for c2sName in files.sorted() {
            let c2s = try frames(fixtures + "/" + c2sName)
            let s2c = try frames(fixtures + "/" + c2sName.replacingOccurrences(of: "-c2s", with: "-s2c"))
            var opOfXid: [Int32: OpCode] = [:]
            for (i, frame) in c2s.enumerated() {
                corpus.add("request", frame)
                var r = JuteReader(frame)
                if i > 0, let header = try? RequestHeader(from: &r), let op = header.opCode { opOfXid[header.xid] = op }
            }
            for (i, frame) in s2c.enumerated() {
                var r = JuteReader(frame)
                let xid = i == 0 ? nil : (try? ReplyHeader(from: &r))?.xid
                let op = xid.flatMap { opOfXid[$0] } ?? .notification
                corpus.add("response", [UInt8(OpCode.allCases.firstIndex(of: op)!)] + frame)
            }
            // Whole streams for the splitter, in two chunkings.
            for name in [c2sName, c2sName.replacingOccurrences(of: "-c2s", with: "-s2c")] {
                let stream = [UInt8](FileManager.default.contents(atPath: fixtures + "/" + name)!)
                corpus.add("frame", [0] + stream)
                corpus.add("frame", [6] + stream)
            }
        }
    }

    private static func frames(_ path: String) throws -> [[UInt8]] {
        var decoder = FrameDecoder()
        decoder.feed([UInt8](FileManager.default.contents(atPath: path) ?? Data()))
        var out: [[UInt8]] = []
        while let frame = try decoder.next() { out.append(frame) }
        return out
    }

    static func quorumSeeds(into corpus: inout Corpus) {
        let z = Zxid(raw: 0x2_0000_0007)
        let txn = sampleTxns()[1].compactBytes()
        let forwarded: [ForwardedWrite] = [
            .write(sessionId: 0x1234, authIds: [Id(scheme: "digest", id: "u:x")], cxid: 5,
                   op: .create(path: "/a", data: [1, 2], acl: ACL.openUnsafe, mode: .persistentWithTTL, ttlMs: 1000)),
            .write(sessionId: 1, authIds: [], cxid: 6, op: .multi([.delete(path: "/a", version: -1), .check(path: "/b", version: 2),
                                                                   .setData(path: "/c", data: nil, version: 1)])),
            .write(sessionId: 1, authIds: [], cxid: 7, op: .setACL(path: "/d", acl: ACL.readUnsafe, version: 0)),
            .write(sessionId: 1, authIds: [], cxid: 8, op: .createSession(sessionId: 9, timeoutMs: 4000)),
            .write(sessionId: 1, authIds: [], cxid: 9, op: .closeSession(sessionId: 9)),
            .write(sessionId: 1, authIds: [], cxid: 10, op: .deleteContainer(path: "/e")),
            .write(sessionId: 1, authIds: [], cxid: 11, op: .reconfig(joining: "server.4=127.0.0.1:1:2", leaving: "2", newMembers: nil, fromConfig: -1)),
            .touch([1, 2, 3]),
        ]
        for write in forwarded { corpus.add("forward", write.encode()) }
        corpus.add("forward", SyncToken(sessionId: 0x77, cxid: 3).encode())
        let messages: [ZabMessage] = [
            .notification(Notification(vote: Vote(leader: 2, zxid: z, peerEpoch: 2), electionEpoch: 3, state: .looking)),
            .followerInfo(acceptedEpoch: 2, acceptedLeader: 3, isObserver: true),
            .leaderInfo(epoch: 3),
            .ackEpoch(epoch: 3, currentEpoch: 2, lastZxid: z),
            .diff(epoch: 3, from: z),
            .trunc(epoch: 3, to: z),
            .snapshot(epoch: 3, lastZxid: z, state: [9, 8, 7]),
            .proposal(epoch: 3, entry: LogEntry(zxid: z, payload: txn), prev: Zxid(raw: 0x2_0000_0006)),
            .newLeader(epoch: 3, lastZxid: z),
            .ackNewLeader(epoch: 3, lastZxid: z),
            .upToDate(epoch: 3, committed: z),
            .ack(epoch: 3, upTo: z),
            .commit(epoch: 3, upTo: z),
            .inform(epoch: 3, entry: LogEntry(zxid: z, payload: txn), prev: z),
            .ping(epoch: 3, committed: z),
            .pong(epoch: 3),
            .forward(payload: forwarded[0].encode()),
            .syncRequest(token: SyncToken(sessionId: 0x77, cxid: 3).encode()),
            .syncReply(epoch: 3, upTo: z, token: SyncToken(sessionId: 0x77, cxid: 3).encode()),
        ]
        for message in messages { corpus.add("zab", message.juteBytes()) }
        // A SNAP stream as the transport carries it (length-prefixed frames), between ordinary messages.
        let state = sampleTree().snapshot()
        for chunkBytes in [64, 1000] {
            var chunker = SnapshotChunker(epoch: 3, lastZxid: z, state: state, chunkBytes: chunkBytes)
            var stream = Frame.encode(ZabMessage.leaderInfo(epoch: 3).juteBytes())
            while let (frame, _) = chunker.next() { stream += Frame.encode(frame) }
            stream += Frame.encode(ZabMessage.newLeader(epoch: 3, lastZxid: z).juteBytes())
            corpus.add("snapstream", stream)
        }
    }

    static func textSeeds(zooCfgExample: String, into corpus: inout Corpus) throws {
        corpus.add("zoocfg", [UInt8](try Data(contentsOf: URL(fileURLWithPath: zooCfgExample))))
        corpus.add("zoocfg", Array("""
            tickTime=2000
            initLimit=10
            syncLimit=5
            dataDir=/var/lib/warren
            clientPort=2181
            server.1=10.0.0.1:2888:3888
            server.2=10.0.0.2:2888:3888;2181
            server.3=10.0.0.3:2888:3888:observer;10.0.1.3:2181
            autopurge.purgeInterval=1
            4lw.commands.whitelist=srvr, mntr
            jute.maxbuffer=0x100000
            warren.snapshotChunkBytes=1048576
            minSessionTimeout=4000
            maxSessionTimeout=40000\r\n
            """.utf8))
        for name in ["plain", "user@host", "job@e", "job-@s", "q@ephemeral@sequential", "c@container", "t@ttl=60",
                     "t@ttl=5@s", "file@v=3", "lock@held", "x@held@s", "@s", "@e", "a@v=-1", "a@ttl=0", "ü@e"] {
            corpus.add("names", Array(name.utf8))
        }
        for line in ["GET /commands/ruok", "GET /commands", "HEAD /metrics", "POST /commands/srvr",
                     "GET /commands/mntr?x=1#f", "GET /commands/a/b", "GET /commands/\u{1}\"\\\u{7f}é", "GET /metrics/",
                     "DELETE /metrics", "GET //commands/x", "GET /commands/"] {
            corpus.add("adminroute", Array(line.utf8))
        }
    }

    static func storageSeeds(into corpus: inout Corpus) throws {
        let tree = sampleTree()
        for version in [DataTree.snapshotVersionPaths, DataTree.snapshotVersionInline, DataTree.snapshotVersion] {
            corpus.add("restore", tree.snapshot(version: version))
        }
        let txns = sampleTxns()
        for (i, txn) in txns.enumerated() {
            corpus.add("txn", [0] + txn.juteBytes())
            corpus.add("txn", [UInt8(2 * i + 1)] + txn.compactBytes())
        }
        let dir = NSTemporaryDirectory() + "warren-fuzz-seeds-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Snapshot files as SnapshotStore writes them (stored and deflated blocks), and a version 1 stream file.
        for level: Int32 in [0, 1] {
            let store = try SnapshotStore(directory: dir + "/snap\(level)", compressionLevel: level)
            _ = try store.writeSnapshot(zxid: 0x1_0000_0005, payload: tree.snapshot())
            try addFiles(in: dir + "/snap\(level)", as: "snapfile", into: &corpus)
        }
        let payload = tree.snapshot()
        var stream: [UInt8] = []
        try Zlib.compress(payload, level: 1) { stream += $0 }
        let header = SnapshotFormat.Header(zxid: 0x1_0000_0005, payloadBytes: Int64(payload.count),
                                           compressedBytes: Int64(stream.count), payloadCrc: CRC32.checksum(payload))
        corpus.add("snapfile", SnapshotFormat.encode(header, version: SnapshotFormat.versionStream) + stream)
        // Log files as TxnLog writes them (compact txns), and a version 1 file of Jute txns.
        let log = try TxnLog.open(directory: dir + "/log")
        try log.append(txns.map { LogRecord(zxid: $0.zxid, payload: $0.compactBytes()) })
        try log.close()
        try addFiles(in: dir + "/log", as: "logfile", into: &corpus, trimZeros: true)
        var v1 = LogFormat.fileHeader(firstZxid: txns[0].zxid, version: 1)
        for txn in txns { LogFormat.append(LogRecord(zxid: txn.zxid, payload: txn.juteBytes()), to: &v1) }
        corpus.add("logfile", v1)
    }

    /// Each file in `directory`; preallocated log files lose their zero fill past the last record (a few bytes of
    /// it kept, so the torn-tail paths have a seed).
    private static func addFiles(in directory: String, as target: String, into corpus: inout Corpus, trimZeros: Bool = false) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory).sorted() {
            var bytes = [UInt8](FileManager.default.contents(atPath: directory + "/" + name) ?? Data())
            if trimZeros, let last = bytes.lastIndex(where: { $0 != 0 }) { bytes = Array(bytes[...min(bytes.count - 1, last + 24)]) }
            corpus.add(target, bytes)
        }
    }

    /// One txn of every body type, with consecutive zxids in epoch 1.
    static func sampleTxns() -> [Txn] {
        let acl = [ACL(perms: [.read, .write], id: Id(scheme: "digest", id: "user:hash=")), ACL.openUnsafe[0]]
        let bodies: [TxnBody] = [
            .createSession(timeoutMs: 30000),
            .create(path: "/app", data: Array("config".utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1),
            .create(path: "/app/e", data: nil, acl: acl, ephemeral: true, parentCVersion: 1),
            .createContainer(path: "/c", data: [], acl: ACL.openUnsafe, parentCVersion: 2),
            .createTTL(path: "/t", data: [0xff], acl: ACL.openUnsafe, parentCVersion: 3, ttlMs: 60000),
            .setData(path: "/app", data: [1, 2, 3], version: 1),
            .setACL(path: "/app", acl: acl, version: 1),
            .check(path: "/app", version: 2),
            .error(.noNode),
            .multi([.check(path: "/app", version: 2), .delete(path: "/t"), .error(.ok)]),
            .deleteContainer(path: "/c"),
            .delete(path: "/app/e"),
            .closeSession(paths: ["/app/e"]),
        ]
        return bodies.enumerated().map { i, body in
            Txn(header: TxnHeader(sessionId: 0x100_0000_0001, cxid: Int32(i), zxid: 0x1_0000_0001 + Int64(i), timeMs: 1_700_000_000_000),
                body: body)
        }
    }

    /// A tree with a session, its ephemeral, data, a null value, ACLs and nesting.
    static func sampleTree() -> DataTree {
        let tree = DataTree()
        for txn in sampleTxns().prefix(7) { _ = tree.apply(txn) }
        return tree
    }
}

/// Seeds collected per target, written as files named by a hash of their contents (so reruns add no duplicates).
struct Corpus {
    let root: String
    private var files: [String: [UInt8]] = [:]

    init(root: String) { self.root = root }

    mutating func add(_ target: String, _ bytes: [UInt8]) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
        files["\(target)/seed-\(String(hash, radix: 16))"] = bytes
    }

    func flush() throws {
        for (path, bytes) in files {
            let url = URL(fileURLWithPath: root + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(bytes).write(to: url)
        }
    }
}
#endif
