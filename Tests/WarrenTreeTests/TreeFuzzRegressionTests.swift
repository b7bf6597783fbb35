import Foundation
import WarrenJute
import XCTest

@testable import WarrenTree

/// Inputs the fuzzer (Sources/warren-fuzz, target `restore`) found making a tree snapshot's restore misbehave;
/// each must now be refused with a typed error. The same inputs sit in Tests/fuzz/corpus/restore.
final class TreeFuzzRegressionTests: XCTestCase {
    /// A version 2 snapshot of 315 bytes in which a node's child count claims hundreds of millions of children:
    /// restore reserved room for them (a 4 GB allocation) before finding out they never come.
    func testChildCountAboveTheNodesLeftIsInconsistent() throws {
        let bytes = [UInt8](Data(base64Encoded: """
            V1RSRQAAAAIAAAABAAAABwAAAAEAAAEAAAAAAQAAjM8AAAADAAAAAQAAAB8AAAAFd29ybGQAAAAGYW55b25lAAAAAgAAAAMAAAAGZGlnZXN0\
            AAAACnVzZXI6aGFzaD0AAAAfAAAABXdvcmxkAAAABmFueW9uZQAAAAEAAAABAAAABXdvcmxkAAAABmFueW9uZQAAAAgEAAEAwAAAA4WAgIAQ\
            AQNhcHAEAQIDAdqCgICAEIDQlQQxAf+8AQEBAAFlAAEgg4CAgBCA0JX/vDEAAAEHAAAAAQABYwEAIISAgIAQgNCV/7wxgLPoyEcMewAAAXQC\
            /wAghYCAgBCA0JX/vDH/AAAAAADqYP7///8CCXpvbytlZXBlcgEAAAAAAAZjJG5maWcBAhAAAP////8PAAVxdW90YQEAAAAA
            """)!)
        XCTAssertThrowsError(try DataTree.restore(from: bytes)) { error in
            guard case let .inconsistent(why) = error as? SnapshotError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("child counts announce"), why)
        }
    }

    /// The bound is exact: a consistent snapshot announces precisely the nodes that follow, in every version.
    func testConsistentSnapshotsStillRestore() throws {
        let tree = DataTree()
        for (i, path) in ["/a", "/a/b", "/a/c", "/d"].enumerated() {
            _ = tree.apply(Txn(header: TxnHeader(sessionId: 0, cxid: 0, zxid: Int64(i + 1), timeMs: 0),
                               body: .create(path: path, data: [1], acl: ACL.openUnsafe, ephemeral: false, parentCVersion: 1)))
        }
        for version in [DataTree.snapshotVersionInline, DataTree.snapshotVersion] {
            let snapshot = tree.snapshot(version: version)
            XCTAssertEqual(try DataTree.restore(from: snapshot).snapshot(), tree.snapshot(), "version \(version)")
        }
    }
}
