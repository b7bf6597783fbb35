import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import WarrenCore
import WarrenServer

/// Where an HTTP handler gets its answers: the server's facts, taken on its core thread.
public protocol FactsSource: Sendable {
    func facts(_ detail: FactsDetail, deliver: @escaping @Sendable (ServerFacts) -> Void)
    /// Resets statistics before any `facts` asked for after this call.
    func resetStats(_ which: StatsReset)
    /// The committed tree as a snapshot file (name and bytes), for the `snapshot` command.
    func backupSnapshot(deliver: @escaping @Sendable (Result<(name: String, bytes: [UInt8]), Error>) -> Void)
}

extension ServerShell: FactsSource {}

/// What one listener serves.
struct AdminEndpoints: Sendable {
    /// nil: no command API on this listener.
    var commandURL: String?
    /// nil: no `/metrics` on this listener.
    var exporter: MetricsExporter?
    /// nil: the `snapshot` command is off.
    var snapshots: SnapshotGate? = nil
}

/// The `snapshot` command's rate limit, shared by every connection of a listener: at most one per interval
/// (monotonic), as ZooKeeper's `admin.snapshot.intervalInMS`.
// Sendable: `intervalNs` is immutable, `lastNs` read and written only under `lock`.
final class SnapshotGate: @unchecked Sendable {
    let intervalNs: UInt64
    private let lock = NIOLock()
    private var lastNs: UInt64?

    init(intervalMs: Int) { intervalNs = UInt64(intervalMs) * 1_000_000 }

    /// Whether a snapshot may be taken now (and, if so, counts it): nil, or the milliseconds until one may.
    func take() -> Int? {
        let now = DispatchTime.now().uptimeNanoseconds
        return lock.withLock {
            if let last = lastNs, now - last < intervalNs { return Int((intervalNs - (now - last)) / 1_000_000) + 1 }
            lastNs = now
            return nil
        }
    }
}

/// One HTTP/1.1 connection of the AdminServer or the metrics listener. Requests are answered in order (NIO's
/// pipelining handler holds later ones); a request body is read and dropped, never buffered, so a client cannot make
/// the server hold more than one request's headers. Malformed requests and oversized headers are answered by NIO's
/// protocol error handler (400) and the connection closed.
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: AdminEndpoints
    private let source: any FactsSource
    private let headerBytesMax: Int
    private var request: HTTPRequestHead?

    init(endpoints: AdminEndpoints, source: any FactsSource, headerBytesMax: Int) {
        self.endpoints = endpoints
        self.source = source
        self.headerBytesMax = headerBytesMax
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            answer(head, context: context)
        }
    }

    private func answer(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let headerBytes = head.uri.utf8.count + head.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
        if headerBytes > headerBytesMax {
            respond(context, head, .custom(code: 431, reasonPhrase: "Request Header Fields Too Large"), "text/plain; charset=utf-8", Array("request headers too large\n".utf8))
            return
        }
        let route = AdminRoute.route(method: head.method.rawValue, uri: head.uri, commandURL: endpoints.commandURL,
                                     metrics: endpoints.exporter != nil)
        switch route {
        case .notFound:
            respond(context, head, .notFound, "text/plain; charset=utf-8", Array("not found: \(head.uri)\n".utf8))
        case .methodNotAllowed:
            respond(context, head, .methodNotAllowed, "text/plain; charset=utf-8",
                    Array("HTTP method \(head.method.rawValue) is not supported by this URL\n".utf8),
                    extra: [("Allow", "GET, HEAD")])
        case .commandIndex:
            let base = endpoints.commandURL ?? ""
            let links = AdminCommands.all.map(\.primaryName).sorted()
                .map { "<a href=\"\(base)/\($0)\">\($0)</a>\n<br/>\n" }.joined()
            respond(context, head, .ok, "text/html; charset=utf-8", Array(links.utf8))
        case .command("snapshot"):
            snapshot(head, context: context)
        case .command(let name):
            guard let command = AdminCommands.named(name) else {
                respond(context, head, .ok, "application/json", Array(AdminCommands.unknown(name).text.utf8))
                return
            }
            if let reset = command.reset { source.resetStats(reset) }
            withFacts(command.detail, context: context) { handler, context, facts in
                handler.respond(context, head, .ok, "application/json", Array(command.response(facts).text.utf8))
            }
        case .metrics:
            guard let exporter = endpoints.exporter else { return }
            withFacts([], context: context) { handler, context, facts in
                handler.respond(context, head, .ok, "text/plain; version=0.0.4; charset=utf-8", exporter.render(facts))
            }
        }
    }

    /// ZooKeeper 3.9's `snapshot` command (`?streaming=true` or not, the same here): the committed tree as a snapshot
    /// file, `application/octet-stream`, its name in `Content-Disposition` and its zxid in `last_zxid` (as
    /// ZooKeeper's header). Off unless `admin.snapshot.enabled`; at most one per `admin.snapshot.intervalInMS`.
    private func snapshot(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard let gate = endpoints.snapshots else {
            respond(context, head, .forbidden, "application/json",
                    Array(#"{"command":"snapshot","error":"snapshot is disabled: set admin.snapshot.enabled=true"}"#.utf8))
            return
        }
        if let waitMs = gate.take() {
            respond(context, head, .tooManyRequests, "application/json",
                    Array(#"{"command":"snapshot","error":"at most one snapshot per admin.snapshot.intervalInMS"}"#.utf8),
                    extra: [("Retry-After", "\((waitMs + 999) / 1000)")])
            return
        }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        source.backupSnapshot { result in
            loop.execute {
                let (handler, context) = bound.value
                guard context.channel.isActive else { return }
                switch result {
                case .success(let file):
                    let zxid = file.name.split(separator: ".").last.map(String.init) ?? ""
                    handler.respond(context, head, .ok, "application/octet-stream", file.bytes,
                                    extra: [("Content-Disposition", "attachment; filename=\"\(file.name)\""),
                                            ("last_zxid", "0x\(zxid)")])
                case .failure(let error):
                    handler.respond(context, head, .internalServerError, "application/json",
                                    Array(#"{"command":"snapshot","error":"\#(error)"}"#.utf8))
                }
            }
        }
    }

    /// Asks the core for facts and continues on this connection's event loop.
    private func withFacts(_ detail: FactsDetail, context: ChannelHandlerContext,
                           _ then: @escaping (AdminHTTPHandler, ChannelHandlerContext, ServerFacts) -> Void) {
        // The handler, its context and the continuation belong to this event loop and are used only back on it.
        let bound = NIOLoopBound((self, context, then), eventLoop: context.eventLoop)
        let loop = context.eventLoop
        source.facts(detail) { facts in
            loop.execute {
                let (handler, context, then) = bound.value
                guard context.channel.isActive else { return }
                then(handler, context, facts)
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus,
                         _ contentType: String, _ body: [UInt8], extra: [(String, String)] = []) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", "\(body.count)")] + extra)
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let head = HTTPResponseHead(version: request.version, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlushPromise()
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if !keepAlive {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
