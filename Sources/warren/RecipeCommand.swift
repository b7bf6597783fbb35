import ArgumentParser
import Foundation
import Logging
import WarrenClient
import WarrenRecipes

/// `warren recipe`: drives the WarrenRecipes recipes from a process of their own, for the interop tests that mix
/// Swift, Curator and kazoo participants. Diagnostic, hidden from help.
struct RecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recipe", abstract: "Run one coordination recipe (diagnostic).", shouldDisplay: false,
        subcommands: [LockRecipe.self, ReadWriteRecipe.self, LeaderRecipe.self, RegisterRecipe.self,
                      DiscoverRecipe.self, DoubleBarrierRecipe.self, QueuePutRecipe.self, QueueTakeRecipe.self])
}

/// What every recipe subcommand takes: the servers and how long to wait for anything.
struct RecipeOptions: ParsableArguments {
    @Option(name: .long, help: "host:port[,host:port...][/chroot] of the servers.")
    var server: String = "localhost:2181"

    @Option(name: .long, help: "Session timeout in milliseconds.")
    var sessionTimeoutMs: Int32 = 10_000

    @Option(name: .long, help: "How long one acquire or barrier wait may take, in milliseconds.")
    var waitMs: Int64 = 60_000

    /// Connects, runs `body`, closes; a failure is printed and exits with status 1.
    func run(_ body: @escaping @Sendable (ZooKeeperClient) async throws -> Void) throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let config = ZooKeeperClient.Configuration(sessionTimeoutMs: sessionTimeoutMs)
        let server = self.server
        let failure: String? = blockingAwait {
            do {
                let client = try await ZooKeeperClient.connect(server, configuration: config)
                do {
                    try await body(client)
                } catch {
                    await client.close()
                    return "\(error)"
                }
                await client.close()
                return nil
            } catch {
                return "cannot connect to \(server): \(error)"
            }
        }
        if let failure {
            FileHandle.standardError.write(Data("recipe failed: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Appends `line` and a wall-clock timestamp to the shared log. O_APPEND keeps the lines of concurrent writers
/// whole, and their order in the file is the order the writes happened.
func appendLog(_ file: String, _ line: String) throws {
    let fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { throw RecipeCommandError("cannot open \(file): errno \(errno)") }
    defer { close(fd) }
    let bytes = Array("\(line) \(Int64(Date().timeIntervalSince1970 * 1000))\n".utf8)
    guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
        throw RecipeCommandError("short write to \(file)")
    }
}

struct RecipeCommandError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Takes the lock, logs "enter", holds it for `holdMs` and then until `holdUntil` exists (if given, polled; at
/// most `waitMs`), logs "exit" and releases it.
func logCriticalSection(_ lock: DistributedLock, _ kind: String, log: String, label: String, holdMs: Int64,
                        holdUntil: String?, waitMs: Int64) async throws {
    guard try await lock.acquire(timeoutMs: waitMs) else { throw RecipeCommandError("lock\(kind) timed out") }
    try appendLog(log, "enter\(kind) \(label)")
    try await Task.sleep(for: .milliseconds(holdMs))
    if let holdUntil { try await waitForFile(holdUntil, waitMs: waitMs) }
    try appendLog(log, "exit\(kind) \(label)")
    try await lock.release()
}

/// Polls for `path` (another process's signal) for at most `waitMs`.
func waitForFile(_ path: String, waitMs: Int64) async throws {
    let deadline = Deadline.after(ms: waitMs)
    while !FileManager.default.fileExists(atPath: path) {
        if deadline.hasPassed { throw RecipeCommandError("\(path) did not appear") }
        try await Task.sleep(for: .milliseconds(20))
    }
}

struct LockRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Take an InterProcessMutex-compatible lock repeatedly, logging each hold.")
    @OptionGroup var options: RecipeOptions
    @Argument var path: String
    @Option var rounds = 1
    @Option var holdMs: Int64 = 0
    @Option(help: "After hold-ms, also hold until this file exists.") var holdUntil: String?
    @Option(help: "Once connected, print \"ready\" and wait for this file before the first round.")
    var startWhen: String?
    @Option var log: String
    @Option var label = "swift"

    func run() throws {
        let (path, rounds, holdMs, log, label, waitMs) = (path, rounds, holdMs, log, label, options.waitMs)
        let (holdUntil, startWhen) = (holdUntil, startWhen)
        try options.run { client in
            let lock = DistributedLock(client: client, path: path, data: Array(label.utf8))
            if let startWhen {
                print("ready")
                StandardOutput.flush()
                try await waitForFile(startWhen, waitMs: waitMs)
            }
            for _ in 0..<rounds {
                try await logCriticalSection(lock, "", log: log, label: label, holdMs: holdMs, holdUntil: holdUntil,
                                             waitMs: waitMs)
            }
            print("done \(rounds)")
        }
    }
}

struct ReadWriteRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rw", abstract: "Hold the read or write side of an InterProcessReadWriteLock once, logged.")
    @OptionGroup var options: RecipeOptions
    @Argument var path: String
    @Argument(help: "read or write") var side: String
    @Option var holdMs: Int64 = 0
    @Option(help: "After hold-ms, also hold until this file exists.") var holdUntil: String?
    @Option var log: String
    @Option var label = "swift"

    func run() throws {
        let holdUntil = holdUntil
        guard side == "read" || side == "write" else { throw ValidationError("side must be read or write") }
        let (path, side, holdMs, log, label, waitMs) = (path, side, holdMs, log, label, options.waitMs)
        try options.run { client in
            let rw = ReadWriteLock(client: client, path: path)
            try await logCriticalSection(side == "read" ? rw.readLock : rw.writeLock, "-" + side, log: log,
                                         label: label, holdMs: holdMs, holdUntil: holdUntil, waitMs: waitMs)
            print("done")
        }
    }
}
