/// The `wchs` numbers.
public struct WatchSummary: Hashable, Sendable {
    /// Watchers (connections) holding at least one reported watch.
    public var watchers: Int
    /// Paths with at least one reported watch.
    public var paths: Int
    /// Reported (watcher, path) pairs.
    public var watches: Int

    public init(watchers: Int, paths: Int, watches: Int) {
        self.watchers = watchers
        self.paths = paths
        self.watches = watches
    }
}

/// Reports for the four-letter words (`wchs`, `wchc`, `wchp`) and `mntr`.
///
/// ZooKeeper's `wchs`/`wchc`/`wchp` only look at its data-watch table, so a watch set by getChildren alone does not
/// show up there. That is the default here (`includingChildWatches: false`); pass true to report every watch.
/// Within a reported pair, several kinds on the same path count once, as in ZooKeeper.
extension WatchManager {
    public func summary(includingChildWatches: Bool = false) -> WatchSummary {
        var watchers = Set<WatcherID>()
        var paths = 0
        var watches = 0
        for (_, holders) in modesByPath {
            let reported = holders.filter { Self.isReported($0.value, includingChildWatches) }
            if reported.isEmpty { continue }
            paths += 1
            watches += reported.count
            watchers.formUnion(reported.keys)
        }
        return WatchSummary(watchers: watchers.count, paths: paths, watches: watches)
    }

    /// `wchc`: each watcher with the paths it watches; watchers ascending, paths sorted.
    public func pathsByWatcher(includingChildWatches: Bool = false) -> [(watcher: WatcherID, paths: [String])] {
        pathsByWatcher.keys.sorted().compactMap { watcher in
            let paths = pathsByWatcher[watcher, default: []]
                .filter { Self.isReported(modes(watcher, $0), includingChildWatches) }
                .sorted()
            return paths.isEmpty ? nil : (watcher: watcher, paths: paths)
        }
    }

    /// `wchp`: each watched path with its watchers; paths sorted, watchers ascending.
    public func watchersByPath(includingChildWatches: Bool = false) -> [(path: String, watchers: [WatcherID])] {
        modesByPath.keys.sorted().compactMap { path in
            let watchers = modesByPath[path, default: [:]]
                .filter { Self.isReported($0.value, includingChildWatches) }
                .keys.sorted()
            return watchers.isEmpty ? nil : (path: path, watchers: watchers)
        }
    }

    /// `mntr`'s `zk_watch_count`: ZooKeeper's data-table pairs plus child-table pairs, so a persistent watch (kept
    /// in both tables) counts twice and data + child watches by one watcher on one path count twice.
    public var watchCount: Int {
        var count = 0
        for (_, holders) in modesByPath {
            for (_, modes) in holders {
                count += (modes.inDataTable ? 1 : 0) + (modes.inChildTable ? 1 : 0)
            }
        }
        return count
    }

    private static func isReported(_ modes: WatchModes, _ includingChildWatches: Bool) -> Bool {
        includingChildWatches ? !modes.isEmpty : modes.inDataTable
    }
}
