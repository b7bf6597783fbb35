import WarrenClient
import WarrenJute

/// How recipes ride out a dropped connection. The client reconnects with the same session by itself, so an
/// operation that failed with `connectionLoss` is tried again; only an expired session ends a recipe
/// (`RecipeError.sessionLost`). Retries stop at the caller's deadline or after `attemptsMax`, whichever comes first.
enum Retrying {
    static let attemptsMax = 100
    static let pauseMs: Int64 = 100

    /// Runs `body` until it does not fail with `connectionLoss`. Operations that may have happened before the
    /// connection dropped must be safe to repeat (creates that tolerate `nodeExists`, deletes that tolerate
    /// `noNode`), or be found again afterwards (protected contender nodes).
    /// Runs in the caller's isolation (`#isolation`), so `body` may use the calling recipe's state.
    static func run<T>(until deadline: Deadline? = nil, isolation: isolated (any Actor)? = #isolation,
                       _ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let error as ZooKeeperError where error.code == .connectionLoss {
                if attempt >= attemptsMax { throw RecipeError.limitReached("connection loss retries \(attemptsMax)") }
                if let deadline, deadline.hasPassed { throw error }
                try await Task.sleep(for: .milliseconds(pauseMs))
            } catch let error as ZooKeeperError where error.code == .sessionExpired {
                throw RecipeError.sessionLost
            }
        }
    }
}

extension ZooKeeperClient {
    /// Creates `path`'s missing ancestors (not `path` itself) as persistent nodes; others may race us to them.
    func createParents(of path: String) async throws {
        var prefix = ""
        for part in path.split(separator: "/").dropLast() {
            prefix += "/" + part
            try await createIfMissing(prefix)
        }
    }

    /// Creates `path` and its ancestors as persistent nodes if they do not exist yet.
    func createPath(_ path: String) async throws {
        try await createParents(of: path)
        try await createIfMissing(path)
    }

    private func createIfMissing(_ path: String) async throws {
        try await Retrying.run {
            do {
                try await create(path)
            } catch let error as ZooKeeperError where error.code == .nodeExists {
            }
        }
    }

    /// Deletes `path` if it exists; a node already gone is not an error.
    func deleteIfExists(_ path: String) async throws {
        try await Retrying.run {
            do {
                try await delete(path)
            } catch let error as ZooKeeperError where error.code == .noNode {
            }
        }
    }

    /// Runs `create`, first creating the parents if the parent is missing.
    func creatingParents<T>(of path: String, isolation: isolated (any Actor)? = #isolation,
                            _ create: () async throws -> T) async throws -> T {
        do {
            return try await create()
        } catch let error as ZooKeeperError where error.code == .noNode {
            try await createParents(of: path)
            return try await create()
        }
    }
}

/// `parent` + "/" + `child`, with the root handled.
func childPath(_ parent: String, _ child: String) -> String {
    parent == "/" ? "/" + child : parent + "/" + child
}
