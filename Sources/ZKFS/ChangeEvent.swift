import Foundation

/// One change of the tree as filesystem events name it: what happened to `name` in the directory `directory`
/// (both relative to the mount's root). Pure data; formatting only.
public struct ChangeEvent: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case modify = "MODIFY"
        case create = "CREATE"
        case delete = "DELETE"
        case attrib = "ATTRIB"
    }

    /// The directory holding the changed name, as a znode path ("/" for the mount's root).
    public var directory: String
    /// The changed name in `directory` (the data file's name for a directory node's own data).
    public var name: String
    public var kind: Kind
    /// Whether the name is (or was) shown as a directory.
    public var isDirectory: Bool

    public init(directory: String, name: String, kind: Kind, isDirectory: Bool) {
        self.directory = directory
        self.name = name
        self.kind = kind
        self.isDirectory = isDirectory
    }

    /// The node at `path` (a znode path) as a name in its parent.
    public init(node path: String, kind: Kind, isDirectory: Bool) {
        self.init(directory: ZPath.parent(of: path), name: ZPath.name(of: path), kind: kind,
                  isDirectory: isDirectory)
    }

    /// The path of the changed name, relative to the mount's root ("/a/b").
    public var path: String { ZPath.join(directory, name) }

    /// The line `inotifywait -m` prints for this event by default: `<dir>/ <EVENTS> <name>`, where `<dir>` is
    /// the directory under `mountpoint` (an absolute path without a trailing slash) and `<EVENTS>` the event
    /// names joined by commas, ISDIR last. Ends with a newline.
    public func inotifyLine(mountpoint: String) -> String {
        let dir = directory == "/" ? mountpoint : mountpoint + directory
        let events = isDirectory ? "\(kind.rawValue),ISDIR" : kind.rawValue
        return "\(dir)/ \(events) \(name)\n"
    }

    /// The line that replaces `dropped` lines a reader was too slow to take: `<mountpoint>/ Q_OVERFLOW <dropped>`;
    /// with `dropped` nil (changes may have been missed while disconnected, number unknown) `<mountpoint>/ Q_OVERFLOW `.
    public static func overflowLine(mountpoint: String, dropped: Int?) -> String {
        "\(mountpoint)/ Q_OVERFLOW \(dropped.map(String.init) ?? "")\n"
    }
}
