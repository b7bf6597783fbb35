import Foundation
import XCTest

/// Shared by the Zab core's and the server core's transcript tests (`WarrenZabTests/testdata`,
/// `WarrenServerTests/testdata`).
///
/// etcd-raft's datadriven style: a test file is a list of blocks, each a command line, `----`, and the output the
/// command must print, ended by a blank line. `#` lines between blocks are comments. Run with
/// `TRANSCRIPT_REWRITE=1` to write the actual outputs back into the file instead of comparing (then review the
/// diff like any other change).
public struct Transcript {
    public struct Block {
        public var line: Int
        /// The command line as written.
        public var raw: String
        public var command: String
        public var args: [String]
        /// `key=value` arguments.
        public var options: [String: String]
        public var expected: String
    }

    public let path: String
    public let blocks: [Block]
    /// The lines between blocks (comments, blank lines), in order: `leading[i]` precede block i.
    private let leading: [[String]]
    private let trailing: [String]

    public init(path: String) throws {
        self.path = path
        let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
        var blocks: [Block] = []
        var leading: [[String]] = []
        var pending: [String] = []
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.isEmpty || line.hasPrefix("#") {
                pending.append(line)
                i += 1
                continue
            }
            let start = i + 1
            let words = line.split(separator: " ").map(String.init)
            i += 1
            guard i < lines.count, lines[i] == "----" else {
                throw TranscriptError("\(path):\(start): `\(line)` is not followed by ----")
            }
            i += 1
            var out: [String] = []
            while i < lines.count, !lines[i].isEmpty {
                out.append(lines[i])
                i += 1
            }
            var options: [String: String] = [:]
            var args: [String] = []
            for w in words.dropFirst() {
                if let eq = w.firstIndex(of: "=") { options[String(w[..<eq])] = String(w[w.index(after: eq)...]) } else { args.append(w) }
            }
            leading.append(pending)
            pending = []
            blocks.append(Block(line: start, raw: line, command: words[0], args: args, options: options,
                                expected: out.joined(separator: "\n")))
        }
        self.blocks = blocks
        self.leading = leading
        self.trailing = pending
    }

    /// Runs every block through `run` (which returns the command's output), comparing or rewriting.
    public func check(file: StaticString = #filePath, _ run: (Block) throws -> String) throws {
        let rewrite = ProcessInfo.processInfo.environment["TRANSCRIPT_REWRITE"] == "1"
        var outputs: [String] = []
        for block in blocks {
            let actual = try run(block).trimmingCharacters(in: .newlines)
            outputs.append(actual)
            if !rewrite && actual != block.expected {
                XCTFail("\(path):\(block.line): \(block.command) \(block.args.joined(separator: " "))\n--- expected\n\(block.expected)\n--- actual\n\(actual)",
                        file: file, line: 0)
            }
        }
        guard rewrite else { return }
        var lines: [String] = []
        for (i, block) in blocks.enumerated() {
            lines += leading[i]
            lines += [block.raw, "----"]
            if !outputs[i].isEmpty { lines += outputs[i].components(separatedBy: "\n") }
        }
        lines += trailing
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Runs every `*.txt` transcript in `directory` in name order, each with a fresh runner from `makeRunner`
    /// (one core, cluster or driver per file). Fails if the directory holds none.
    public static func checkAll(in directory: String, file: StaticString = #filePath,
                                _ makeRunner: () throws -> (Block) throws -> String) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".txt") }.sorted()
        XCTAssertFalse(names.isEmpty, "no transcripts in \(directory)", file: file)
        for name in names {
            try Transcript(path: (directory as NSString).appendingPathComponent(name)).check(file: file, try makeRunner())
        }
    }

    /// The `testdata` directory next to the calling test file.
    public static func directory(_ file: String = #filePath) -> String {
        ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("testdata")
    }
}

public struct TranscriptError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
