import XCTest
@testable import ZKFS

final class OptionsTests: XCTestCase {
    func testMountOptionList() throws {
        var o = MountOptions()
        try o.apply(mountOptions: "ro,allow_other,uid=1000,gid=50,umask=077,session_timeout=9000,credentials=/etc/c,data_name=_data,attr_timeout=2.5,entry_timeout=0,jute_maxbuffer=4096,retries=1,oneshot_watches,no_data_cache")
        XCTAssertTrue(o.readOnly)
        XCTAssertTrue(o.allowOther)
        XCTAssertEqual(o.uid, 1000)
        XCTAssertEqual(o.gid, 50)
        XCTAssertEqual(o.umask, 0o077)
        XCTAssertEqual(o.sessionTimeoutMs, 9000)
        XCTAssertEqual(o.credentialsFile, "/etc/c")
        XCTAssertEqual(o.dataName, "_data")
        XCTAssertEqual(o.attrTimeoutSeconds, 2.5)
        XCTAssertEqual(o.entryTimeoutSeconds, 0)
        XCTAssertEqual(o.juteMaxBufferBytes, 4096)
        XCTAssertEqual(o.retriesMax, 1)
        XCTAssertTrue(o.oneShotWatches)
        XCTAssertFalse(o.dataCache)
        try o.apply(mountOptions: "rw")
        XCTAssertFalse(o.readOnly, "later options win")
    }

    func testFstabNoiseIsIgnored() throws {
        var o = MountOptions()
        try o.apply(mountOptions: "defaults,_netdev,noauto,nofail,x-systemd.automount,nosuid,nodev,noatime,user")
        XCTAssertEqual(o, MountOptions())
    }

    func testBadOptionsAreRefusedWithTheirName() {
        for bad in ["bogus", "uid=abc", "uid", "umask=999", "session_timeout=0", "data_name=a/b", "data_name=..",
                    "attr_timeout=-1", "jute_maxbuffer=10", "retries=1000"] {
            var o = MountOptions()
            XCTAssertThrowsError(try o.apply(mountOptions: bad), bad) { error in
                let key = String(bad.split(separator: "=")[0])
                XCTAssertTrue("\(error)".contains(key), "\(error) should name \(key)")
            }
        }
    }

    func testFuseOptionsEscapeTheCommasOfTheConnectString() {
        var o = MountOptions()
        o.connectString = "h1:2181,h2:2181/app"
        o.readOnly = true
        o.allowOther = true
        o.inotify = false
        XCTAssertEqual(o.fuseOptionList,
                       "fsname=h1:2181\\,h2:2181/app,subtype=zkfs,default_permissions,ro,allow_other")
        XCTAssertEqual(o.chroot, "/app")
        o.connectString = "h1:2181"
        XCTAssertEqual(o.chroot, "")
        XCTAssertEqual(o.fuseOptionList, "fsname=h1:2181,subtype=zkfs,default_permissions,ro,allow_other")
        // Replays must pass the VFS: zkfs then enforces ro itself.
        o.inotify = true
        XCTAssertTrue(o.readOnly)
        XCTAssertEqual(o.fuseOptionList, "fsname=h1:2181,subtype=zkfs,default_permissions,allow_other")
    }

    func testDataLimitLeavesRoomForTheRequest() {
        var o = MountOptions()
        XCTAssertEqual(o.dataBytesMax(serverPathBytes: 11), 1_048_575 - 64 - 11)
        o.juteMaxBufferBytes = 2000
        XCTAssertEqual(o.dataBytesMax(serverPathBytes: 5000), 0)
    }

    func testZPath() {
        XCTAssertEqual(ZPath.join("/", "a"), "/a")
        XCTAssertEqual(ZPath.join("/a", "b"), "/a/b")
        XCTAssertEqual(ZPath.parent(of: "/a/b"), "/a")
        XCTAssertEqual(ZPath.parent(of: "/a"), "/")
        XCTAssertEqual(ZPath.parent(of: "/"), "/")
        XCTAssertEqual(ZPath.name(of: "/a/b"), "b")
        XCTAssertEqual(ZPath.name(of: "/"), "")
        XCTAssertTrue(ZPath.isWithin("/a/b", "/a"))
        XCTAssertFalse(ZPath.isWithin("/ab", "/a"))
        XCTAssertTrue(ZPath.isWithin("/x", "/"))
        XCTAssertEqual(ZPath.rebase("/a/b/c", from: "/a", to: "/z"), "/z/b/c")
        XCTAssertEqual(ZPath.rebase("/a", from: "/a", to: "/z"), "/z")
        XCTAssertNil(ZPath.rebase("/ab", from: "/a", to: "/z"))
    }
}
