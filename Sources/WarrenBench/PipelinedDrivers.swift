import WarrenJute
import WarrenRandom

/// Keeps `outstanding` requests in flight on every connection: each reply, while the window is open, is replaced by
/// the next request for the same slot. Subclasses choose the request.
class PipelinedDriver: LoadDriver {
    let outstanding: Int

    init(outstanding: Int) { self.outstanding = outstanding }

    func start(_ engine: Engine) {
        for c in engine.openConnections {
            for slot in 0..<outstanding { issue(on: c, slot: slot, engine) }
        }
    }

    func replied(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection,
        _ engine: Engine)
    {
        completed(request, header, body: &body, on: conn)
        if engine.isIssuing { issue(on: conn, slot: request.tag, engine) }
    }

    /// Queues the next request for `slot` on `conn`, with `tag: slot`.
    func issue(on conn: BenchConnection, slot: Int, _ engine: Engine) {
        preconditionFailure("PipelinedDriver.issue must be overridden")
    }

    /// Open loop (overridden by drivers that have a schedule): declared here so subclasses override the protocol's
    /// requirements rather than shadow its defaults.
    var nextDueNs: UInt64? { nil }
    func issueDue(_ engine: Engine) {}

    /// Bookkeeping for a reply, before the slot's next request is issued.
    func completed(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection) {}
}

/// The znodes and request templates shared, read-only, by every engine thread of a run.
final class KeySpace: @unchecked Sendable {
    let paths: [String]
    let getTemplates: [FrameTemplate]
    let value: [UInt8]

    init(_ config: BenchConfig) {
        paths = config.keyPaths
        getTemplates = paths.map { FrameTemplate(.getData(GetDataRequest(path: $0, watch: false))) }
        value = BenchValue.bytes(config.valueBytes, seed: 0)
    }
}

enum BenchValue {
    /// `count` pseudo-random bytes determined by `seed`. Random so that compressed snapshots and logs store about
    /// as much as the values hold; a repeated pattern would make any compressing server look unfairly small.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed &* 0x2545_F491_4F6C_DD1D &+ 1)
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            let word = rng.next()
            for shift in stride(from: 0, to: 64, by: 8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        out.removeLast(out.count - count)
        return out
    }
}

/// read, write and mixed: getData or setData of a uniformly random key.
/// With a rate (open loop) requests go out on a fixed schedule, round robin over the connections, each stamped with
/// its scheduled time, so a stalled server shows up as latency, not as a slower schedule. A request that comes due
/// while its connection already has `outstanding` in flight waits in a backlog and goes out, oldest first, as soon
/// as a reply frees a slot, still stamped with its scheduled time: the time it spent queued counts (no coordinated
/// omission). Requests never sent (the backlog beyond `backlogMax`, or still queued when the window closes) are
/// counted as dropped.
final class KeyedDriver: PipelinedDriver {
    private let keys: KeySpace
    private let readPercent: Int
    private var rng: SeededRandom
    /// Open loop: nanoseconds between scheduled requests of this engine, and the next one's time; nil = closed loop.
    private let intervalNs: Double?
    private var dueNs: Double = 0
    private var nextConnection = 0
    /// Scheduled times of requests waiting for a free slot, oldest first from `backlogHead`.
    private var backlog: [UInt64] = []
    private var backlogHead = 0
    static let backlogMax = 1_000_000
    private var backlogCount: Int { backlog.count - backlogHead }

    init(keys: KeySpace, readPercent: Int, outstanding: Int, seed: UInt64, ratePerSecond: Double = 0) {
        self.keys = keys
        self.readPercent = readPercent
        rng = SeededRandom(seed: seed)
        intervalNs = ratePerSecond > 0 ? 1e9 / ratePerSecond : nil
        super.init(outstanding: outstanding)
    }

    override func start(_ engine: Engine) {
        guard intervalNs != nil else { return super.start(engine) }
        dueNs = Double(engine.nowNs)
    }

    override func replied(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection,
        _ engine: Engine)
    {
        guard intervalNs != nil else { return super.replied(request, header, body: &body, on: conn, engine) }
        if backlogCount > 0 && engine.isIssuing && conn.inflight.count < outstanding { sendOldest(on: conn) }
    }

    override var nextDueNs: UInt64? { intervalNs == nil ? nil : UInt64(dueNs) }

    override func issueDue(_ engine: Engine) {
        guard let intervalNs else { return }
        guard engine.isIssuing else {
            // The window closed: what is still queued was never sent.
            for due in backlog[backlogHead...] { engine.recordDropped(scheduledNs: due) }
            backlog.removeAll()
            backlogHead = 0
            return
        }
        let open = engine.openConnections
        while UInt64(dueNs) <= engine.nowNs, !open.isEmpty {
            let conn = open[nextConnection % open.count]
            nextConnection &+= 1
            if backlogCount == 0 && conn.inflight.count < outstanding {
                send(on: conn, slot: 0, sentNs: UInt64(dueNs))
            } else if backlogCount < Self.backlogMax {
                backlog.append(UInt64(dueNs))
                if conn.inflight.count < outstanding { sendOldest(on: conn) }
            } else {
                engine.recordDropped(scheduledNs: UInt64(dueNs))
            }
            dueNs += intervalNs
        }
    }

    private func sendOldest(on conn: BenchConnection) {
        send(on: conn, slot: 0, sentNs: backlog[backlogHead])
        backlogHead += 1
        if backlogHead == backlog.count {
            backlog.removeAll(keepingCapacity: true)
            backlogHead = 0
        } else if backlogHead >= 4096 && backlogHead * 2 >= backlog.count {
            backlog.removeFirst(backlogHead)
            backlogHead = 0
        }
    }

    override func issue(on conn: BenchConnection, slot: Int, _ engine: Engine) {
        send(on: conn, slot: slot, sentNs: engine.nowNs)
    }

    private func send(on conn: BenchConnection, slot: Int, sentNs: UInt64) {
        let key = Int(rng.next() % UInt64(keys.paths.count))
        let isRead = readPercent >= 100 || (readPercent > 0 && Int(rng.next() % 100) < readPercent)
        if isRead {
            conn.send(keys.getTemplates[key], tag: slot, measured: true, nowNs: sentNs)
        } else {
            let request = Request.setData(SetDataRequest(path: keys.paths[key], data: keys.value, version: -1))
            conn.send(request, tag: slot, measured: true, nowNs: sentNs)
        }
    }
}

/// create-seq: persistent-sequential creates under one parent. Remembers every created path for cleanup.
final class CreateSequentialDriver: PipelinedDriver {
    private let template: FrameTemplate
    private(set) var created: [String] = []

    init(parent: String, value: [UInt8], outstanding: Int) {
        template = FrameTemplate(
            .create(CreateRequest(path: parent + "/s-", data: value, acl: ACL.openUnsafe, mode: .persistentSequential)))
        super.init(outstanding: outstanding)
    }

    override func issue(on conn: BenchConnection, slot: Int, _ engine: Engine) {
        conn.send(template, tag: slot, measured: true, nowNs: engine.nowNs)
    }

    override func completed(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection) {
        guard header.err == 0, let response = try? CreateResponse(from: &body) else { return }
        created.append(response.path)
    }
}

/// churn: every slot creates a fresh znode, then deletes it once the create is answered, and repeats.
final class ChurnDriver: PipelinedDriver {
    private let parent: String
    private let value: [UInt8]
    /// Created and not yet deleted, by (connection, slot).
    private var live: [Int: String] = [:]
    private var counter = 0

    init(parent: String, value: [UInt8], outstanding: Int) {
        self.parent = parent
        self.value = value
        super.init(outstanding: outstanding)
    }

    /// Znodes this driver created and has not deleted (their delete was cut off by the deadline).
    var leftovers: [String] { Array(live.values) }

    private func key(_ conn: BenchConnection, _ slot: Int) -> Int { conn.index * outstanding + slot }

    override func issue(on conn: BenchConnection, slot: Int, _ engine: Engine) {
        if let path = live[key(conn, slot)] {
            conn.send(.delete(DeleteRequest(path: path, version: -1)), tag: slot, measured: true, nowNs: engine.nowNs)
        } else {
            counter += 1
            let path = "\(parent)/c\(conn.index)-\(slot)-\(counter)"
            let request = Request.create(CreateRequest(path: path, data: value, acl: ACL.openUnsafe, mode: .persistent))
            conn.send(request, tag: slot, measured: true, nowNs: engine.nowNs)
        }
    }

    override func completed(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection) {
        let k = key(conn, request.tag)
        switch request.op {
        case .create:
            if header.err == 0, let response = try? CreateResponse(from: &body) { live[k] = response.path }
        case .delete:
            live[k] = nil
        default:
            preconditionFailure("churn got a reply to \(request.op), tag \(request.tag)")
        }
    }
}
