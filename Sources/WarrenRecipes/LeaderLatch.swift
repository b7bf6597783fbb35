import WarrenClient

/// A change of a `LeaderLatch`'s leadership.
public enum LeadershipEvent: Equatable, Sendable {
    case elected
    /// Leadership ended: the session expired, the client stopped, our node was deleted, or `close` was called.
    case lost
}

/// Leader election in the layout of Curator's `LeaderLatch`: every participant is an ephemeral sequential node
/// `<path>/_c_<uuid>-latch-<seq>` holding its id; the lowest sequence leads and every other participant watches
/// its predecessor only.
///
/// Contract: leadership lasts until `close`, until the session expires (`.lost`, then the event stream ends: the
/// client is gone, make a new one), or until someone deletes our node (`.lost`, then the latch re-joins at the end
/// of the line). A dropped connection is not a loss (Curator's session-based error policy, not its default one
/// that also steps down on a suspended connection): while disconnected a leader cannot know whether it still
/// leads, so work that must never overlap should also use a lock or a version check.
public actor LeaderLatch {
    static let marker = "latch-"

    public nonisolated let path: String
    public nonisolated let id: String
    nonisolated let client: ZooKeeperClient
    private let events = Broadcast<LeadershipEvent>(replayLast: true)
    private var node: ContenderNode?
    private var runner: Task<Void, Never>?
    public private(set) var isLeader = false
    private var closed = false

    public init(client: ZooKeeperClient, path: String, id: String) {
        self.client = client
        self.path = path
        self.id = id
    }

    /// Joins the election; returns once our node exists. Leadership comes later, as an event.
    public func start() async throws {
        guard runner == nil, !closed else { return }
        node = try await join()
        runner = Task { await self.run() }
    }

    /// Leadership changes, starting with the current state if it was ever elected (the last event is replayed).
    public nonisolated func leadershipEvents() -> AsyncStream<LeadershipEvent> { events.stream() }

    /// Waits until this participant leads, at most `timeoutMs` (nil: without limit); false on timeout or if the
    /// latch ended first.
    public func awaitLeadership(timeoutMs: Int64? = nil) async throws -> Bool {
        if isLeader { return true }
        let stream = events.stream()
        let deadline = timeoutMs.map(Deadline.after(ms:))
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in stream where event == .elected { return true }
                return false
            }
            if let deadline {
                group.addTask {
                    try await Task.sleep(until: deadline.instant, clock: .continuous)
                    return false
                }
            }
            let first = try await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// The ids of all participants, leader first.
    public func participants() async throws -> [String] {
        let children = try await Retrying.run { try await client.getChildren(path) }
        var ids: [String] = []
        for name in ContenderOrder.contenders(children, markers: [Self.marker]) {
            // A participant that left between the listing and this read is not counted.
            if let data = try? await client.getData(childPath(path, name)).data {
                ids.append(String(decoding: data, as: UTF8.self))
            }
        }
        return ids
    }

    /// Leaves the election (deleting our node) and ends the event stream.
    public func close() async throws {
        closed = true
        runner?.cancel()
        runner = nil
        let held = node
        node = nil
        setLeader(false)
        events.finish()
        if let held { try await held.delete(client: client) }
    }

    private func run() async {
        while !Task.isCancelled, !closed {
            do {
                try await step()
            } catch is CancellationError {
                return
            } catch RecipeError.sessionLost {
                setLeader(false)
                events.finish()
                return
            } catch {
                // Anything else (a retry bound reached, a node deleted under us) gets another look shortly.
                try? await Task.sleep(for: .milliseconds(Retrying.pauseMs))
            }
        }
    }

    /// One look at the participants, then a wait for the change that matters to us.
    private func step() async throws {
        guard let ours = node else {
            let joined = try await join()
            // `close` may have run while we were creating the node: it must not outlive the latch.
            if closed { try await joined.delete(client: client) } else { node = joined }
            return
        }
        let children = try await Retrying.run { try await client.getChildren(path) }
        let decision = ContenderOrder.exclusive(
            sorted: ContenderOrder.sorted(children, markers: [Self.marker]), ours: ours.name)
        let watched: String
        switch decision {
        case .acquired:
            setLeader(true)
            watched = ours.path
        case let .watch(sibling):
            setLeader(false)
            watched = childPath(path, sibling)
        case .missing:
            setLeader(false)
            node = nil
            return
        }
        _ = try await awaitChange(of: watched, client: client, until: nil)
    }

    private func join() async throws -> ContenderNode {
        try await ContenderNode.create(client: client, parent: path, marker: Self.marker, data: Array(id.utf8))
    }

    private func setLeader(_ leader: Bool) {
        guard leader != isLeader else { return }
        isLeader = leader
        events.yield(leader ? .elected : .lost)
    }
}
