import WarrenJute

/// watch-fanout: connection 0 writes one znode that every other connection watches with getData(watch: true).
///
/// A round starts when every live watcher's watch is armed and the previous write was answered: the writer sends
/// setData and notes the time. Each watcher's notification is one op, its latency measured from that send; the
/// watcher then re-arms with another getData(watch: true). Arming traffic is not measured.
final class FanoutDriver: LoadDriver {
    private enum WatcherState { case arming, armed, fired, gone }

    private let path: String
    private let value: [UInt8]
    private let armTemplate: FrameTemplate
    private var writer: BenchConnection?
    private var watchers: [Int: WatcherState] = [:]
    private var writeInFlight = false
    private var roundStartNs: UInt64 = 0
    private(set) var rounds = 0
    private(set) var strayEvents = 0

    init(path: String, value: [UInt8]) {
        self.path = path
        self.value = value
        armTemplate = FrameTemplate(.getData(GetDataRequest(path: path, watch: true)))
    }

    func start(_ engine: Engine) {
        let open = engine.openConnections
        guard let first = open.first else { return }
        writer = first
        for c in open.dropFirst() {
            watchers[c.index] = .arming
            c.send(armTemplate, tag: 0, measured: false, nowNs: engine.nowNs)
        }
    }

    func replied(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection,
        _ engine: Engine)
    {
        if conn === writer {
            writeInFlight = false
        } else if watchers[conn.index] == .arming {
            // An error here leaves the watcher unarmed; it then takes no part in later rounds.
            watchers[conn.index] = header.err == 0 ? .armed : .gone
        }
        startRoundIfReady(engine)
    }

    func notified(_ event: WatcherEvent, on conn: BenchConnection, _ engine: Engine) {
        guard event.path == path, event.type == EventType.nodeDataChanged.rawValue, watchers[conn.index] == .armed
        else {
            strayEvents += 1
            return
        }
        watchers[conn.index] = .fired
        engine.recordOp(latencyNs: engine.nowNs &- roundStartNs)
        if engine.isIssuing {
            watchers[conn.index] = .arming
            conn.send(armTemplate, tag: 0, measured: false, nowNs: engine.nowNs)
        }
    }

    func lost(_ conn: BenchConnection, _ engine: Engine) {
        if conn === writer {
            writer = nil
        } else {
            watchers[conn.index] = .gone
            startRoundIfReady(engine)
        }
    }

    var isFinished: Bool { writer == nil }

    private func startRoundIfReady(_ engine: Engine) {
        guard engine.isIssuing, let writer, !writeInFlight else { return }
        guard watchers.values.allSatisfy({ $0 == .armed || $0 == .gone }),
            watchers.values.contains(.armed)
        else { return }
        rounds += 1
        writeInFlight = true
        roundStartNs = engine.nowNs
        writer.send(
            .setData(SetDataRequest(path: path, data: value, version: -1)), tag: 0, measured: false,
            nowNs: engine.nowNs)
    }
}
