import WarrenClient

/// How one kind of lock names its nodes and who it lets in.
struct LockFlavor: Sendable {
    /// The text before the sequence number (`lock-`, `__READ__`, `__WRIT__`).
    let marker: String
    /// Every marker that orders siblings under the same lock path.
    let sortMarkers: [String]
    let decide: @Sendable ([String], String) async -> ContenderDecision

    /// Curator's InterProcessMutex: `_c_<uuid>-lock-<seq>`.
    static let mutex = exclusive(marker: "lock-", sortMarkers: ["lock-"])

    static func exclusive(marker: String, sortMarkers: [String]) -> LockFlavor {
        LockFlavor(marker: marker, sortMarkers: sortMarkers) { sorted, ours in
            ContenderOrder.exclusive(sorted: sorted, ours: ours)
        }
    }
}

/// An exclusive lock across processes, in the layout of Curator's `InterProcessMutex`, so that Swift and Java
/// holders of the same path exclude each other: each contender is an ephemeral sequential node
/// `<path>/_c_<uuid>-lock-<10-digit seq>`, the lowest sequence holds the lock, and each waiter watches only its
/// predecessor.
///
/// Contract:
/// - The instance is the owner. `acquire` while this instance holds the lock only counts (re-entrancy, as
///   Curator's mutex per thread); the lock is given up when `release` has been called as many times. Use one
///   instance per independent owner. A second `acquire` while one is still waiting throws `acquireInProgress`.
/// - A dropped connection is not a loss: the client reconnects with the same session and the node stays. An
///   expired session (or a closed client) is: `isLost` becomes true and `lostEvents()` fires.
/// - Cancelling the task of a waiting `acquire`, or its timeout, removes this contender's node.
/// - `release` deletes only this instance's own node, never another holder's.
public actor DistributedLock {
    public nonisolated let path: String
    nonisolated let client: ZooKeeperClient
    nonisolated let flavor: LockFlavor
    nonisolated let data: [UInt8]

    private var node: ContenderNode?
    /// How many `acquire`s are not yet matched by a `release`.
    public private(set) var holdCount = 0
    /// Whether the hold ended because the session did (until the next successful `acquire`).
    public private(set) var isLost = false
    private var acquiring = false
    private var lossMonitor: Task<Void, Never>?
    private var losses = Broadcast<Void>(replayLast: false)

    /// - Parameter data: stored in the contender node (Curator stores the host's address; anything goes).
    public init(client: ZooKeeperClient, path: String, data: [UInt8] = []) {
        self.init(client: client, path: path, flavor: .mutex, data: data)
    }

    init(client: ZooKeeperClient, path: String, flavor: LockFlavor, data: [UInt8]) {
        self.client = client
        self.path = path
        self.flavor = flavor
        self.data = data
    }

    public var isHeld: Bool { holdCount > 0 && !isLost }

    /// The path of this owner's node while it holds the lock.
    public var nodePath: String? { node?.path }

    /// Takes the lock, waiting at most `timeoutMs` milliseconds (nil: without limit).
    /// - Returns: true if held (count incremented), false on timeout (the contender node is removed).
    /// - Throws: `RecipeError.sessionLost` if the session ended, `CancellationError` if the task was cancelled
    ///   (the contender node is removed), `RecipeError.acquireInProgress`, or a `ZooKeeperError`.
    @discardableResult
    public func acquire(timeoutMs: Int64? = nil) async throws -> Bool {
        if holdCount > 0 && !isLost {
            holdCount += 1
            return true
        }
        guard !acquiring else { throw RecipeError.acquireInProgress }
        acquiring = true
        defer { acquiring = false }
        let deadline = timeoutMs.map(Deadline.after(ms:))
        let created = try await ContenderNode.create(client: client, parent: path, marker: flavor.marker, data: data)
        let admitted: Bool
        do {
            admitted = try await ContenderWait.untilAdmitted(
                client: client, parent: path, ours: created, markers: flavor.sortMarkers, deadline: deadline,
                decide: flavor.decide)
        } catch {
            await detached { [client] in try await created.delete(client: client) }
            throw error
        }
        guard admitted else {
            await detached { [client] in try await created.delete(client: client) }
            return false
        }
        node = created
        holdCount = 1
        isLost = false
        losses = Broadcast(replayLast: false)
        watchForLoss()
        return true
    }

    /// Gives up one hold; the last one deletes this owner's node.
    /// - Throws: `RecipeError.notHeld` without a hold; `RecipeError.sessionLost` if the hold had already been lost
    ///   (the critical section was not protected to its end).
    public func release() async throws {
        guard holdCount > 0 else { throw RecipeError.notHeld }
        holdCount -= 1
        if holdCount > 0 { return }
        let held = node
        node = nil
        lossMonitor?.cancel()
        lossMonitor = nil
        losses.finish()
        if isLost { throw RecipeError.sessionLost }
        if let held { try await held.delete(client: client) }
    }

    /// Fires once if the current hold is lost (session expired, client closed); ends without firing when the
    /// hold is released. Subscribe after `acquire`.
    public func lostEvents() -> AsyncStream<Void> { losses.stream() }

    private func watchForLoss() {
        let events = client.sessionEvents()
        lossMonitor = Task { [weak self] in
            // The stream ends only after a terminal event: expired, authFailed or closed.
            for await _ in events {}
            if Task.isCancelled { return }
            await self?.markLost()
        }
    }

    private func markLost() {
        guard holdCount > 0 else { return }
        isLost = true
        losses.yield(())
        losses.finish()
    }
}
