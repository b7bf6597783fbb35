import XCTest
@testable import ZKFS

final class InodeTableTests: XCTestCase {
    func testRootIsOneAndADirectory() {
        let table = InodeTable()
        XCTAssertEqual(table.key(of: 1), InodeKey(path: "/", role: .directory))
        XCTAssertEqual(table.ino(of: InodeKey(path: "/", role: .directory)), 1)
        table.forget(1, count: 100)
        XCTAssertNotNil(table.key(of: 1), "the root is never forgotten")
    }

    func testNumbersAreStableAndDerivedFromPathAndRole() {
        let a = InodeTable(), b = InodeTable()
        let key = InodeKey(path: "/app/config", role: .file)
        let n = a.remember(key)
        XCTAssertGreaterThan(n, 1)
        XCTAssertEqual(a.remember(key), n, "same key, same number")
        XCTAssertEqual(b.remember(key), n, "same number in another mount")
        XCTAssertEqual(a.peekNumber(of: key), n)
        let asDirectory = a.remember(InodeKey(path: "/app/config", role: .directory))
        XCTAssertNotEqual(asDirectory, n, "a role flip gets another inode")
        XCTAssertNotEqual(a.remember(InodeKey(path: "/app/config", role: .dataFile)), n)
    }

    func testLookupCountsAndForget() {
        let table = InodeTable()
        let key = InodeKey(path: "/x", role: .file)
        let n = table.remember(key)
        _ = table.remember(key)
        table.forget(n, count: 1)
        XCTAssertEqual(table.key(of: n), key, "one reference left")
        XCTAssertEqual(table.lastRole(of: "/x"), .file)
        table.forget(n, count: 1)
        XCTAssertNil(table.key(of: n))
        XCTAssertNil(table.ino(of: key))
        XCTAssertEqual(table.lastRole(of: "/x"), .file, "the role outlives the inode")
        table.clearRole(of: "/x")
        XCTAssertNil(table.lastRole(of: "/x"))
    }

    func testRoleMemoryIsBounded() {
        let table = InodeTable(roleMemoryMax: 10)
        let held = table.remember(InodeKey(path: "/held", role: .file))
        for i in 0..<10 { table.setRole(.directory, of: "/gone\(i)") }
        XCTAssertEqual(table.lastRole(of: "/gone9"), .directory)
        table.setRole(.file, of: "/one-more")
        XCTAssertNil(table.lastRole(of: "/gone0"), "roles of paths without inodes are dropped past the limit")
        XCTAssertEqual(table.lastRole(of: "/held"), .file)
        XCTAssertNotNil(table.key(of: held))
    }

    func testLastRoleFollowsTheNewestReference() {
        let table = InodeTable()
        let file = table.remember(InodeKey(path: "/p", role: .file))
        _ = table.remember(InodeKey(path: "/p", role: .directory))
        XCTAssertEqual(table.lastRole(of: "/p"), .directory)
        table.forget(file, count: 1)
        XCTAssertEqual(table.lastRole(of: "/p"), .directory, "the directory inode still holds the path")
        XCTAssertEqual(table.inos(ofPath: "/p").map(\.role), [.directory])
    }

    func testRenameMovesInodesAndEverythingBelow() {
        let table = InodeTable()
        let dir = table.remember(InodeKey(path: "/a", role: .directory))
        let data = table.remember(InodeKey(path: "/a", role: .dataFile))
        let other = table.remember(InodeKey(path: "/ab", role: .file))
        table.rename(from: "/a", to: "/z/b")
        XCTAssertEqual(table.key(of: dir), InodeKey(path: "/z/b", role: .directory))
        XCTAssertEqual(table.key(of: data), InodeKey(path: "/z/b", role: .dataFile))
        XCTAssertEqual(table.key(of: other)?.path, "/ab", "a sibling sharing the prefix is not moved")
        XCTAssertEqual(table.ino(of: InodeKey(path: "/z/b", role: .directory)), dir)
        XCTAssertNil(table.ino(of: InodeKey(path: "/a", role: .directory)))
        XCTAssertEqual(table.lastRole(of: "/z/b"), .directory)
    }

    func testRenameOntoAHeldNameKeepsTheOldInodeUntilForgotten() {
        let table = InodeTable()
        let source = table.remember(InodeKey(path: "/s", role: .file))
        let target = table.remember(InodeKey(path: "/t", role: .file))
        table.rename(from: "/s", to: "/t")
        XCTAssertEqual(table.ino(of: InodeKey(path: "/t", role: .file)), source)
        table.forget(target, count: 1)
        XCTAssertEqual(table.ino(of: InodeKey(path: "/t", role: .file)), source,
                       "forgetting the replaced inode does not unmap the moved one")
    }

    func testHashNeverGivesReservedNumbers() {
        for i in 0..<2000 {
            let n = InodeTable.hash(InodeKey(path: "/n\(i)", role: .file))
            XCTAssertGreaterThan(n, 1)
        }
    }
}
