import Glibc
import WarrenJute
import XCTest
@testable import ZKFS

final class NodeKindTests: XCTestCase {
    private func stat(data: Int32 = 0, children: Int32 = 0, owner: Int64 = 0) -> Stat {
        var s = Stat()
        s.dataLength = data
        s.numChildren = children
        s.ephemeralOwner = owner
        return s
    }

    func testChildrenMakeADirectoryWhateverCameBefore() {
        for previous: NodeRole? in [nil, .file, .directory] {
            XCTAssertEqual(NodeKindRule.role(for: stat(data: 5, children: 1), previous: previous), .directory)
        }
    }

    func testEphemeralsAreFilesEvenIfEmpty() {
        XCTAssertEqual(NodeKindRule.role(for: stat(owner: 0x1234), previous: nil), .file)
        XCTAssertEqual(NodeKindRule.role(for: stat(owner: 0x1234), previous: .directory), .file)
    }

    func testFreshNodesByData() {
        XCTAssertEqual(NodeKindRule.role(for: stat(data: 1), previous: nil), .file)
        XCTAssertEqual(NodeKindRule.role(for: stat(), previous: nil), .directory)
    }

    func testKnownRoleSticksWhileConsistent() {
        // A file truncated to empty stays a file; a directory whose last child left stays a directory.
        XCTAssertEqual(NodeKindRule.role(for: stat(), previous: .file), .file)
        XCTAssertEqual(NodeKindRule.role(for: stat(data: 9), previous: .directory), .directory)
    }

    func testContainerAndTTLOwnersAreNotEphemeral() {
        let container = Int64(bitPattern: 0x8000_0000_0000_0000)
        let ttl = Int64(bitPattern: 0xFF00_0000_0000_1000)
        XCTAssertEqual(NodeKindRule.role(for: stat(owner: container), previous: nil), .directory)
        XCTAssertEqual(NodeKindRule.role(for: stat(owner: ttl), previous: nil), .directory)
    }

    func testAttributesOfAFileAndADirectory() {
        var options = MountOptions()
        options.uid = 1000
        options.gid = 100
        options.umask = 0o027
        var s = stat(data: 42, children: 0)
        s.mtime = 1_700_000_000_123
        s.ctime = 1_600_000_000_000
        let file = NodeAttributes.make(ino: 7, role: .file, stat: s, options: options)
        XCTAssertEqual(file.mode, 0o100640)
        XCTAssertEqual(file.size, 42)
        XCTAssertEqual(file.nlink, 1)
        XCTAssertEqual(file.uid, 1000)
        XCTAssertEqual(file.gid, 100)
        XCTAssertEqual(file.mtime.sec, 1_700_000_000)
        XCTAssertEqual(file.mtime.nsec, 123_000_000)
        XCTAssertEqual(file.ctime.sec, 1_700_000_000, "ctime is never before mtime")

        s.numChildren = 3
        let dir = NodeAttributes.make(ino: 8, role: .directory, stat: s, options: options)
        XCTAssertEqual(dir.mode, 0o040750)
        XCTAssertEqual(dir.size, 3, "a directory's size counts its children")
        XCTAssertEqual(dir.nlink, 2)

        let data = NodeAttributes.make(ino: 9, role: .dataFile, stat: s, options: options)
        XCTAssertEqual(data.mode & 0o170000, NodeAttributes.typeRegular)
        XCTAssertEqual(data.size, 42)
    }

    func testReadOnlyMountDropsWriteBits() {
        var options = MountOptions()
        options.umask = 0
        options.readOnly = true
        let attrs = NodeAttributes.make(ino: 2, role: .file, stat: stat(data: 1), options: options)
        XCTAssertEqual(attrs.mode, 0o100444)
    }

    func testNegativeMillisecondsSplitIntoSecondsAndPositiveNanoseconds() {
        let t = NodeAttributes.split(ms: -1)
        XCTAssertEqual(t.sec, -1)
        XCTAssertEqual(t.nsec, 999_000_000)
        XCTAssertEqual(NodeAttributes.split(ms: 0).sec, 0)
    }

    func testErrnoTable() {
        XCTAssertEqual(ErrnoMap.errno(for: .noNode), ENOENT)
        XCTAssertEqual(ErrnoMap.errno(for: .nodeExists), EEXIST)
        XCTAssertEqual(ErrnoMap.errno(for: .notEmpty), ENOTEMPTY)
        XCTAssertEqual(ErrnoMap.errno(for: .noAuth), EACCES)
        XCTAssertEqual(ErrnoMap.errno(for: .badVersion), ESTALE)
        XCTAssertEqual(ErrnoMap.errno(for: .connectionLoss), EIO)
        XCTAssertEqual(ErrnoMap.errno(for: .noChildrenForEphemerals), ENOTDIR)
        XCTAssertEqual(ErrnoMap.errno(for: .invalidACL), EINVAL)
        XCTAssertEqual(ErrnoMap.errno(for: .quotaExceeded), EDQUOT)
        for code in ErrorCode.allCases where code != .ok {
            XCTAssertNotEqual(ErrnoMap.errno(for: code), 0, "\(code) must fail")
        }
    }
}
