import WarrenClient

/// The waiting half of the lock-like recipes: look at the siblings, and either hold, or watch the one sibling the
/// rule names and look again when it changes. Only that sibling is watched, so a release wakes one waiter, not
/// the herd.
enum ContenderWait {
    /// Returns true once `decide` admits `ours`, false if `deadline` passes first.
    /// - Throws: `RecipeError.nodeMissing` if our node vanished, `RecipeError.sessionLost` if the client stopped,
    ///   `CancellationError` if the calling task was cancelled. The caller removes its node in every case but
    ///   success.
    static func untilAdmitted(
        client: ZooKeeperClient, parent: String, ours: ContenderNode, markers: [String], deadline: Deadline?,
        decide: ([String], String) async -> ContenderDecision
    ) async throws -> Bool {
        while true {
            try Task.checkCancellation()
            let children = try await Retrying.run(until: deadline) { try await client.getChildren(parent) }
            switch await decide(ContenderOrder.sorted(children, markers: markers), ours.name) {
            case .acquired:
                return true
            case .missing:
                throw RecipeError.nodeMissing(ours.path)
            case let .watch(sibling):
                if let deadline, deadline.hasPassed { return false }
                if try await awaitChange(of: childPath(parent, sibling), client: client, until: deadline) == .timedOut {
                    return false
                }
            }
        }
    }
}

/// What `awaitChange` saw.
enum NodeChange: Equatable {
    /// The node did not exist (no wait happened).
    case absent
    /// The watch fired: the node changed or went away.
    case changed
    case timedOut
}

/// Sets an exists watch on `path` and waits for it to fire, at most until `deadline`.
/// - Throws: `RecipeError.sessionLost` if the client stops while waiting, `CancellationError`.
func awaitChange(of path: String, client: ZooKeeperClient, until deadline: Deadline?) async throws -> NodeChange {
    // Subscribe before setting the watch, so that the event cannot slip between the two.
    let events = client.watchEvents(path: path)
    let stat = try await Retrying.run(until: deadline) { try await client.exists(path, watch: true) }
    if stat == nil { return .absent }
    switch try await waitForWake(events, until: deadline) {
    case .event: return .changed
    case .timedOut: return .timedOut
    case .clientStopped: throw RecipeError.sessionLost
    }
}

/// Runs `body` in a task of its own, so that clean-up still reaches the server when the caller's task was
/// cancelled (a cancelled task's sleeps and checks would stop it half-way).
func detached(_ body: @escaping @Sendable () async throws -> Void) async {
    await Task { try? await body() }.value
}
