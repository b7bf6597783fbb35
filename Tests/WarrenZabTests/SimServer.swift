import WarrenJute
import WarrenTree
import WarrenZab

/// A client write as the simulator encodes it before the leader prepares it: which client, which request.
struct SimRequest: Hashable {
    var client: Int64
    var seq: Int32

    var bytes: [UInt8] {
        var w = JuteWriter()
        w.writeLong(client)
        w.writeInt(seq)
        return w.bytes
    }

    init(client: Int64, seq: Int32) {
        self.client = client
        self.seq = seq
    }

    init?(_ bytes: [UInt8]) {
        var r = JuteReader(bytes)
        guard bytes.count == 12, let c = try? r.readLong(), let s = try? r.readInt() else { return nil }
        client = c
        seq = s
    }

    /// Creates a unique node most of the time, otherwise overwrites the root's data (always valid).
    var op: WriteOp {
        if seq % 4 == 3 { return .setData(path: "/", data: Array("c\(client)s\(seq)".utf8), version: -1) }
        return .create(path: "/c\(client)-\(seq)", data: Array("\(seq)".utf8), acl: ACL.openUnsafe, mode: .persistent)
    }
}

/// The shell around one `ZabNode`: carries out its actions against the simulated disk, network and a real
/// `DataTree`, and reports what it sees to the checker.
final class SimServer {
    let id: ServerId
    unowned let sim: Simulator
    var node: ZabNode
    var disk: SimDisk
    var tree: DataTree
    /// Number of txns applied to `tree` (its position in the global history).
    var count = 0
    var up = true
    /// Bumped on every restart so stale timers and reports for the old process are dropped.
    var incarnation = 0
    /// Requests submitted through this server whose delivery here acknowledges them to the client.
    var awaiting: Set<SimRequest> = []
    var deliveriesSinceSnapshot = 0
    var snapshotEvery: Int

    init(id: ServerId, sim: Simulator, config: ZabConfig, configEntry: LogEntry?, seed: UInt64, snapshotEvery: Int) {
        self.id = id
        self.sim = sim
        self.tree = DataTree()
        self.disk = SimDisk(emptyTree: tree.snapshot())
        self.node = ZabNode(id: id, config: config, seed: seed, membershipChange: SimServer.membership,
                            configEntry: configEntry)
        self.snapshotEvery = snapshotEvery
    }

    var lastZxid: Zxid { Zxid(raw: tree.lastProcessedZxid) }

    func handle(_ actions: [ZabAction]) {
        for action in actions { handle(action) }
    }

    func handle(_ action: ZabAction) {
        sim.trace(id, action)
        switch action {
        case let .send(to, message):
            sim.send(from: id, to: to, message)
        case let .sendSnapshot(to, epoch, lastZxid):
            if lastZxid != self.lastZxid { sim.checker.fail("server \(id) asked to snapshot at \(lastZxid), tree is at \(self.lastZxid)") }
            var w = JuteWriter()
            w.writeLong(Int64(count))
            tree.writeSnapshot(to: &w)
            sim.send(from: id, to: to, .snapshot(epoch: epoch, lastZxid: lastZxid, state: w.bytes))
        case let .persist(entries):
            let batch = disk.append(entries)
            sim.scheduleFsync(server: self, batch: batch, upTo: entries.last!.zxid)
        case let .truncateLog(after):
            disk.truncate(after: after)
        case let .installSnapshot(lastZxid, state):
            var r = JuteReader(state)
            let n = Int((try? r.readLong()) ?? -1)
            let rest = Array(r.readRest())
            guard let restored = try? DataTree.restore(from: rest) else {
                sim.checker.fail("server \(id): snapshot bytes do not restore")
                return
            }
            tree = restored
            count = n
            disk.install(SimDisk.Snapshot(zxid: lastZxid, count: n, tree: rest))
            sim.checker.holds(server: id, count: n, zxid: lastZxid, digest: tree.digest, why: "SNAP install")
        case let .persistEpochs(e):
            disk.epochs = e
        case let .deliver(entries):
            for entry in entries { apply(entry) }
        case let .forwarded(_, payload):
            if let request = SimRequest(payload) { propose(request) }
        case .rejected, .membershipChanged:
            break
        case let .synced(token):
            answered(sync: token)
        case .becameLooking:
            tree.discardPrepared()
        case let .becameLeader(epoch):
            tree.discardPrepared()
            sim.checker.role(server: id, leader: id, epoch: epoch)
        case let .becameFollower(leader, epoch), let .becameObserver(leader, epoch):
            sim.checker.role(server: id, leader: leader, epoch: epoch)
        }
    }

    private func apply(_ entry: LogEntry) {
        var r = JuteReader(entry.payload)
        guard let txn = try? Txn(from: &r), txn.zxid == entry.zxid.raw else {
            sim.checker.fail("server \(id): entry \(entry.zxid) is not a txn with that zxid")
            return
        }
        let previous = lastZxid
        tree.apply(txn)
        sim.checker.delivered(by: id, index: count, entry: entry, previous: previous, digest: tree.digest) {
            sim.quorumHoldsDurably(entry.zxid, changingTo: SimServer.membership(entry))
        }
        count += 1
        let request = SimRequest(client: txn.header.sessionId, seq: txn.header.cxid)
        if awaiting.remove(request) != nil { sim.acknowledged[request] = entry.zxid }
        deliveriesSinceSnapshot += 1
        if deliveriesSinceSnapshot >= snapshotEvery {
            deliveriesSinceSnapshot = 0
            disk.takeSnapshot(SimDisk.Snapshot(zxid: lastZxid, count: count, tree: tree.snapshot()))
        }
    }

    /// A client submits `request` here: the leader prepares and proposes it, a learner forwards it.
    func submit(_ request: SimRequest) {
        awaiting.insert(request)
        if node.state == .leading { propose(request) } else { handle(node.on(.clientProposal(payload: request.bytes))) }
    }

    /// A client's `sync` here. Its token carries the highest zxid acknowledged to any client when it was issued (and
    /// the epoch it was issued in); once answered, a read here must see that write.
    func sync() {
        var w = JuteWriter()
        w.writeLong((sim.acknowledged.values.max() ?? .zero).raw)
        handle(node.on(.clientSync(token: w.bytes)))
    }

    /// ZooKeeper's guarantee for sync-then-read, checked where it holds: a leader of the acknowledged write's epoch
    /// or a later one has it committed. A server still following (or being) a leader of an older epoch that has not
    /// noticed it was replaced can answer without it; that is ZooKeeper's known stale-sync window, counted apart.
    private func answered(sync token: [UInt8]) {
        var r = JuteReader(token)
        let floor = Zxid(raw: (try? r.readLong()) ?? 0)
        sim.coverage.note("sync")
        guard lastZxid < floor else { return }
        if let e = node.epoch, e >= floor.epoch {
            sim.checker.fail("server \(id): sync answered at \(lastZxid), before the acknowledged write \(floor) (epoch \(e))")
        } else {
            sim.coverage.note("staleSync")
        }
    }

    /// Leader: prepare against the tree (with the zxid the core will assign), then propose.
    func propose(_ request: SimRequest) {
        guard let zxid = node.nextProposalZxid else { return }
        let ctx = SessionContext.superUser(sessionId: request.client)
        guard case let .success(txn) = tree.prepare(request.op, ctx: ctx, cxid: request.seq, zxid: zxid.raw,
                                                     timeMs: Int64(sim.now)) else { return }
        handle(node.on(.clientProposal(payload: txn.juteBytes())))
    }

    /// Leader: proposes a membership change as Warren does, a setData of /zookeeper/config (here with a terse
    /// text: `1p,2p,4o`).
    func proposeReconfig(_ members: [ServerId: MemberRole]) {
        guard let zxid = node.nextProposalZxid else { return }
        let text = members.keys.sorted().map { "\($0)\(members[$0] == .observer ? "o" : "p")" }.joined(separator: ",")
        guard case let .success(txn) = tree.prepare(.setData(path: "/zookeeper/config", data: Array(text.utf8), version: -1),
                                                     ctx: .superUser(sessionId: 0), cxid: -1, zxid: zxid.raw,
                                                     timeMs: Int64(sim.now)) else { return }
        handle(node.on(.clientProposal(payload: txn.juteBytes())))
    }

    /// An entry standing for `members` below every real zxid: what Warren's shell gives a membership from zoo.cfg
    /// (`ServerCore.configEntry(for:)`), so that a server started with a membership of its own (one waiting to be
    /// added) adopts the ensemble's from the first notification, as ZooKeeper's joiners do.
    static func initialConfigEntry(_ members: [ServerId: MemberRole]) -> LogEntry {
        let text = members.keys.sorted().map { "\($0)\(members[$0] == .observer ? "o" : "p")" }.joined(separator: ",")
        let txn = Txn(header: TxnHeader(sessionId: 0, cxid: -1, zxid: 1, timeMs: 0),
                      body: .setData(path: "/zookeeper/config", data: Array(text.utf8), version: 0))
        return LogEntry(zxid: Zxid(raw: 1), payload: txn.juteBytes())
    }

    static func membership(_ entry: LogEntry) -> [ServerId: MemberRole]? {
        var r = JuteReader(entry.payload)
        guard let txn = try? Txn(from: &r), case let .setData("/zookeeper/config", data?, _) = txn.body else { return nil }
        var members: [ServerId: MemberRole] = [:]
        for item in String(decoding: data, as: UTF8.self).split(separator: ",") {
            guard let id = ServerId(item.dropLast()) else { return nil }
            members[id] = item.last == "o" ? .observer : .participant
        }
        return members
    }

    func crash() {
        up = false
        disk.crash(using: &sim.rng)
        awaiting = []
    }

    func restart(seed: UInt64) {
        incarnation += 1
        up = true
        guard let restored = try? DataTree.restore(from: disk.snapshot.tree) else {
            sim.checker.fail("server \(id): own snapshot does not restore")
            return
        }
        tree = restored
        count = disk.snapshot.count
        deliveriesSinceSnapshot = 0
        sim.checker.holds(server: id, count: count, zxid: disk.snapshot.zxid, digest: tree.digest, why: "restart")
        // The membership last activated survives (the shell writes it to a file when it activates one).
        node = ZabNode(id: id, config: node.config, durable: disk.recovered, seed: seed, membershipChange: SimServer.membership,
                       configEntry: node.configEntry)
        handle(node.on(.start))
    }
}
