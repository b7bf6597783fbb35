import ArgumentParser
import Foundation
import WarrenClient
import WarrenRecipes

// The `warren recipe` subcommands other than the locks: leader election, service discovery, the double barrier
// and the queue.

struct LeaderRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "leader",
        abstract: "Join a LeaderLatch-compatible election; log when elected, then lead until killed.")
    @OptionGroup var options: RecipeOptions
    @Argument var path: String
    @Option var id: String
    @Option var log: String

    func run() throws {
        let (path, id, log) = (path, id, log)
        try options.run { client in
            let latch = LeaderLatch(client: client, path: path, id: id)
            let events = latch.leadershipEvents()
            try await latch.start()
            for await event in events {
                try appendLog(log, "\(event == .elected ? "elected" : "lost") \(id)")
                print(event == .elected ? "elected" : "lost")
                StandardOutput.flush()
                if event == .lost { throw RecipeCommandError("leadership lost") }
            }
        }
    }
}

struct RegisterRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "register", abstract: "Register a service instance; stay registered until stdin ends.")
    @OptionGroup var options: RecipeOptions
    @Argument var basePath: String
    @Argument var service: String
    @Argument var id: String
    @Argument var port: Int
    @Option var payload = "from-swift"

    func run() throws {
        let instance = ServiceInstance(name: service, id: id, address: "127.0.0.1", port: port, payload: payload)
        let basePath = basePath
        try options.run { client in
            try await ServiceDiscovery(client: client, basePath: basePath).register(instance)
            print("registered")
            StandardOutput.flush()
            while readLine() != nil {}
        }
    }
}

struct DiscoverRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "discover", abstract: "Print the instances of a service, one line each.")
    @OptionGroup var options: RecipeOptions
    @Argument var basePath: String
    @Argument var service: String

    func run() throws {
        let (basePath, service) = (basePath, service)
        try options.run { client in
            for i in try await ServiceDiscovery(client: client, basePath: basePath).instances(of: service) {
                print("instance \(i.id) \(i.address ?? "null") \(i.port.map(String.init) ?? "null") "
                      + "\(i.payload ?? "null") \(i.serviceType.rawValue)")
            }
        }
    }
}

struct DoubleBarrierRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbarrier", abstract: "Enter and leave a DistributedDoubleBarrier-compatible barrier, logged.")
    @OptionGroup var options: RecipeOptions
    @Argument var path: String
    @Argument var members: Int
    @Argument var id: String
    @Option var log: String

    func run() throws {
        let (path, members, id, log, waitMs) = (path, members, id, log, options.waitMs)
        try options.run { client in
            let barrier = DoubleBarrier(client: client, path: path, memberCount: members)
            guard try await barrier.enter(timeoutMs: waitMs) else { throw RecipeCommandError("enter timed out") }
            try appendLog(log, "entered \(id)")
            guard try await barrier.leave(timeoutMs: waitMs) else { throw RecipeCommandError("leave timed out") }
            try appendLog(log, "left \(id)")
            print("done")
        }
    }
}

struct QueuePutRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-put", abstract: "Put one UTF-8 item on a DistributedQueue-compatible queue.")
    @OptionGroup var options: RecipeOptions
    @Argument var path: String
    @Argument var item: String

    func run() throws {
        let (path, item) = (path, item)
        try options.run { client in
            print(try await DistributedQueue(client: client, path: path).put(Array(item.utf8)))
        }
    }
}

struct QueueTakeRecipe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-take", abstract: "Take items from a DistributedQueue-compatible queue, one line each.")
    @OptionGroup var options: RecipeOptions
    @Argument var path: String
    @Option var count = 1

    func run() throws {
        let (path, count, waitMs) = (path, count, options.waitMs)
        try options.run { client in
            let queue = DistributedQueue(client: client, path: path)
            for _ in 0..<count {
                guard let item = try await queue.take(timeoutMs: waitMs) else {
                    throw RecipeCommandError("queue empty")
                }
                print("item \(String(decoding: item, as: UTF8.self))")
            }
        }
    }
}
