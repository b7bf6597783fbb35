import Foundation

/// Runs async bodies one at a time, in the order `run` was called: each starts once the previous one ended.
final class SerialTasks: @unchecked Sendable {
    private let lock = NSLock()
    private var tail: Task<Void, Never>?

    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let task: Task<T, Error> = lock.withLock {
            let previous = tail
            let next = Task { _ = await previous?.value; return try await body() }
            tail = Task { _ = try? await next.value }
            return next
        }
        return try await task.value
    }
}
