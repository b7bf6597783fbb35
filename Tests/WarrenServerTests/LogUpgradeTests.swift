import Foundation
import Logging
import WarrenJute
import XCTest

@testable import WarrenServer
@testable import WarrenStorage
@testable import WarrenTree

/// A data directory written by a build that logged ZooKeeper's Jute txn layout (log format version 1) recovers
/// with today's build, next to files in the compact encoding; nothing is lost or re-ordered.
final class LogUpgradeTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "warren-upgrade-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/version-2", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    private func txn(_ zxid: Int64, _ body: TxnBody) -> Txn {
        Txn(header: TxnHeader(sessionId: 0, cxid: Int32(zxid), zxid: zxid, timeMs: 1000 + zxid), body: body)
    }

    private func create(_ zxid: Int64, _ path: String, _ data: String) -> Txn {
        txn(zxid, .create(path: path, data: Array(data.utf8), acl: ACL.openUnsafe, ephemeral: false, parentCVersion: Int32(zxid)))
    }

    /// log.1 in version 1 (Jute payloads), then log.4 in the current version (compact payloads).
    private func writeMixedLog() throws -> [Txn] {
        let old = [create(1, "/a", "one"), create(2, "/b", "two"), txn(3, .setData(path: "/a", data: Array("1!".utf8), version: 1))]
        var bytes = LogFormat.fileHeader(firstZxid: 1, version: 1)
        for t in old { LogFormat.append(LogRecord(zxid: t.zxid, payload: t.juteBytes()), to: &bytes) }
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/version-2/log.1"))
        let new = [create(4, "/c", "three"), txn(5, .delete(path: "/b"))]
        let log = try TxnLog.open(directory: root + "/version-2")
        try log.append(new.map { LogRecord(zxid: $0.zxid, payload: $0.compactBytes()) })
        try log.sync()
        try log.close()
        return old + new
    }

    private func storage() throws -> ServerStorage {
        var config = ServerConfig()
        config.dataDir = root
        config.dataLogDir = root
        return try ServerStorage(config: config, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    func testStandaloneReplaysBothEncodings() throws {
        let txns = try writeMixedLog()
        let expected = DataTree(config: TreeConfig())
        for t in txns { _ = expected.apply(t) }

        let recovered = try storage().recover(applyLog: true)
        XCTAssertEqual(recovered.tree.lastProcessedZxid, 5)
        XCTAssertEqual(recovered.tree.digest, expected.digest)
        XCTAssertEqual(recovered.tree.snapshot(), expected.snapshot())
    }

    /// Zab replicates compact payloads, so an ensemble member's logged records come back re-encoded.
    func testEnsembleGetsCompactPayloads() throws {
        let txns = try writeMixedLog()
        let recovered = try storage().recover(applyLog: false)
        XCTAssertEqual(recovered.logged.map(\.zxid), [1, 2, 3, 4, 5])
        for (record, t) in zip(recovered.logged, txns) {
            XCTAssertEqual(record.payload, t.compactBytes())
            XCTAssertEqual(try Txn(compact: record.payload, zxid: record.zxid), t)
        }
    }

    func testJuteRecordWithAnotherZxidIsRefused() throws {
        var bytes = LogFormat.fileHeader(firstZxid: 1, version: 1)
        LogFormat.append(LogRecord(zxid: 1, payload: create(9, "/a", "x").juteBytes()), to: &bytes)
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/version-2/log.1"))
        XCTAssertThrowsError(try storage().recover(applyLog: true)) { error in
            XCTAssertTrue("\(error)".contains("holds txn 9"), "\(error)")
        }
    }
}
