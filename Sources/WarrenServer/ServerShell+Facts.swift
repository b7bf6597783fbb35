import WarrenCore
import Foundation
import WarrenStorage
import WarrenTree

/// The monitoring surfaces' way into the core: facts, backups and statistics resets, each on the core thread.
extension ServerShell {
    /// Gathers `ServerFacts` on the core thread (after the core calls already queued) and hands them to `deliver`
    /// there; `deliver` must not block. Call only after `start()`.
    /// The host facts are read first, on the calling thread.
    public func facts(_ detail: FactsDetail = [], deliver: @escaping @Sendable (ServerFacts) -> Void) {
        let host = HostFacts.gather(ServerCore.hostParts(for: detail), dataDir: config.dataDir, dataLogDir: config.dataLogDir)
        onCoreLoop {
            precondition(self.core != nil, "facts requested before start()")
            deliver(self.core.facts(detail, host: host, now: Now.read()))
        }
    }

    /// An online backup: the committed tree as of now (copied on the core thread, which is cheap) serialized and
    /// framed off it as the snapshot file a dataDir's `version-2/` takes as is, with that file's name. Call only
    /// after `start()`.
    public func backupSnapshot(deliver: @escaping @Sendable (Result<(name: String, bytes: [UInt8]), Error>) -> Void) {
        onCoreLoop {
            precondition(self.core != nil, "backup requested before start()")
            let (zxid, tree) = self.core.shutdownSnapshot()
            let handoff = TreeHandoff(tree)
            DispatchQueue.global().async {
                deliver(Result { try SnapshotStore.fileImage(zxid: zxid, payload: handoff.tree.snapshot()) })
            }
        }
    }

    /// Resets statistics on the core thread, in order with `facts` calls made after it. Call only after `start()`.
    public func resetStats(_ which: StatsReset) {
        onCoreLoop {
            precondition(self.core != nil, "resetStats requested before start()")
            self.core.resetStats(which)
        }
    }
}
