import WarrenJute

/// What prepare believes about a node once every prepared txn is applied.
struct PendingNode: Equatable {
    var stat: PersistedStat
    var childCount: Int
    var acl: [ACL]
}

/// One prepared change to one path (ZooKeeper's `ChangeRecord`). `node` nil means the path will not exist.
struct ChangeRecord {
    let serial: UInt64
    let zxid: Int64
    let path: String
    let node: PendingNode?
}

/// The overlay of prepared-but-unapplied changes: the latest record per path plus the records in prepare order,
/// retired as their txns are applied.
struct PendingChanges {
    private var latest: [PathKey: ChangeRecord] = [:]
    /// Records in prepare order; `log[head...]` are live.
    private(set) var log: [ChangeRecord] = []
    private var head = 0
    private var nextSerial: UInt64 = 0
    /// While preparing a multi: the previous `latest` entry of every path touched, for rollback.
    private var undo: [(path: String, previous: ChangeRecord?)]? = nil

    var isEmpty: Bool { head == log.count }

    /// The newest prepared change to `path`, if any.
    func latest(_ path: String) -> ChangeRecord? { latest[PathKey(path)] }
    /// The live records, oldest first.
    var outstanding: ArraySlice<ChangeRecord> { log[head...] }

    mutating func add(zxid: Int64, path: String, node: PendingNode?) {
        let record = ChangeRecord(serial: nextSerial, zxid: zxid, path: path, node: node)
        nextSerial += 1
        undo?.append((path, latest[PathKey(path)]))
        log.append(record)
        latest[PathKey(path)] = record
    }

    /// Drops every record with zxid <= `zxid`; a path's latest entry goes only if it is that record.
    mutating func retire(upTo zxid: Int64) {
        while head < log.count && log[head].zxid <= zxid {
            let record = log[head]
            if latest[PathKey(record.path)]?.serial == record.serial { latest[PathKey(record.path)] = nil }
            head += 1
        }
        if head == log.count {
            log.removeAll(keepingCapacity: log.count < 4096)
            head = 0
        } else if head > 1024 && head * 2 > log.count {
            log.removeFirst(head)
            head = 0
        }
    }

    /// Starts recording what a multi changes, so `rollbackMulti` can undo it.
    mutating func beginMulti() {
        precondition(undo == nil, "nested multi prepare")
        undo = []
    }

    mutating func commitMulti() { undo = nil }

    /// Removes every record added since `beginMulti` and restores the entries they replaced.
    mutating func rollbackMulti() {
        guard let changes = undo else { preconditionFailure("rollback without beginMulti") }
        for change in changes.reversed() {
            latest[PathKey(change.path)] = change.previous
        }
        log.removeLast(changes.count)
        undo = nil
    }

    mutating func removeAll() {
        precondition(undo == nil, "reset during a multi prepare")
        self = PendingChanges()
    }
}
