import WarrenJute

/// Setup and cleanup of the bench tree, and opening the sessions a phase uses.
///
/// The tree: `root/keys/k<i>` or `root/keys/d<j>/k<i>` (the K keys, see `BenchConfig.keysPerDir`), `root/seq` (create-seq), `root/churn` (churn), `root/fanout`
/// (watch-fanout). Setup tolerates a tree left by an interrupted run: existing keys get their value rewritten.
enum Phases {
    /// Opens `count` sessions spread round-robin over `config.hosts`, numbered from `firstIndex`. Failures are
    /// returned, not thrown; the caller decides whether too few opened.
    static func open(_ count: Int, _ config: BenchConfig, firstIndex: Int = 0) -> ([BenchConnection], [String]) {
        var conns: [BenchConnection] = []
        var errors: [String] = []
        for i in 0..<count {
            let target = config.hosts[(firstIndex + i) % config.hosts.count]
            do {
                conns.append(
                    try BenchConnection.open(
                        index: firstIndex + i, target: target, sessionTimeoutMs: config.sessionTimeoutMs))
            } catch {
                errors.append("\(error)")
            }
        }
        return (conns, errors)
    }

    @discardableResult
    static func runScript(
        _ requests: [Request], on conns: [BenchConnection], outstanding: Int, limitSeconds: Double,
        onReply: @escaping ScriptDriver.ReplyHandler
    ) -> ScriptDriver {
        let driver = ScriptDriver(requests, outstanding: outstanding, onReply: onReply)
        Engine(connections: conns, window: .unmeasured(limitSeconds: limitSeconds)).run(driver)
        return driver
    }

    /// Creates the tree and, if `withKeys`, the K keys with `config.valueBytes`-byte values.
    /// - Throws: `BenchError.setupFailed` with the first failures if any request failed or went unanswered.
    static func setup(_ config: BenchConfig, on conns: [BenchConnection], withKeys: Bool) throws {
        guard let first = conns.first else { throw BenchError.setupFailed("no connection") }
        let value = BenchValue.bytes(config.valueBytes, seed: 0)
        func create(_ path: String, _ data: [UInt8]) -> Request {
            .create(CreateRequest(path: path, data: data, acl: ACL.openUnsafe, mode: .persistent))
        }
        // One session answers in order, so parents pipelined before children exist in time.
        let dirs = [
            create(config.root, []), create(config.keysDir, []), create(config.seqDir, []),
            create(config.churnDir, []), create(config.fanoutPath, value),
        ]
        let tree = runScript(
            dirs, on: [first], outstanding: dirs.count, limitSeconds: 30, onReply: ScriptDriver.tolerating([.nodeExists]))
        try check(tree, "creating \(config.root)")
        guard withKeys else { return }
        try check(syncAll(conns, config.root), "syncing \(config.root) to every server")
        if !config.keyDirPaths.isEmpty {
            let made = runScript(
                config.keyDirPaths.map { create($0, []) }, on: conns, outstanding: max(config.outstanding, 16),
                limitSeconds: 120 + Double(config.keyDirPaths.count) / 500, onReply: ScriptDriver.tolerating([.nodeExists]))
            try check(made, "creating \(config.keyDirPaths.count) key directories")
            try check(syncAll(conns, config.root), "syncing the key directories to every server")
        }
        // Every key gets its own random value, so stored data does not compress better than real data would.
        let keys = config.keyPaths.enumerated().map { create($1, BenchValue.bytes(config.valueBytes, seed: UInt64($0) + 1)) }
        let loaded = runScript(
            keys, on: conns, outstanding: max(config.outstanding, 16), limitSeconds: 120 + Double(config.keys) / 500
        ) { request, header, _ in
            if header.err == 0 { return .done }
            if header.errorCode == .nodeExists, case let .create(c) = request {
                return .followUp(.setData(SetDataRequest(path: c.path, data: c.data, version: -1)))
            }
            return .failed("\(request.opCode) \(request.path ?? ""): \(ErrorCode.name(header.err))")
        }
        try check(loaded, "creating \(config.keys) keys")
    }

    /// One `sync` per connection: in an ensemble, each connection's server has then seen every change made before
    /// through any other server (a follower may lag otherwise, and a create under a parent it has not applied yet
    /// fails with noNode).
    @discardableResult
    static func syncAll(_ conns: [BenchConnection], _ path: String) -> ScriptDriver {
        let syncs = conns.map { _ in Request.sync(SyncRequest(path: path)) }
        return runScript(syncs, on: conns, outstanding: 1, limitSeconds: 30, onReply: ScriptDriver.tolerating([]))
    }

    private static func check(_ script: ScriptDriver, _ what: String) throws {
        guard script.unfinished == 0 else {
            let detail = script.failures.isEmpty ? "no answer (connection lost or timed out)" : script.failures.joined(separator: "; ")
            throw BenchError.setupFailed("\(what): \(script.unfinished) requests failed: \(detail)")
        }
    }

    /// Deletes the keys (if `withKeys`), `created` (znodes a workload made), whatever else is under the seq and churn directories,
    /// and the tree itself. Returns notes about anything left behind; never throws, as the measurement is done.
    static func cleanup(_ config: BenchConfig, on conns: [BenchConnection], withKeys: Bool, created: [String]) -> [String] {
        guard let first = conns.first else { return ["cleanup skipped: no connection"] }
        var notes: [String] = []
        let limit = 120 + Double(config.keys + created.count) / 500
        func delete(_ paths: [String]) -> [Request] { paths.map { .delete(DeleteRequest(path: $0, version: -1)) } }
        let outstanding = max(config.outstanding, 16)
        let known = runScript(
            delete((withKeys ? config.keyPaths : []) + created), on: conns, outstanding: outstanding, limitSeconds: limit,
            onReply: ScriptDriver.tolerating([.noNode]))
        if known.unfinished > 0 { notes.append("cleanup: \(known.unfinished) deletes failed: \(known.failures)") }

        var stragglers: [String] = []
        let listing = [config.seqDir, config.churnDir].map { Request.getChildren(GetChildrenRequest(path: $0, watch: false)) }
        runScript(listing, on: [first], outstanding: 2, limitSeconds: 60) { request, header, body in
            guard header.err == 0, let parent = request.path, let response = try? GetChildrenResponse(from: &body)
            else { return .done }
            stragglers += response.children.map { parent + "/" + $0 }
            return .done
        }
        if !stragglers.isEmpty {
            let swept = runScript(
                delete(stragglers), on: conns, outstanding: outstanding, limitSeconds: limit,
                onReply: ScriptDriver.tolerating([.noNode]))
            if swept.unfinished > 0 { notes.append("cleanup: \(swept.unfinished) of \(stragglers.count) stragglers left") }
        }

        let synced = syncAll(conns, config.root)
        if synced.unfinished > 0 { notes.append("cleanup: sync failed: \(synced.failures)") }
        if withKeys && !config.keyDirPaths.isEmpty {
            let emptied = runScript(
                delete(config.keyDirPaths), on: conns, outstanding: outstanding, limitSeconds: limit,
                onReply: ScriptDriver.tolerating([.noNode]))
            if emptied.unfinished > 0 { notes.append("cleanup: \(emptied.unfinished) key directories left") }
            let resynced = syncAll(conns, config.root)
            if resynced.unfinished > 0 { notes.append("cleanup: sync failed: \(resynced.failures)") }
        }
        let dirs = [config.fanoutPath, config.seqDir, config.churnDir, config.keysDir, config.root]
        let tree = runScript(
            delete(dirs), on: [first], outstanding: dirs.count, limitSeconds: 30,
            onReply: ScriptDriver.tolerating([.noNode]))
        if tree.unfinished > 0 { notes.append("cleanup: \(config.root) not fully removed: \(tree.failures)") }
        return notes
    }
}
