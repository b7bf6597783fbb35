import WarrenJute

/// The znode operations. Every path is the caller's (chroot not included) and is validated before sending; a
/// failure throws `ZooKeeperError` carrying the server's code and the path.
extension ZooKeeperClient {
    /// Creates a node and returns its actual path (with the sequence suffix for sequential modes).
    /// - Parameter ttl: milliseconds, required (> 0) for the TTL modes, which need a server with extended types.
    @discardableResult
    public func create(
        _ path: String, data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent,
        ttl: Int64? = nil
    ) async throws -> String {
        if !mode.isTTL && !mode.isContainer {
            let request = CreateRequest(path: try serverPath(path, isSequential: mode.isSequential), data: data,
                                        acl: acl, mode: mode)
            let response = try await execute(.create(request), clientPath: path)
            guard case let .create(r) = response else { throw unexpected(response, path: path) }
            return clientPath(r.path)
        }
        return try await createWithStat(path, data: data, acl: acl, mode: mode, ttl: ttl).path
    }

    /// Creates a node (create2) and returns its actual path and its new `Stat`.
    public func createWithStat(
        _ path: String, data: [UInt8]? = [], acl: [ACL] = ACL.openUnsafe, mode: CreateMode = .persistent,
        ttl: Int64? = nil
    ) async throws -> (path: String, stat: Stat) {
        let server = try serverPath(path, isSequential: mode.isSequential)
        let request: Request
        if mode.isTTL {
            guard let ttl, ttl > 0 else {
                throw ZooKeeperError(.badArguments, path: path, message: "TTL modes need a ttl > 0")
            }
            request = .createTTL(CreateTTLRequest(path: server, data: data, acl: acl, flags: mode.rawValue, ttl: ttl))
        } else if mode.isContainer {
            request = .createContainer(CreateRequest(path: server, data: data, acl: acl, mode: mode))
        } else {
            request = .create2(CreateRequest(path: server, data: data, acl: acl, mode: mode))
        }
        let response = try await execute(request, clientPath: path)
        guard case let .create2(r) = response else { throw unexpected(response, path: path) }
        return (clientPath(r.path), r.stat)
    }

    /// Deletes a node if its version is `version` (-1: any).
    public func delete(_ path: String, version: Int32 = -1) async throws {
        _ = try await execute(.delete(DeleteRequest(path: try serverPath(path), version: version)), clientPath: path)
    }

    /// The node's `Stat`, or nil if it does not exist. With `watch`, leaves a watch that fires when the node is
    /// created, changed or deleted.
    public func exists(_ path: String, watch: Bool = false) async throws -> Stat? {
        let request = ExistsRequest(path: try serverPath(path), watch: watch)
        do {
            let response = try await execute(.exists(request), clientPath: path, watch: watch ? .exists(path) : nil)
            guard case let .exists(r) = response else { throw unexpected(response, path: path) }
            return r.stat
        } catch let error as ZooKeeperError where error.code == .noNode {
            return nil
        }
    }

    /// The node's data (nil if it was created with null data) and `Stat`. With `watch`, leaves a data watch.
    public func getData(_ path: String, watch: Bool = false) async throws -> (data: [UInt8]?, stat: Stat) {
        let request = GetDataRequest(path: try serverPath(path), watch: watch)
        let response = try await execute(.getData(request), clientPath: path, watch: watch ? .data(path) : nil)
        guard case let .getData(r) = response else { throw unexpected(response, path: path) }
        return (r.data, r.stat)
    }

    /// Replaces the node's data if its version is `version` (-1: any); returns the new `Stat`.
    @discardableResult
    public func setData(_ path: String, data: [UInt8]?, version: Int32 = -1) async throws -> Stat {
        let request = SetDataRequest(path: try serverPath(path), data: data, version: version)
        let response = try await execute(.setData(request), clientPath: path)
        guard case let .setData(r) = response else { throw unexpected(response, path: path) }
        return r.stat
    }

    public func getACL(_ path: String) async throws -> (acl: [ACL], stat: Stat) {
        let response = try await execute(.getACL(GetACLRequest(path: try serverPath(path))), clientPath: path)
        guard case let .getACL(r) = response else { throw unexpected(response, path: path) }
        return (r.acl, r.stat)
    }

    /// Replaces the node's ACL if its ACL version is `version` (-1: any); returns the new `Stat`.
    @discardableResult
    public func setACL(_ path: String, acl: [ACL], version: Int32 = -1) async throws -> Stat {
        let request = SetACLRequest(path: try serverPath(path), acl: acl, version: version)
        let response = try await execute(.setACL(request), clientPath: path)
        guard case let .setACL(r) = response else { throw unexpected(response, path: path) }
        return r.stat
    }

    /// The names of the node's children, in the server's order. With `watch`, leaves a child watch.
    public func getChildren(_ path: String, watch: Bool = false) async throws -> [String] {
        let request = GetChildrenRequest(path: try serverPath(path), watch: watch)
        let response = try await execute(.getChildren(request), clientPath: path, watch: watch ? .child(path) : nil)
        guard case let .getChildren(r) = response else { throw unexpected(response, path: path) }
        return r.children
    }

    /// The children's names and the node's own `Stat` (getChildren2).
    public func getChildrenWithStat(_ path: String, watch: Bool = false) async throws -> (children: [String], stat: Stat) {
        let request = GetChildrenRequest(path: try serverPath(path), watch: watch)
        let response = try await execute(.getChildren2(request), clientPath: path, watch: watch ? .child(path) : nil)
        guard case let .getChildren2(r) = response else { throw unexpected(response, path: path) }
        return (r.children, r.stat)
    }

    /// The number of descendants of the node (not counting itself).
    public func getAllChildrenNumber(_ path: String) async throws -> Int {
        let request = GetAllChildrenNumberRequest(path: try serverPath(path))
        let response = try await execute(.getAllChildrenNumber(request), clientPath: path)
        guard case let .getAllChildrenNumber(r) = response else { throw unexpected(response, path: path) }
        return Int(r.totalNumber)
    }

    /// The session's ephemeral nodes whose paths start with `prefixPath` (a plain string prefix, as ZooKeeper
    /// matches it), as the caller's paths.
    public func getEphemerals(_ prefixPath: String = "/") async throws -> [String] {
        let request = GetEphemeralsRequest(prefixPath: try serverPath(prefixPath))
        let response = try await execute(.getEphemerals(request), clientPath: prefixPath)
        guard case let .getEphemerals(r) = response else { throw unexpected(response, path: prefixPath) }
        return r.ephemerals.map(clientPath)
    }

    /// Waits until the connected server has applied everything the leader had committed when it got this.
    @discardableResult
    public func sync(_ path: String) async throws -> String {
        let response = try await execute(.sync(SyncRequest(path: try serverPath(path))), clientPath: path)
        guard case let .sync(r) = response else { throw unexpected(response, path: path) }
        return clientPath(r.path)
    }

    /// Succeeds if the node's version is `version` (-1: any).
    ///
    /// Sent as a one-op `multi`: ZooKeeper before 3.9 has no reply for a standalone check request.
    public func check(_ path: String, version: Int32) async throws {
        do {
            _ = try await multi { $0.check(path, version: version) }
        } catch var error as ZooKeeperError {
            error.multiResults = nil
            throw error
        }
    }

    /// Runs the ops `build` adds as one transaction and returns each op's result.
    /// - Throws: `ZooKeeperError` with the first failing op's code and path, and every op's result in
    ///   `multiResults`, if the transaction was rolled back.
    public func multi(_ build: (inout MultiBuilder) throws -> Void) async throws -> [OpResult] {
        var builder = MultiBuilder()
        try build(&builder)
        return try await multi(builder.ops)
    }

    /// Runs `ops` (with the caller's paths) as one transaction; see `multi(_:)`.
    public func multi(_ ops: [MultiOp]) async throws -> [OpResult] {
        if let read = ops.first(where: \.isRead) {
            throw ZooKeeperError(.badArguments, path: read.path, message: "read ops belong in multiRead")
        }
        let results = try await runMulti(ops, opCode: .multi)
        if let failing = results.firstIndex(where: { ($0.errorCode ?? .ok) != .ok }),
           let code = results[failing].errorCode
        {
            throw ZooKeeperError(code, path: ops[failing].path, multiResults: results)
        }
        return results
    }

    /// Runs read ops (`getData`, `getChildren`) together; each result is independent, so a failing read is an
    /// `.error` result rather than a thrown error.
    public func multiRead(_ build: (inout MultiBuilder) throws -> Void) async throws -> [OpResult] {
        var builder = MultiBuilder()
        try build(&builder)
        if let write = builder.ops.first(where: { !$0.isRead }) {
            throw ZooKeeperError(.badArguments, path: write.path, message: "only reads belong in multiRead")
        }
        return try await runMulti(builder.ops, opCode: .multiRead)
    }

    private func runMulti(_ ops: [MultiOp], opCode: OpCode) async throws -> [OpResult] {
        var serverOps: [MultiOp] = []
        for op in ops {
            try validatePath(op.path, isSequential: op.isSequentialCreate)
            serverOps.append(op.mappingPath(engine.chroot.serverPath))
        }
        let request: Request = opCode == .multi ? .multi(serverOps) : .multiRead(serverOps)
        let response = try await execute(request, clientPath: nil)
        guard case let .multi(results) = response else { throw unexpected(response, path: nil) }
        return results.map { OpResult($0, clientPath: clientPath) }
    }

    /// Adds a persistent watch (optionally recursive, covering every descendant) that stays until removed.
    public func addWatch(_ path: String, mode: AddWatchMode) async throws {
        let request = AddWatchRequest(path: try serverPath(path), mode: mode)
        let registration: WatchRegistration = mode == .persistent ? .persistent(path) : .persistentRecursive(path)
        _ = try await execute(.addWatch(request), clientPath: path, watch: registration)
    }

    /// Removes the session's watches of `type` on `path`. Subscribers then see `dataWatchRemoved`,
    /// `childWatchRemoved` or `persistentWatchRemoved` events for the kinds the client knew of.
    /// - Throws: `ZooKeeperError(.noWatcher)` if the server holds no such watch.
    public func removeWatches(_ path: String, type: WatcherType) async throws {
        let request = RemoveWatchesRequest(path: try serverPath(path), type: type)
        _ = try await execute(.removeWatches(request), clientPath: path)
        let engine = self.engine
        try await engine.loop.submit { engine.watchesRemoved(path: path, type: type) }.get()
    }

    /// Succeeds if the server holds a watch of `type` on `path` for this session.
    /// - Throws: `ZooKeeperError(.noWatcher)` otherwise.
    public func checkWatches(_ path: String, type: WatcherType) async throws {
        let request = CheckWatchesRequest(path: try serverPath(path), type: type)
        _ = try await execute(.checkWatches(request), clientPath: path)
    }

    /// The identities the session is authenticated as (ZooKeeper 3.9+; older servers answer `unimplemented`).
    public func whoAmI() async throws -> [ClientInfo] {
        let response = try await execute(.whoAmI, clientPath: nil)
        guard case let .whoAmI(r) = response else { throw unexpected(response, path: nil) }
        return r.clientInfo
    }
}
