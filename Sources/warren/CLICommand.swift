import ArgumentParser
import Foundation
import Logging
import WarrenClient
import WarrenJute

/// `warren cli`: zkCli.sh's everyday commands. With a command after the options it runs that command and exits
/// (non-zero if it failed); without, it opens an interactive prompt.
struct CLICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cli",
        abstract: "A ZooKeeper command-line client (zkCli.sh's everyday commands).",
        discussion: "Commands: ls, get, set, create, delete, deleteall, stat, getAcl, setAcl, addauth, sync, "
            + "getEphemerals, getAllChildrenNumber, addWatch, removewatches, whoami, history, quit, help.")

    @Option(name: .customLong("server", withSingleDash: true),
            help: "host:port[,host:port...][/chroot] of the servers.")
    var server: String = "localhost:2181"

    @Option(name: .customLong("timeout", withSingleDash: true), help: "Session timeout in milliseconds.")
    var timeout: Int32 = 30_000

    @Argument(parsing: .allUnrecognized, help: "A command and its arguments; none for a prompt.")
    var command: [String] = []

    func run() throws {
        // Only the client's own warnings and worse; the CLI's output is the commands'.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .error
            return handler
        }
        let server = self.server
        let config = ZooKeeperClient.Configuration(
            sessionTimeoutMs: max(1, timeout), initialConnectTimeoutMs: Int64(max(1, timeout)))
        let connected: Result<ZooKeeperClient, Error> = blockingAwait {
            do {
                return .success(try await ZooKeeperClient.connect(server, configuration: config))
            } catch {
                return .failure(error)
            }
        }
        let client: ZooKeeperClient
        switch connected {
        case let .success(c): client = c
        case let .failure(error):
            writeError("Unable to connect to \(server): \(CLIFormat.error(error))")
            throw ExitCode(1)
        }
        let shell = CLIShell(client: client, out: { print($0) }, err: writeError)
        defer { blockingAwait { await client.close() } }

        if !command.isEmpty {
            let words = command
            let ok = blockingAwait { await shell.execute(words) }
            if !ok { throw ExitCode(1) }
            return
        }
        runInteractive(shell, client: client)
    }

    private func runInteractive(_ shell: CLIShell, client: ZooKeeperClient) {
        let watchPrinter = Task {
            for await event in client.watchEvents() {
                print("\nWATCHER::\n\nWatchedEvent state:\(javaName(event.state)) type:\(javaName(event.type)) "
                      + "path:\(event.path)")
                StandardOutput.flush()
            }
        }
        let home = ProcessInfo.processInfo.environment["HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        let historyFile = home.appendingPathComponent(".warren_cli_history")
        let reader = CLILineReader(historyFile: historyFile)
        var count = reader.history.count
        while !shell.quitRequested {
            let prompt = "[zk: \(server)(\(stateName(client.state))) \(count)] "
            guard let line = reader.readLine(prompt: prompt) else { break }
            let words = splitCommandLine(line)
            if words.isEmpty { continue }
            count += 1
            shell.history = reader.history
            _ = blockingAwait { await shell.execute(words) }
            StandardOutput.flush()
        }
        // Closing ends the watch stream; the printer drains what already arrived before the prompt goes away.
        blockingAwait {
            await client.close()
            await watchPrinter.value
        }
        StandardOutput.flush()
    }
}

private func writeError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Runs `body` on the concurrency pool and blocks this (non-async) thread until it finishes.
func blockingAwait<T>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = CLIResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

final class CLIResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// zkCli's state names in the prompt.
private func stateName(_ state: ConnectionState) -> String {
    switch state {
    case .connecting: return "CONNECTING"
    case .connected: return "CONNECTED"
    case .connectedReadOnly: return "CONNECTEDREADONLY"
    case .closing: return "CLOSING"
    case .expired: return "EXPIRED"
    case .authFailed: return "AUTH_FAILED"
    case .closed: return "CLOSED"
    }
}

/// The names ZooKeeper's Java enums print.
private func javaName(_ state: KeeperState) -> String {
    switch state {
    case .disconnected: return "Disconnected"
    case .syncConnected: return "SyncConnected"
    case .authFailed: return "AuthFailed"
    case .connectedReadOnly: return "ConnectedReadOnly"
    case .saslAuthenticated: return "SaslAuthenticated"
    case .expired: return "Expired"
    case .closed: return "Closed"
    }
}

private func javaName(_ type: EventType) -> String {
    switch type {
    case .none: return "None"
    case .nodeCreated: return "NodeCreated"
    case .nodeDeleted: return "NodeDeleted"
    case .nodeDataChanged: return "NodeDataChanged"
    case .nodeChildrenChanged: return "NodeChildrenChanged"
    case .dataWatchRemoved: return "DataWatchRemoved"
    case .childWatchRemoved: return "ChildWatchRemoved"
    case .persistentWatchRemoved: return "PersistentWatchRemoved"
    }
}
