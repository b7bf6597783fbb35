import Logging
import WarrenClient
import WarrenJute
import XCTest
@testable import ZKFS

/// Watch events to change events, for nodes whose role the mount already knows (no server round trip).
final class ChangeEventMappingTests: XCTestCase {
    private func filesystem() -> ZKFilesystem {
        var options = MountOptions()
        options.mountpoint = "/zk"
        return ZKFilesystem(options: options, logger: Logger(label: "test"))
    }

    private func change(_ type: EventType, _ path: String, roleBefore: NodeRole? = nil) -> PendingChange {
        PendingChange(event: WatchEvent(type: type, state: .syncConnected, path: path), roleBefore: roleBefore)
    }

    func testDataChangesNameTheFileOrTheDataFile() async {
        let fs = filesystem()
        fs.inodes.setRole(.file, of: "/app/config")
        fs.inodes.setRole(.directory, of: "/app")
        let file = await fs.changeEvent(for: change(.nodeDataChanged, "/app/config"))
        XCTAssertEqual(file?.inotifyLine(mountpoint: "/zk"), "/zk/app/ MODIFY config\n")
        let dir = await fs.changeEvent(for: change(.nodeDataChanged, "/app"))
        XCTAssertEqual(dir?.inotifyLine(mountpoint: "/zk"), "/zk/app/ MODIFY .data\n")
        let root = await fs.changeEvent(for: change(.nodeDataChanged, "/"))
        XCTAssertEqual(root?.inotifyLine(mountpoint: "/zk"), "/zk/ MODIFY .data\n")
    }

    func testCreationUsesTheRememberedOrAnnouncedRole() async {
        let fs = filesystem()
        fs.inodes.setRole(.directory, of: "/locks")
        let created = await fs.changeEvent(for: change(.nodeCreated, "/locks"))
        XCTAssertEqual(created, ChangeEvent(directory: "/", name: "locks", kind: .create, isDirectory: true))
        fs.ownChanges.announceRole(.file, of: "/locks/job-", sequential: true)
        let sequential = await fs.changeEvent(for: change(.nodeCreated, "/locks/job-0000000007"))
        XCTAssertEqual(sequential?.isDirectory, false)
        XCTAssertNil(fs.ownChanges.announcedRole(of: "/locks/job-7"), "a sequential name has 10 digits")
        let rootCreated = await fs.changeEvent(for: change(.nodeCreated, "/"))
        XCTAssertNil(rootCreated)
    }

    func testDeletionReportsTheRoleTheNodeHad() async {
        let fs = filesystem()
        let deletedDir = await fs.changeEvent(for: change(.nodeDeleted, "/a/b", roleBefore: .directory))
        XCTAssertEqual(deletedDir?.inotifyLine(mountpoint: "/zk"), "/zk/a/ DELETE,ISDIR b\n")
        let deletedUnknown = await fs.changeEvent(for: change(.nodeDeleted, "/a/c"))
        XCTAssertEqual(deletedUnknown?.inotifyLine(mountpoint: "/zk"), "/zk/a/ DELETE c\n")
        let children = await fs.changeEvent(for: change(.nodeChildrenChanged, "/a"))
        XCTAssertNil(children)
    }
}
