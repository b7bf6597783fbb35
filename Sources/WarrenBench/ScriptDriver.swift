import WarrenJute

/// Runs a list of requests with up to `outstanding` in flight per connection, for setup and cleanup. Each reply
/// goes to `onReply`, which says whether the outcome is acceptable and may return a follow-up request that is sent
/// on the same connection.
final class ScriptDriver: LoadDriver {
    typealias ReplyHandler = (_ request: Request, _ header: ReplyHeader, _ body: inout JuteReader) -> Outcome

    enum Outcome {
        case done
        case followUp(Request)
        case failed(String)
    }

    private var queue: [Request]
    private var next = 0
    private var inFlight: [Int: Request] = [:]
    private var nextTag = 0
    private let outstanding: Int
    private let onReply: ReplyHandler
    private(set) var failures: [String] = []
    private(set) var failureCount = 0

    init(_ requests: [Request], outstanding: Int, onReply: @escaping ReplyHandler) {
        queue = requests
        self.outstanding = outstanding
        self.onReply = onReply
    }

    /// Requests never answered (their connection was lost, or time ran out) plus failed ones.
    var unfinished: Int { failureCount + inFlight.count + (queue.count - next) }

    func start(_ engine: Engine) {
        for c in engine.openConnections {
            for _ in 0..<outstanding {
                guard next < queue.count else { return }
                send(queue[next], on: c, engine)
                next += 1
            }
        }
    }

    func replied(_ request: InFlight, _ header: ReplyHeader, body: inout JuteReader, on conn: BenchConnection,
        _ engine: Engine)
    {
        guard let original = inFlight.removeValue(forKey: request.tag) else {
            preconditionFailure("script reply for unknown tag \(request.tag) (\(request.op))")
        }
        switch onReply(original, header, &body) {
        case .done: break
        case let .followUp(r):
            send(r, on: conn, engine)
            return
        case let .failed(message):
            failureCount += 1
            if failures.count < 5 { failures.append(message) }
        }
        if next < queue.count {
            send(queue[next], on: conn, engine)
            next += 1
        }
    }

    func lost(_ conn: BenchConnection, _ engine: Engine) {
        // Hand the rest of the queue to a survivor so one dead connection does not strand it.
        guard let survivor = engine.openConnections.first, next < queue.count, survivor.inflight.isEmpty else { return }
        send(queue[next], on: survivor, engine)
        next += 1
    }

    var isFinished: Bool { next >= queue.count }

    private func send(_ r: Request, on c: BenchConnection, _ engine: Engine) {
        nextTag += 1
        inFlight[nextTag] = r
        c.send(r, tag: nextTag, measured: false, nowNs: engine.nowNs)
    }
}

extension ScriptDriver {
    /// Accepts success and any of `tolerated` error codes.
    static func tolerating(_ tolerated: Set<ErrorCode>) -> ReplyHandler {
        return { request, header, _ in
            if header.err == 0 { return .done }
            if let code = header.errorCode, tolerated.contains(code) { return .done }
            return .failed("\(request.opCode) \(request.path ?? ""): \(ErrorCode.name(header.err))")
        }
    }
}

extension Request {
    /// The path the request names, for messages.
    var path: String? {
        switch self {
        case let .create(r), let .create2(r): return r.path
        case let .delete(r): return r.path
        case let .setData(r): return r.path
        case let .getData(r): return r.path
        case let .getChildren(r): return r.path
        default: return nil
        }
    }
}

extension ErrorCode {
    /// ZooKeeper's name-like spelling of a raw code (`noNode`), or `error <n>` for an unknown one.
    static func name(_ raw: Int32) -> String { ErrorCode(rawValue: raw).map { "\($0)" } ?? "error \(raw)" }
}
