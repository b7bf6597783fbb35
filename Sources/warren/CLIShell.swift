import Foundation
import WarrenClient
import WarrenJute

/// A command line that could not be run as written; the text is what zkCli would print (usually the usage).
struct CLIUsageError: Error, CustomStringConvertible {
    let description: String
}

/// A command's words split into options and arguments, zkCli style: options (`-s`, `-v 3`) may come anywhere.
struct CLIArguments {
    var flags: Set<Character> = []
    var values: [Character: String] = [:]
    var positional: [String] = []

    /// Splits `words` (without the command name) given the option letters that are flags and those that take a
    /// value. A word starting with "-" that is not a known option is positional (znode data may start with "-").
    init(_ words: [String], flags flagLetters: Set<Character>, valued: Set<Character>, usage: String) throws {
        var i = 0
        while i < words.count {
            let w = words[i]
            if w.count == 2, w.first == "-", let letter = w.last {
                if flagLetters.contains(letter) {
                    flags.insert(letter)
                    i += 1
                    continue
                }
                if valued.contains(letter) {
                    guard i + 1 < words.count else { throw CLIUsageError(description: usage) }
                    values[letter] = words[i + 1]
                    i += 2
                    continue
                }
            }
            positional.append(w)
            i += 1
        }
    }

    func has(_ flag: Character) -> Bool { flags.contains(flag) }
}

/// Runs zkCli's everyday commands against one client, printing what zkCli prints.
// Sendable: one shell is driven by one task at a time (the read-eval loop, or one `-c` command), which alone
// touches its vars (`history`, `quitRequested`); the client is Sendable itself.
final class CLIShell: @unchecked Sendable {
    struct Command: Sendable {
        let usage: String
        let flags: Set<Character>
        let valued: Set<Character>
        let run: @Sendable (CLIShell, CLIArguments) async throws -> Void
    }

    let client: ZooKeeperClient
    let out: (String) -> Void
    let err: (String) -> Void
    /// Set by `quit`.
    private(set) var quitRequested = false
    var history: [String] = []

    init(client: ZooKeeperClient, out: @escaping (String) -> Void, err: @escaping (String) -> Void) {
        self.client = client
        self.out = out
        self.err = err
    }

    /// Runs one command line (already split into words). Returns false if it failed; the reason is printed.
    func execute(_ words: [String]) async -> Bool {
        guard let name = words.first else { return true }
        guard let command = Self.commands[name] else {
            err(Self.usage)
            return false
        }
        do {
            let args = try CLIArguments(Array(words.dropFirst()), flags: command.flags, valued: command.valued,
                                        usage: command.usage)
            try await command.run(self, args)
            return true
        } catch let usage as CLIUsageError {
            err(usage.description)
        } catch {
            err(CLIFormat.error(error))
        }
        return false
    }

    static var usage: String {
        "warren cli -server host:port[,host:port][/chroot] cmd args\n"
            + commands.keys.sorted().map { "\t\(commands[$0]!.usage)" }.joined(separator: "\n")
    }

    /// The single path argument every path command needs, or a usage error.
    private static func path(_ args: CLIArguments, _ usage: String, at index: Int = 0) throws -> String {
        guard index < args.positional.count else { throw CLIUsageError(description: usage) }
        return args.positional[index]
    }

    private static func int32(_ text: String?, _ usage: String) throws -> Int32? {
        guard let text else { return nil }
        guard let v = Int32(text) else { throw CLIUsageError(description: "\(usage)\nnot a number: \(text)") }
        return v
    }

    static let commands: [String: Command] = [
        "ls": Command(usage: "ls [-s] [-w] [-R] path", flags: ["s", "w", "R"], valued: []) { shell, args in
            let p = try path(args, "ls [-s] [-w] [-R] path")
            if args.has("R") {
                try await shell.listRecursively(p)
                return
            }
            let (children, stat) = try await shell.client.getChildrenWithStat(p, watch: args.has("w"))
            shell.out(CLIFormat.list(children.sorted()))
            if args.has("s") { shell.out(CLIFormat.stat(stat)) }
        },
        "get": Command(usage: "get [-s] [-w] path", flags: ["s", "w"], valued: []) { shell, args in
            let p = try path(args, "get [-s] [-w] path")
            let (data, stat) = try await shell.client.getData(p, watch: args.has("w"))
            shell.out(data.map { String(decoding: $0, as: UTF8.self) } ?? "null")
            if args.has("s") { shell.out(CLIFormat.stat(stat)) }
        },
        "set": Command(usage: "set [-s] [-v version] path data", flags: ["s"], valued: ["v"]) { shell, args in
            let usage = "set [-s] [-v version] path data"
            let p = try path(args, usage)
            let data = try path(args, usage, at: 1)
            let version = try int32(args.values["v"], usage) ?? -1
            let stat = try await shell.client.setData(p, data: Array(data.utf8), version: version)
            if args.has("s") { shell.out(CLIFormat.stat(stat)) }
        },
        "create": Command(usage: "create [-s] [-e] [-c] [-t ttl] path [data] [acl]", flags: ["s", "e", "c"],
                          valued: ["t"]) { shell, args in
            try await shell.create(args)
        },
        "delete": Command(usage: "delete [-v version] path", flags: [], valued: ["v"]) { shell, args in
            let p = try path(args, "delete [-v version] path")
            let version = try int32(args.values["v"], "delete [-v version] path") ?? -1
            try await shell.client.delete(p, version: version)
        },
        "deleteall": Command(usage: "deleteall path [-b batch size]", flags: [], valued: ["b"]) { shell, args in
            let p = try path(args, "deleteall path [-b batch size]")
            let batch = try int32(args.values["b"], "deleteall path [-b batch size]") ?? 1000
            try await shell.deleteAll(p, batchSize: max(1, Int(batch)))
        },
        "stat": Command(usage: "stat [-w] path", flags: ["w"], valued: []) { shell, args in
            let p = try path(args, "stat [-w] path")
            guard let stat = try await shell.client.exists(p, watch: args.has("w")) else {
                throw ZooKeeperError(.noNode, path: p)
            }
            shell.out(CLIFormat.stat(stat))
        },
        "getAcl": Command(usage: "getAcl [-s] path", flags: ["s"], valued: []) { shell, args in
            let (acl, stat) = try await shell.client.getACL(try path(args, "getAcl [-s] path"))
            shell.out(CLIFormat.acl(acl))
            if args.has("s") { shell.out(CLIFormat.stat(stat)) }
        },
        "setAcl": Command(usage: "setAcl [-s] [-v version] [-R] path acl", flags: ["s", "R"],
                          valued: ["v"]) { shell, args in
            try await shell.setACL(args)
        },
        "addauth": Command(usage: "addauth scheme auth", flags: [], valued: []) { shell, args in
            let scheme = try path(args, "addauth scheme auth")
            let auth = args.positional.count > 1 ? args.positional[1] : ""
            try await shell.client.addAuth(scheme: scheme, auth: Array(auth.utf8))
        },
        "sync": Command(usage: "sync path", flags: [], valued: []) { shell, args in
            try await shell.client.sync(try path(args, "sync path"))
            shell.out("Sync is OK")
        },
        "getEphemerals": Command(usage: "getEphemerals path", flags: [], valued: []) { shell, args in
            let prefix = args.positional.first ?? "/"
            shell.out(CLIFormat.list(try await shell.client.getEphemerals(prefix)))
        },
        "getAllChildrenNumber": Command(usage: "getAllChildrenNumber path", flags: [], valued: []) { shell, args in
            shell.out("\(try await shell.client.getAllChildrenNumber(try path(args, "getAllChildrenNumber path")))")
        },
        "addWatch": Command(usage: "addWatch [-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default is PERSISTENT_RECURSIVE",
                            flags: [], valued: ["m"]) { shell, args in
            let usage = "addWatch [-m mode] path"
            let p = try path(args, usage)
            let mode: AddWatchMode
            switch args.values["m"]?.uppercased() ?? "PERSISTENT_RECURSIVE" {
            case "PERSISTENT": mode = .persistent
            case "PERSISTENT_RECURSIVE": mode = .persistentRecursive
            default: throw CLIUsageError(description: usage)
            }
            try await shell.client.addWatch(p, mode: mode)
        },
        "removewatches": Command(usage: "removewatches path [-c|-d|-a]", flags: ["c", "d", "a"],
                                 valued: []) { shell, args in
            let p = try path(args, "removewatches path [-c|-d|-a]")
            let type: WatcherType = args.has("c") ? .children : args.has("d") ? .data : .any
            try await shell.client.removeWatches(p, type: type)
        },
        "whoami": Command(usage: "whoami ", flags: [], valued: []) { shell, _ in
            let info = try await shell.client.whoAmI()
            shell.out("Auth scheme: User")
            for i in info { shell.out("\(i.authScheme): \(i.user)") }
        },
        "history": Command(usage: "history ", flags: [], valued: []) { shell, _ in
            for (i, line) in shell.history.enumerated().suffix(10) { shell.out("\(i) - \(line)") }
        },
        "quit": Command(usage: "quit ", flags: [], valued: []) { shell, _ in
            shell.quitRequested = true
        },
        "help": Command(usage: "help ", flags: [], valued: []) { shell, _ in
            shell.out(usage)
        },
    ]

    private func create(_ args: CLIArguments) async throws {
        let usage = "create [-s] [-e] [-c] [-t ttl] path [data] [acl]"
        let p = try Self.path(args, usage)
        let data: [UInt8]? = args.positional.count > 1 ? Array(args.positional[1].utf8) : nil
        var acl = ACL.openUnsafe
        if args.positional.count > 2 {
            guard let parsed = CLIFormat.parseACL(args.positional[2]) else {
                throw ZooKeeperError(.invalidACL, path: p)
            }
            acl = parsed
        }
        let sequential = args.has("s")
        let ttlText = args.values["t"]
        var ttl: Int64?
        if let ttlText {
            guard let t = Int64(ttlText) else { throw CLIUsageError(description: usage) }
            ttl = t
        }
        let mode: CreateMode
        switch (args.has("e"), args.has("c"), ttl != nil) {
        case (true, false, false): mode = sequential ? .ephemeralSequential : .ephemeral
        case (false, true, false):
            guard !sequential else { throw CLIUsageError(description: "-c cannot be combined with -s") }
            mode = .container
        case (false, false, true): mode = sequential ? .persistentSequentialWithTTL : .persistentWithTTL
        case (false, false, false): mode = sequential ? .persistentSequential : .persistent
        case (true, true, _): throw CLIUsageError(description: "-c cannot be combined with -e")
        case (true, _, true): throw CLIUsageError(description: "TTLs cannot be used with Ephemeral znodes")
        case (_, true, true): throw CLIUsageError(description: "TTLs cannot be used with Container znodes")
        }
        let created = try await client.create(p, data: data, acl: acl, mode: mode, ttl: ttl)
        out("Created \(created)")
    }

    private func setACL(_ args: CLIArguments) async throws {
        let usage = "setAcl [-s] [-v version] [-R] path acl"
        let p = try Self.path(args, usage)
        let text = try Self.path(args, usage, at: 1)
        guard let acl = CLIFormat.parseACL(text) else { throw ZooKeeperError(.invalidACL, path: p) }
        let version = try Self.int32(args.values["v"], usage) ?? -1
        if args.has("R") {
            var stack = [p]
            while let next = stack.popLast() {
                try await client.setACL(next, acl: acl, version: version)
                let children = try await client.getChildren(next)
                stack.append(contentsOf: children.map { join(next, $0) })
            }
            return
        }
        let stat = try await client.setACL(p, acl: acl, version: version)
        if args.has("s") { out(CLIFormat.stat(stat)) }
    }

    /// Prints `root` and every descendant's path, depth first, children in name order.
    private func listRecursively(_ root: String) async throws {
        var stack = [root]
        while let next = stack.popLast() {
            out(next)
            let children = try await client.getChildren(next)
            stack.append(contentsOf: children.sorted().reversed().map { join(next, $0) })
        }
    }

    /// Deletes `root` and its whole subtree, deepest nodes first, `batchSize` deletes per transaction.
    private func deleteAll(_ root: String, batchSize: Int) async throws {
        var order: [String] = []
        var queue = [root]
        while !queue.isEmpty {
            let next = queue.removeFirst()
            order.append(next)
            let children = try await client.getChildren(next)
            queue.append(contentsOf: children.map { join(next, $0) })
        }
        // Breadth-first order reversed deletes every child before its parent.
        let doomed = Array(order.reversed())
        var start = 0
        while start < doomed.count {
            let batch = doomed[start..<min(start + batchSize, doomed.count)]
            _ = try await client.multi { builder in
                for p in batch { builder.delete(p) }
            }
            start += batchSize
        }
    }

    private func join(_ parent: String, _ child: String) -> String {
        parent == "/" ? "/" + child : parent + "/" + child
    }
}

/// Splits a command line into words; single or double quotes group words and are removed.
func splitCommandLine(_ line: String) -> [String] {
    var words: [String] = []
    var current = ""
    var inWord = false
    var quote: Character?
    for c in line {
        if let q = quote {
            if c == q { quote = nil } else { current.append(c) }
        } else if c == "\"" || c == "'" {
            quote = c
            inWord = true
        } else if c == " " || c == "\t" {
            if inWord { words.append(current) }
            current = ""
            inWord = false
        } else {
            current.append(c)
            inWord = true
        }
    }
    if inWord { words.append(current) }
    return words
}
