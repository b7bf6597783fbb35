import Foundation

/// A file created through the mount whose node is not on the server yet. Its create is deferred to the first
/// commit with content (or the last close), so that it carries the first data and no other client ever sees
/// the node empty or partial.
public struct CreateIntent: Sendable, Equatable {
    /// Where the node is created (the prefix, for a sequential name).
    public var serverPath: String
    public var spec: NameSpec
    /// The path of the kernel's inode until the create: `serverPath`, or for a sequential name a placeholder no
    /// znode can have (the real name is only known once created).
    public var inodePath: String

    /// The longest server path the node can get, for the data size limit (a sequential name adds 10 digits).
    public var longestServerPath: String { spec.sequential ? serverPath + "0000000000" : serverPath }
}

/// The files created through this mount whose create is still deferred, by inode path, so that lookups,
/// attributes, listings and other opens on this mount see them before the server has them. An entry lives from
/// the create request until the node is created or the last handle of it is closed. Thread-safe; no I/O.
final class PendingCreates: @unchecked Sendable {
    struct Entry {
        var intent: CreateIntent
        /// When the file was opened (its times until the node exists), in milliseconds since the epoch.
        var openedAtMs: Int64
        /// Open handles that may still make the create.
        var handles: Int
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    private var placeholders: UInt64 = 0

    /// The inode path for a new sequential file: its prefix and a number after a NUL, which no znode path has.
    func placeholder(for serverPath: String) -> String {
        lock.withLock {
            placeholders += 1
            return "\(serverPath)\u{0}\(placeholders)"
        }
    }

    /// Registers one more handle of the pending file `intent.inodePath`; returns its entry.
    @discardableResult
    func add(_ intent: CreateIntent) -> Entry {
        lock.withLock {
            let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
            var entry = entries[intent.inodePath] ?? Entry(intent: intent, openedAtMs: nowMs, handles: 0)
            entry.handles += 1
            entries[intent.inodePath] = entry
            return entry
        }
    }

    /// The pending file at `inodePath`, if any.
    func entry(_ inodePath: String) -> Entry? { lock.withLock { entries[inodePath] } }

    /// The node now exists: nothing is pending there any more.
    func created(_ inodePath: String) { lock.withLock { _ = entries.removeValue(forKey: inodePath) } }

    /// A handle that never made its create was closed; the entry goes with the last one (then true).
    func handleClosed(_ inodePath: String) -> Bool {
        lock.withLock {
            guard var entry = entries[inodePath] else { return false }
            entry.handles -= 1
            entries[inodePath] = entry.handles > 0 ? entry : nil
            return entry.handles <= 0
        }
    }

    /// Names pending in the directory `dir` (placeholders of sequential files excluded: they have no name yet).
    func names(in dir: String) -> [String] {
        lock.withLock {
            entries.keys.filter { !$0.contains("\u{0}") && ZPath.parent(of: $0) == dir }.map { ZPath.name(of: $0) }
        }
    }
}
