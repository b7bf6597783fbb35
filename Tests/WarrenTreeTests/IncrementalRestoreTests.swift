import WarrenJute
import XCTest

@testable import WarrenTree

/// The SNAP sync's restore as bytes arrive (`IncrementalRestore`) against the whole-bytes restore it stands in for.
final class IncrementalRestoreTests: XCTestCase {
    /// The snapshot tests' tree (`TreeHarness.populated`) plus null and empty data, a quota, and values of many
    /// sizes in directories of different widths.
    private func populatedTree() -> DataTree {
        let h = TreeHarness.populated()
        XCTAssertNil(h.error(.create(path: "/app/null", data: nil, acl: ACL.openUnsafe, mode: .persistent)))
        h.create("/zookeeper/quota/app")
        h.create("/zookeeper/quota/app/zookeeper_limits", "count=100,bytes=-1")
        h.create("/big")
        for d in 0..<7 {
            h.create("/big/d\(d)")
            for k in 0..<(d * 13) {
                h.create("/big/d\(d)/k\(k)", String(repeating: "v", count: (k * 37 + d) % 600))
            }
        }
        XCTAssertNil(h.error(.setData(path: "/app", data: Array("v2".utf8), version: 0)))
        return h.tree
    }

    private func restorePiecewise(_ bytes: [UInt8], pieceBytes: Int, totalBytes: Int? = nil) throws(SnapshotError) -> DataTree? {
        let restore = IncrementalRestore(totalBytes: totalBytes ?? bytes.count, config: TreeConfig(extendedTypesEnabled: true))
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + pieceBytes)
            bytes.withUnsafeBytes { restore.feed(UnsafeRawBufferPointer(rebasing: $0[offset..<end])) }
            offset = end
        }
        return try restore.finish()
    }

    func testPiecewiseRestoreEqualsTheWholeRestoreForAnyPieceSize() throws {
        let tree = populatedTree()
        let bytes = tree.streamingSnapshot()
        for piece in [1, 2, 3, 7, 64, 4096, bytes.count] {
            let restored = try XCTUnwrap(try restorePiecewise(bytes, pieceBytes: piece), "piece \(piece)")
            XCTAssertEqual(restored.snapshot(), tree.snapshot(), "piece \(piece)")
            XCTAssertEqual(restored.digest, tree.digest, "piece \(piece)")
            XCTAssertEqual(restored.sessions, tree.sessions)
            XCTAssertEqual(restored.ephemeralCount, 1)
            XCTAssertEqual(restored.ttlNodeCount, 1)
            XCTAssertEqual(restored.containerCount, 1)
            XCTAssertEqual(restored.nodeCount, tree.nodeCount)
        }
    }

    /// The parts serialized side by side for a SNAP sync are, in order, exactly the one-piece streaming snapshot —
    /// also with more parts than a part has nodes.
    func testPartsConcatenateToTheStreamingSnapshot() {
        let tree = populatedTree()
        let whole = tree.streamingSnapshot()
        for count in [1, 2, 3, 8, tree.nodeCount + 3] {
            let parts = tree.streamingSnapshotParts(count)
            XCTAssertEqual(parts.count, count)
            XCTAssertEqual((0..<parts.count).flatMap { parts.part($0) }, whole, "\(count) parts")
        }
    }

    /// Versions 3 (files) and 1 cannot be taken node by node: the caller is told to restore the whole bytes.
    func testOtherLayoutsAreLeftToTheWholeRestore() throws {
        let tree = populatedTree()
        for version in [DataTree.snapshotVersion, DataTree.snapshotVersionPaths] {
            let bytes = tree.snapshot(version: version)
            let restore = IncrementalRestore(totalBytes: bytes.count)
            bytes.withUnsafeBytes { restore.feed($0) }
            XCTAssertTrue(restore.isUnsupported, "version \(version)")
            XCTAssertNil(try restore.finish(), "version \(version)")
        }
    }

    /// Whatever a damaged stream holds, the piecewise restore fails where the whole restore fails and gives the
    /// same tree where it does not (a byte in a value changes the value, not the validity).
    func testDamagedStreamsFailExactlyWhereTheWholeRestoreFails() throws {
        let good = populatedTree().streamingSnapshot()
        var checked = 0
        for position in Array(0..<40) + Array(stride(from: 40, to: good.count, by: max(1, good.count / 160))) {
            for value: UInt8 in [0xFF, 0x00, good[position] &+ 1] where value != good[position] {
                var bad = good
                bad[position] = value
                let whole = Result { () throws -> [UInt8] in try DataTree.restore(from: bad).snapshot() }
                let piecewise = Result { () throws -> [UInt8] in
                    guard let tree = try self.restorePiecewise(bad, pieceBytes: 61) else { throw SnapshotError.unsupportedVersion(0) }
                    return tree.snapshot()
                }
                switch (whole, piecewise) {
                case let (.success(a), .success(b)): XCTAssertEqual(a, b, "byte \(position) = \(value)")
                case (.failure, .failure): break
                default: XCTFail("byte \(position) = \(value): whole \(whole), piecewise \(piecewise)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 400, "\(good.count) bytes")
    }

    func testShortLongAndTrailingStreamsAreRefused() throws {
        let good = populatedTree().streamingSnapshot()
        // Fewer bytes than announced: the end never came.
        XCTAssertThrowsError(try restorePiecewise(Array(good.dropLast(10)), pieceBytes: 64, totalBytes: good.count)) {
            guard case .malformed(.truncated) = $0 as? SnapshotError else { return XCTFail("\($0)") }
        }
        // Announced and sent, but with a byte after the last node.
        XCTAssertThrowsError(try restorePiecewise(good + [0], pieceBytes: 64)) {
            guard case .inconsistent = $0 as? SnapshotError else { return XCTFail("\($0)") }
        }
        // Cut anywhere and announced as cut: never a tree.
        for cut in stride(from: 1, to: good.count, by: max(1, good.count / 50)) {
            XCTAssertThrowsError(try restorePiecewise(Array(good[..<cut]), pieceBytes: 9), "cut at \(cut)")
        }
        // More bytes than announced.
        let restore = IncrementalRestore(totalBytes: good.count - 1)
        good.withUnsafeBytes { restore.feed($0) }
        XCTAssertThrowsError(try restore.finish())
    }
}
