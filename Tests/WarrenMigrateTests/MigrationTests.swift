import Foundation
import WarrenJute
import WarrenStorage
import WarrenTree
import XCTest

@testable import WarrenMigrate

/// Import and export over real directories, with ZooKeeper files written by the codecs (the interop suite does the
/// same with files Apache ZooKeeper wrote).
final class MigrationTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "warren-migrate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/zk/version-2", withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func write(_ bytes: [UInt8], _ name: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: "\(root)/zk/version-2/\(name)"))
    }

    /// The Warren tree that `warren server` would start from in `dir`.
    private func warrenTree(_ dir: String) throws -> DataTree {
        let state = try Recovery.load(dataDir: dir + "/version-2", dataLogDir: dir + "/version-2")
        return try DataTree.restore(from: XCTUnwrap(state.snapshot).payload, config: TreeConfig(extendedTypesEnabled: true))
    }

    /// Snapshot 0x10 holding the fixture nodes, a log from 0x11 with five creates, and an older snapshot at 0x8
    /// with only the root that the log does not continue.
    private func writeSource() throws {
        try write(ZooKeeperSnapshot(sessions: [(0x100, 30000)], nodes: Fixtures.nodes()).encode(), "snapshot.10")
        try write(ZooKeeperLog.encode(Fixtures.txns(from: 0x11, count: 5)), "log.11")
    }

    func testImportReplaysTheLogAndDropsEphemerals() throws {
        try writeSource()
        let report = try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w")
        XCTAssertEqual(report.lastZxid, 0x15)
        XCTAssertEqual(report.txnsReplayed, 5)
        XCTAssertEqual(report.droppedEphemerals, 1)
        XCTAssert(report.warnings.isEmpty, "\(report.warnings)")
        let tree = try warrenTree(root + "/w")
        XCTAssertEqual(tree.lastProcessedZxid, 0x15)
        XCTAssert(tree.sessions.isEmpty)
        let nodes = tree.migratedNodes(droppingEphemerals: false).nodes
        // The root's child stats moved with the replayed creates; every other node is as the snapshot had it.
        let expected = Fixtures.nodes().filter { $0.path != "/ephemeral" && $0.path != "/" }
        XCTAssertEqual(nodes.filter { !$0.path.hasPrefix("/t") && $0.path != "/" }.sorted { $0.path < $1.path },
                       expected.sorted { $0.path < $1.path })
        XCTAssertEqual(nodes.filter { $0.path.hasPrefix("/t") }.count, 5)
        XCTAssertEqual(tree.persistedStat("/")?.pzxid, 0x15)
        XCTAssertEqual(try String(contentsOfFile: root + "/w/currentEpoch", encoding: .utf8), "0\n")
        XCTAssertEqual(tree.containerCount, 1)
        XCTAssertEqual(tree.ttlNodeCount, 1)
    }

    func testCorruptNewestSnapshotFallsBackAndGapIsRefused() throws {
        try writeSource()
        try write(ZooKeeperSnapshot(nodes: Array(Fixtures.nodes().prefix(1))).encode(), "snapshot.5")
        try write(ZooKeeperLog.encode(Fixtures.txns(from: 6, count: 11)), "log.6")
        var newest = try ZooKeeperFiles.read(root + "/zk/version-2/snapshot.10")
        newest[newest.count - 10] ^= 0xFF
        try write(newest, "snapshot.10")
        let report = try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w")
        XCTAssertEqual(report.snapshotZxid, 0x5)
        XCTAssertEqual(report.lastZxid, 0x15)
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssert(report.warnings[0].contains("snapshot.10"), report.warnings[0])

        try FileManager.default.removeItem(atPath: root + "/zk/version-2/log.6")
        XCTAssertThrowsError(try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w2")) { error in
            XCTAssert("\(error)".contains("missing"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/w2/version-2"), "nothing written on failure")
    }

    func testNonEmptyOutputNeedsForce() throws {
        try writeSource()
        try FileManager.default.createDirectory(atPath: root + "/w", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: root + "/w/myid"))
        XCTAssertThrowsError(try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/w"), ["myid"])
        XCTAssertEqual(try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w", force: true).lastZxid, 0x15)
        // Not even --force writes over an input: it would delete what is about to be read.
        XCTAssertThrowsError(try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/zk/", force: true))
        XCTAssertThrowsError(try WarrenExport.run(dataDir: root + "/w", zookeeperDataDir: root + "/w", force: true))
        XCTAssertEqual(try ZooKeeperFiles.snapshots(in: root + "/zk/version-2").count, 1)
    }

    func testDirectoryWithoutZooKeeperFilesIsRefused() {
        XCTAssertThrowsError(try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w")) { error in
            XCTAssert("\(error)".contains("no ZooKeeper snapshot"), "\(error)")
        }
    }

    func testSnappySnapshotIsRefusedClearly() throws {
        try write([1, 2, 3], "snapshot.10.snappy")
        XCTAssertThrowsError(try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w")) { error in
            XCTAssert("\(error)".contains("compression.method"), "\(error)")
        }
    }

    func testExportWritesWhatImportReads() throws {
        try writeSource()
        _ = try ZooKeeperImport.run(zookeeperDataDir: root + "/zk", outDataDir: root + "/w")
        let report = try WarrenExport.run(dataDir: root + "/w", zookeeperDataDir: root + "/back")
        XCTAssertEqual(report.lastZxid, 0x15)
        let exported = try ZooKeeperSnapshot.decode(ZooKeeperFiles.read(root + "/back/version-2/snapshot.15"), what: "export")
        XCTAssertEqual(exported.nodes, try warrenTree(root + "/w").migratedNodes(droppingEphemerals: true).nodes)
        XCTAssert(exported.sessions.isEmpty)
        XCTAssertThrowsError(try WarrenExport.run(dataDir: root + "/w", zookeeperDataDir: root + "/back"))
    }
}
