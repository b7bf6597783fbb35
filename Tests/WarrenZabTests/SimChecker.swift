import WarrenZab

/// A safety violation found by the simulator; carries enough to understand it without a debugger.
struct SafetyViolation: Error, CustomStringConvertible {
    var description: String
}

/// Global safety checks across all simulated servers, applied as events happen.
///
/// - Delivered sequences are prefixes of one global history (same txn at the same position everywhere), in
///   strictly increasing zxid order per server, including across crashes (a restarted server resumes from its
///   snapshot, which must be a prefix of that history).
/// - A txn is delivered for the first time only once a quorum of voters holds it durably (commit never ahead
///   of a quorum), so no acknowledged write can be lost by later crashes.
/// - Equal zxid ⇒ equal `DataTree.digest` on every server.
/// - One leader per epoch: every `becameLeader`/`becameFollower` names the same leader for an epoch.
struct SimChecker {
    private(set) var history: [LogEntry] = []
    private var digestAt: [Zxid: UInt64] = [:]
    private(set) var leaderOf: [Int64: ServerId] = [:]
    var violations: [String] = []

    mutating func fail(_ message: String) { violations.append(message) }

    /// A server delivered `entry` as its `index`-th txn (0-based); `digest` is its tree's digest after applying.
    mutating func delivered(by server: ServerId, index: Int, entry: LogEntry, previous: Zxid, digest: UInt64,
                            quorumHolds: () -> Bool) {
        if entry.zxid <= previous {
            fail("server \(server) delivered \(entry.zxid) after \(previous): not increasing")
        }
        if index < history.count {
            if history[index] != entry {
                fail("server \(server) delivered \(entry) at position \(index) where the history has \(history[index])")
            }
        } else if index == history.count {
            if !quorumHolds() { fail("\(entry.zxid) delivered (first, by \(server)) before a quorum held it durably") }
            history.append(entry)
        } else {
            fail("server \(server) delivered position \(index) but the history has only \(history.count)")
        }
        if let d = digestAt[entry.zxid], d != digest {
            fail("server \(server) digest \(d) != \(digest) at \(entry.zxid)")
        } else {
            digestAt[entry.zxid] = digest
        }
    }

    /// A server's state machine now holds the first `count` txns, ending at `zxid` (restart or SNAP).
    mutating func holds(server: ServerId, count: Int, zxid: Zxid, digest: UInt64, why: String) {
        if count > history.count {
            fail("server \(server) \(why): snapshot of \(count) txns but only \(history.count) were ever delivered")
        } else if count == 0 ? zxid != .zero : history[count - 1].zxid != zxid {
            fail("server \(server) \(why): snapshot of \(count) txns ends at \(zxid), history differs")
        } else if count > 0, let d = digestAt[zxid], d != digest {
            fail("server \(server) \(why): snapshot digest \(digest) != \(d) at \(zxid)")
        }
    }

    mutating func role(server: ServerId, leader: ServerId, epoch: Int64) {
        if let known = leaderOf[epoch], known != leader {
            fail("epoch \(epoch): server \(server) follows/leads with leader \(leader), but \(known) leads it")
        }
        leaderOf[epoch] = leader
    }
}
