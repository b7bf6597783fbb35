import WarrenJute
import XCTest
@testable import ZKFS

final class XattrTests: XCTestCase {
    func testListingHasEveryStatFieldThePathAndTheACL() {
        let names = ZKXattr.listing().split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        XCTAssertEqual(names.count, 13)
        XCTAssertEqual(names.first, "user.zk.path")
        XCTAssertEqual(names.last, "user.zk.acl")
        for field in ["czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion", "ephemeralOwner",
                      "dataLength", "numChildren", "pzxid"] {
            XCTAssertTrue(names.contains("user.zk.\(field)"), field)
        }
        XCTAssertEqual(ZKXattr.listing().last, 0)
    }

    func testValuesComeFromTheStat() {
        let s = Stat(czxid: 1, mzxid: 2, ctime: 3, mtime: 4, version: 5, cversion: 6, aversion: 7,
                     ephemeralOwner: 0x1_0000_00ff, dataLength: 8, numChildren: 9, pzxid: 10)
        XCTAssertEqual(ZKXattr.value(of: "user.zk.path", path: "/a", stat: s), "/a")
        XCTAssertEqual(ZKXattr.value(of: "user.zk.czxid", path: "/a", stat: s), "1")
        XCTAssertEqual(ZKXattr.value(of: "user.zk.version", path: "/a", stat: s), "5")
        XCTAssertEqual(ZKXattr.value(of: "user.zk.ephemeralOwner", path: "/a", stat: s), "0x1000000ff")
        XCTAssertEqual(ZKXattr.value(of: "user.zk.pzxid", path: "/a", stat: s), "10")
        XCTAssertNil(ZKXattr.value(of: "user.zk.acl", path: "/a", stat: s))
        XCTAssertNil(ZKXattr.value(of: "user.other", path: "/a", stat: s))
        XCTAssertTrue(ZKXattr.isReadOnly("user.zk.version"))
        XCTAssertFalse(ZKXattr.isReadOnly("user.zk.acl"))
    }

    func testACLTextRoundTrip() throws {
        let acl = [ACL(perms: .all, id: .anyoneUnsafe),
                   ACL(perms: [.read, .write], id: Id(scheme: "digest", id: "bob:x0Y/z+w=")),
                   ACL(perms: .read, id: Id(scheme: "ip", id: "10.0.0.0/8"))]
        let text = ACLText.format(acl)
        XCTAssertEqual(text, "world:anyone:cdrwa,digest:bob:x0Y/z+w=:rw,ip:10.0.0.0/8:r")
        XCTAssertEqual(try ACLText.parse(text + "\n"), acl)
        XCTAssertEqual(try ACLText.parse(" world:anyone:r , auth::cdrwa"),
                       [ACL(perms: .read, id: .anyoneUnsafe), ACL(perms: .all, id: Id(scheme: "auth", id: ""))])
    }

    func testBadACLTextIsRefused() {
        for bad in ["", "world", "world:anyone", "world:anyone:x", ":anyone:r", "world:anyone:r,"] {
            if bad == "world:anyone:r," {
                XCTAssertEqual(try? ACLText.parse(bad).count, 1, "a trailing comma is harmless")
                continue
            }
            XCTAssertThrowsError(try ACLText.parse(bad), bad)
        }
    }
}
