import WarrenZab

/// A minimal in-memory ensemble for core tests with opaque payloads: a FIFO message queue, fsyncs that
/// complete on `flushDisks()` (or immediately when `instantDisks`), and delivered sequences per server.
/// No DataTree, no randomness beyond the nodes' own seeds.
final class MiniCluster {
    var nodes: [ServerId: ZabNode] = [:]
    var delivered: [ServerId: [LogEntry]] = [:]
    var sent: [(from: ServerId, to: ServerId, message: ZabMessage)] = []
    var actions: [ServerId: [ZabAction]] = [:]
    var down: Set<ServerId> = []
    var instantDisks = true
    private var inbox: [(from: ServerId, to: ServerId, message: ZabMessage)] = []
    /// Links (from, to) whose messages are held back, in order, until `release()`.
    var heldLinks: Set<[ServerId]> = []
    /// Starts holding a link at the first message this matches (that message included).
    var holdLinkAt: ((_ from: ServerId, _ to: ServerId, ZabMessage) -> Bool)?
    private var held: [(from: ServerId, to: ServerId, message: ZabMessage)] = []
    private var pendingFsync: [ServerId: [Zxid]] = [:]

    /// - Parameter joining: servers outside `members`, each with the membership its own configuration names
    ///   (itself included), as a server about to be added by a reconfig starts.
    init(_ members: [ServerId: MemberRole], durable: [ServerId: DurableState] = [:],
         joining: [ServerId: [ServerId: MemberRole]] = [:], configure: (inout ZabConfig) -> Void = { _ in }) {
        var config = ZabConfig(members: members)
        configure(&config)
        let own = Dictionary(uniqueKeysWithValues: members.keys.map { ($0, members) }).merging(joining) { $1 }
        for id in own.keys.sorted() {
            var c = config
            c.members = own[id]!
            nodes[id] = ZabNode(id: id, config: c, durable: durable[id] ?? DurableState(), seed: UInt64(id),
                                membershipChange: MiniCluster.membership)
            delivered[id] = []
        }
        for id in own.keys.sorted() { feed(id, .start) }
    }

    /// Reconfig entries of the opaque payloads: 0xCF, then per member its id and role (0 participant, 1 observer).
    static func reconfigPayload(_ members: [ServerId: MemberRole]) -> [UInt8] {
        [0xCF] + members.keys.sorted().flatMap { [UInt8($0), members[$0] == .observer ? 1 : 0] }
    }

    static func membership(_ entry: LogEntry) -> [ServerId: MemberRole]? {
        guard entry.payload.first == 0xCF else { return nil }
        let p = entry.payload.dropFirst()
        return Dictionary(uniqueKeysWithValues: stride(from: p.startIndex, to: p.endIndex, by: 2).map {
            (ServerId(p[$0]), p[$0 + 1] == 1 ? MemberRole.observer : .participant)
        })
    }

    func feed(_ id: ServerId, _ event: ZabEvent) {
        guard !down.contains(id) else { return }
        let out = nodes[id]!.on(event)
        actions[id, default: []] += out
        for action in out {
            switch action {
            case let .send(to, m):
                sent.append((id, to, m))
                inbox.append((id, to, m))
            case let .sendSnapshot(to, epoch, z):
                // Opaque state: the delivered zxids stand in for the state machine.
                let state = delivered[id]!.flatMap { withUnsafeBytes(of: $0.zxid.raw.bigEndian, Array.init) }
                sent.append((id, to, .snapshot(epoch: epoch, lastZxid: z, state: state)))
                inbox.append(sent.last!)
            case let .persist(entries):
                pendingFsync[id, default: []].append(entries.last!.zxid)
            case let .deliver(entries):
                delivered[id]! += entries
            case .installSnapshot(_, _):
                delivered[id] = []  // the opaque snapshot replaces the state; tests using SNAP check zxids only
            default:
                break
            }
        }
        if instantDisks { flushDisk(id) }
    }

    func flushDisk(_ id: ServerId) {
        let reports = pendingFsync[id] ?? []
        pendingFsync[id] = []
        for z in reports { feed(id, .persisted(upTo: z)) }
    }

    /// Delivers queued messages (FIFO) until none are left or `limit` were handled.
    func pump(limit: Int = 100_000) {
        var handled = 0
        while !inbox.isEmpty && handled < limit {
            let (from, to, m) = inbox.removeFirst()
            handled += 1
            if holdLinkAt?(from, to, m) == true { heldLinks.insert([from, to]) }
            if heldLinks.contains([from, to]) {
                held.append((from, to, m))
                continue
            }
            guard !down.contains(to), !down.contains(from) else { continue }
            feed(to, .message(from: from, m))
        }
    }

    /// Stops holding any link; the held messages go first, in their order.
    func release() {
        heldLinks = []
        inbox = held + inbox
        held = []
    }

    func tick(_ n: Int = 1) {
        for _ in 0..<n {
            for id in nodes.keys.sorted() { feed(id, .tick) }
            pump()
        }
    }

    /// Ticks until `done` or `max` ticks.
    @discardableResult
    func run(ticks max: Int = 100, until done: () -> Bool) -> Bool {
        pump()
        for _ in 0..<max {
            if done() { return true }
            tick()
        }
        return done()
    }

    var servingLeader: ServerId? {
        nodes.values.first { $0.state == .leading && $0.isServing && !down.contains($0.id) }?.id
    }

    var allServing: Bool { nodes.values.allSatisfy { down.contains($0.id) || $0.isServing } }

    func propose(_ payload: [UInt8]) {
        guard let l = servingLeader else { return }
        feed(l, .clientProposal(payload: payload))
        pump()
    }
}

extension DurableState {
    /// A history of `count` entries in `epoch` with payloads naming their zxid.
    static func history(epoch: Int64, count: Int, currentEpoch: Int64? = nil) -> DurableState {
        let entries = (1...max(1, count)).prefix(count).map {
            LogEntry(zxid: Zxid(epoch: epoch, counter: Int64($0)), payload: [UInt8(truncatingIfNeeded: $0)])
        }
        let e = currentEpoch ?? epoch
        return DurableState(epochs: EpochState(acceptedEpoch: e, acceptedLeader: -1, currentEpoch: e), log: entries)
    }
}
