import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads command lines for the interactive prompt, with history kept in memory and in a file.
///
/// On a terminal it edits in raw mode: left/right, home/end (Ctrl-A/Ctrl-E), backspace, up/down through
/// history, Ctrl-C to drop the line, Ctrl-D on an empty line to end. Otherwise it reads plain lines.
final class CLILineReader {
    private(set) var history: [String] = []
    private let historyFile: URL?
    private let historyLinesMax = 500

    init(historyFile: URL?) {
        self.historyFile = historyFile
        if let historyFile, let text = try? String(contentsOf: historyFile, encoding: .utf8) {
            history = text.split(separator: "\n").map(String.init).suffix(historyLinesMax)
        }
    }

    /// The next line without its newline, or nil at end of input. Non-empty lines are added to the history.
    func readLine(prompt: String) -> String? {
        let line: String?
        if isatty(STDIN_FILENO) != 0 {
            line = readEditedLine(prompt: prompt)
        } else {
            StandardOutput.write(prompt)
            StandardOutput.flush()
            line = Swift.readLine(strippingNewline: true)
        }
        if let line, !line.trimmingCharacters(in: .whitespaces).isEmpty { remember(line) }
        return line
    }

    private func remember(_ line: String) {
        if history.last != line { history.append(line) }
        if history.count > historyLinesMax { history.removeFirst(history.count - historyLinesMax) }
        guard let historyFile else { return }
        try? (history.joined(separator: "\n") + "\n").write(to: historyFile, atomically: true, encoding: .utf8)
    }

    private func readEditedLine(prompt: String) -> String? {
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else {
            StandardOutput.write(prompt)
            StandardOutput.flush()
            return Swift.readLine(strippingNewline: true)
        }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)
        defer { tcsetattr(STDIN_FILENO, TCSAFLUSH, &original) }

        var buffer: [Character] = []
        var cursor = 0
        var historyIndex = history.count
        var draft: [Character] = []

        func redraw() {
            var s = "\r" + prompt + String(buffer) + "\u{1b}[K"
            let back = buffer.count - cursor
            if back > 0 { s += "\u{1b}[\(back)D" }
            StandardOutput.write(s)
            StandardOutput.flush()
        }
        func show(_ entry: [Character]) {
            buffer = entry
            cursor = buffer.count
            redraw()
        }

        redraw()
        var pendingUTF8: [UInt8] = []
        while true {
            guard let byte = readByte() else { return buffer.isEmpty ? nil : String(buffer) }
            switch byte {
            case 13, 10:
                StandardOutput.write("\n")
                return String(buffer)
            case 4:
                if buffer.isEmpty {
                    StandardOutput.write("\n")
                    return nil
                }
            case 3:
                StandardOutput.write("^C\n")
                buffer = []
                cursor = 0
                redraw()
            case 127, 8:
                if cursor > 0 {
                    buffer.remove(at: cursor - 1)
                    cursor -= 1
                    redraw()
                }
            case 1:
                cursor = 0
                redraw()
            case 5:
                cursor = buffer.count
                redraw()
            case 27:
                guard readByte() == UInt8(ascii: "["), let key = readByte() else { continue }
                switch key {
                case UInt8(ascii: "A"):
                    if historyIndex > 0 {
                        if historyIndex == history.count { draft = buffer }
                        historyIndex -= 1
                        show(Array(history[historyIndex]))
                    }
                case UInt8(ascii: "B"):
                    if historyIndex < history.count {
                        historyIndex += 1
                        show(historyIndex == history.count ? draft : Array(history[historyIndex]))
                    }
                case UInt8(ascii: "C"):
                    if cursor < buffer.count { cursor += 1; redraw() }
                case UInt8(ascii: "D"):
                    if cursor > 0 { cursor -= 1; redraw() }
                case UInt8(ascii: "H"):
                    cursor = 0
                    redraw()
                case UInt8(ascii: "F"):
                    cursor = buffer.count
                    redraw()
                default:
                    break
                }
            default:
                guard byte >= 32 else { continue }
                pendingUTF8.append(byte)
                // Insert once a whole UTF-8 sequence has arrived.
                if let s = String(validating: pendingUTF8, as: UTF8.self), let c = s.first {
                    pendingUTF8 = []
                    buffer.insert(c, at: cursor)
                    cursor += 1
                    redraw()
                } else if pendingUTF8.count >= 4 {
                    pendingUTF8 = []
                }
            }
        }
    }

    private func readByte() -> UInt8? {
        var b: UInt8 = 0
        while true {
            let n = read(STDIN_FILENO, &b, 1)
            if n == 1 { return b }
            if n < 0 && errno == EINTR { continue }
            return nil
        }
    }
}
