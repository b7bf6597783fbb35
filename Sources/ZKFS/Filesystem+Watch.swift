import Foundation
import WarrenClient
import WarrenJute

/// Turning watch events into kernel invalidations. Only inodes the kernel holds are named; readdir is never
/// cached, so a listing is always fresh.
extension ZKFilesystem {
    func watchEventArrived(_ event: WatchEvent) {
        switch event.type {
        case .nodeDataChanged, .nodeCreated, .nodeDeleted: dataCache.invalidate(event.path)
        default: break
        }
        changes.yield(PendingChange(event: event,
                                    roleBefore: event.type == .nodeDeleted ? inodes.lastRole(of: event.path) : nil))
        guard let invalidator else { return }
        let path = event.path
        switch event.type {
        case .nodeDataChanged:
            invalidator.post(inodeNotices(path))
        case .nodeCreated:
            invalidator.post(entryChangedNotices(path) + parentChangedNotices(of: path))
        case .nodeDeleted:
            inodes.clearRole(of: path)
            // With replays the replayed unlink/rmdir removes the name, after the deletions of its children
            // (an invalidation now would raise DELETE_SELF before the children's DELETE events).
            invalidator.post((replaySink == nil ? entryGoneNotices(path) : []) + parentChangedNotices(of: path))
        case .nodeChildrenChanged:
            invalidator.post(inodeNotices(path))
        case .none, .dataWatchRemoved, .childWatchRemoved, .persistentWatchRemoved:
            break
        }
    }

    /// Every inode of `path` (file, directory, data file) loses its cached attributes.
    func inodeNotices(_ path: String) -> [Notice] {
        inodes.inos(ofPath: path).map { .inode($0.ino) }
    }

    /// The name of `path` must be looked up again (it appeared, or its role may have changed).
    func entryChangedNotices(_ path: String) -> [Notice] {
        guard path != "/" else { return inodeNotices(path) }
        let parent = inodes.ino(of: InodeKey(path: ZPath.parent(of: path), role: .directory))
        return inodeNotices(path) + (parent.map { [.entry(parent: $0, name: ZPath.name(of: path))] } ?? [])
    }

    /// `path` was deleted: its name goes, and the kernel learns its inodes are deleted.
    func entryGoneNotices(_ path: String) -> [Notice] {
        guard path != "/" else { return inodeNotices(path) }
        let name = ZPath.name(of: path)
        let held = inodes.inos(ofPath: path)
        guard let parent = inodes.ino(of: InodeKey(path: ZPath.parent(of: path), role: .directory)) else {
            return held.map { .inode($0.ino) }
        }
        var notices: [Notice] = held.filter { $0.role == .dataFile }.map { .inode($0.ino) }
        let named = held.filter { $0.role != .dataFile }
        notices += named.map { .delete(parent: parent, child: $0.ino, name: name) }
        if named.isEmpty { notices.append(.entry(parent: parent, name: name)) }
        return notices
    }

    /// A child of `path`'s parent came or went: the parent's attributes change (size counts children), and a
    /// parent shown as a file that gained a child must become a directory.
    func parentChangedNotices(of path: String) -> [Notice] {
        guard path != "/" else { return [] }
        let parent = ZPath.parent(of: path)
        var notices = inodeNotices(parent)
        if inodes.ino(of: InodeKey(path: parent, role: .file)) != nil, !isLockContenderOfFile(path) {
            inodes.setRole(.directory, of: parent)
            notices += entryChangedNotices(parent)
        }
        return notices
    }

    /// After a new session: every cached attribute and name may be stale.
    func invalidateEverything() {
        guard let invalidator else { return }
        var notices: [Notice] = []
        for (ino, key) in inodes.allEntries() {
            notices.append(.inode(ino))
            if key.path != "/", key.role != .dataFile,
               let parent = inodes.ino(of: InodeKey(path: ZPath.parent(of: key.path), role: .directory))
            {
                notices.append(.entry(parent: parent, name: ZPath.name(of: key.path)))
            }
        }
        invalidator.post(notices)
    }
}
