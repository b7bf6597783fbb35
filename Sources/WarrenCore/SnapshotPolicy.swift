import WarrenRandom

/// When the core takes a snapshot, and when the log is rolled ahead of it: after a number of applied transactions
/// drawn anew in [snapCount/2, snapCount] after every snapshot, as ZooKeeper does, so the members of an ensemble
/// (each with its own seed) do not snapshot together, not even after a shared start. Its state is its own: the
/// core reports each applied transaction and does what it is told.
package struct SnapshotPolicy {
    /// Applied transactions before a snapshot at which the log is rolled: more than can be appended but not yet
    /// applied at that moment (the pipeline is bounded well below this), so every record of the file before the
    /// boundary precedes the snapshot, and that file can be purged as soon as the snapshot is the oldest one kept.
    package static let rollLeadTxnsMax = 2_000

    private let snapCount: Int
    /// Seeded (from the shell's seed), so a test or a simulation replays the same snapshot points.
    private var random: SeededRandom
    /// Applied transactions since the last snapshot (counted from the log records recovered at start).
    package private(set) var txnsSinceSnapshot: Int
    /// Applied transactions after which the next snapshot is taken.
    package private(set) var threshold = 0

    package init(snapCount: Int, seed: UInt64, txnsSinceSnapshot: Int) {
        precondition(txnsSinceSnapshot >= 0, "\(txnsSinceSnapshot) txns since the snapshot")
        self.snapCount = snapCount
        self.txnsSinceSnapshot = txnsSinceSnapshot
        random = SeededRandom(seed: seed ^ 0x736E_6170_7368_6F74)
        threshold = drawThreshold()
    }

    /// The log is rolled this many applied transactions before a snapshot falls due.
    package static func rollLead(_ threshold: Int) -> Int { min(rollLeadTxnsMax, threshold / 4) }

    /// One more transaction applied: whether the log must be rolled now, and whether a snapshot is due (in that
    /// order, both when the lead is zero); a due snapshot starts the count again with a new threshold.
    package mutating func applied() -> (rollLog: Bool, snapshot: Bool) {
        txnsSinceSnapshot += 1
        let roll = txnsSinceSnapshot == threshold - Self.rollLead(threshold)
        guard txnsSinceSnapshot >= threshold else { return (roll, false) }
        txnsSinceSnapshot = 0
        threshold = drawThreshold()
        return (roll, true)
    }

    /// The next snapshot point, in [snapCount/2, snapCount].
    package mutating func drawThreshold() -> Int {
        let half = snapCount / 2
        return max(1, half + Int.random(in: 0...max(1, half), using: &random))
    }
}
