#if canImport(Glibc)
import Glibc
private let sysConnect = Glibc.connect
private let sysRead = Glibc.read
private let sysClose = Glibc.close
#elseif canImport(Darwin)
import Darwin
private let sysConnect = Darwin.connect
private let sysRead = Darwin.read
private let sysClose = Darwin.close
#endif
import WarrenJute

/// Thin wrappers over POSIX TCP sockets: connect with a timeout, switch blocking mode, and read/write that report
/// "would block" instead of failing. Errors carry errno text so a reader can tell refused from reset.
enum Socket {
    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// A connected TCP socket to `target`, in blocking mode with TCP_NODELAY, or `BenchError.connect`.
    static func connect(to target: HostPort, timeoutMs: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(target.host, String(target.port), &hints, &list)
        guard rc == 0, let first = list else {
            throw BenchError.connect("\(target): cannot resolve (\(String(cString: gai_strerror(rc))))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            cursor = ai.pointee.ai_next
            let fd = socket(ai.pointee.ai_family, ai.pointee.ai_socktype, ai.pointee.ai_protocol)
            if fd < 0 { lastError = errnoText(); continue }
            do {
                try setNonBlocking(fd, true)
                if sysConnect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                    throw BenchError.connect("\(target): \(errnoText())")
                }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                let ready = poll(&pfd, 1, Int32(timeoutMs))
                if ready == 0 { throw BenchError.connect("\(target): timed out after \(timeoutMs) ms") }
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &len)
                if soError != 0 { throw BenchError.connect("\(target): \(errnoText(soError))") }
                try setNonBlocking(fd, false)
                var one: Int32 = 1
                setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                return fd
            } catch let e as BenchError {
                _ = sysClose(fd)
                if case let .connect(m) = e { lastError = m } else { throw e }
            }
        }
        throw BenchError.connect(lastError)
    }

    static func setNonBlocking(_ fd: Int32, _ on: Bool) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0 else {
            throw BenchError.connect("fcntl: \(errnoText())")
        }
    }

    /// Bounds every blocking send and receive on `fd` (used by handshakes and session-churn).
    static func setTimeouts(_ fd: Int32, ms: Int) {
        var tv = timeval(tv_sec: ms / 1000, tv_usec: (ms % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    static func close(_ fd: Int32) { _ = sysClose(fd) }

    enum IOResult {
        case bytes(Int)
        case wouldBlock
        case closed
    }

    /// One read(2) into `buffer`; EINTR is retried.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult {
        while true {
            let n = sysRead(fd, buffer.baseAddress, buffer.count)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: throw BenchError.protocolViolation("read: \(errnoText())")
            }
        }
    }

    /// One send(2) of `bytes` (no SIGPIPE); EINTR is retried.
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws -> IOResult {
        while true {
            let n = send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            case EPIPE, ECONNRESET: return .closed
            default: throw BenchError.protocolViolation("send: \(errnoText())")
            }
        }
    }

    /// Writes all of `bytes` on a blocking socket, or throws.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let r = try bytes.withUnsafeBytes { try write(fd, UnsafeRawBufferPointer(rebasing: $0[sent...])) }
            switch r {
            case let .bytes(n): sent += n
            case .wouldBlock: throw BenchError.protocolViolation("send timed out")
            case .closed: throw BenchError.protocolViolation("connection closed by server while sending")
            }
        }
    }

    /// The next frame from a blocking socket, reading into `decoder` as needed.
    static func readFrame(_ fd: Int32, _ decoder: inout FrameDecoder) throws -> [UInt8] {
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            do {
                if let frame = try decoder.next() { return frame }
            } catch {
                throw BenchError.protocolViolation("bad frame from server: \(error)")
            }
            let r = try scratch.withUnsafeMutableBytes { try read(fd, into: $0) }
            switch r {
            case let .bytes(n): decoder.feed(scratch[0..<n])
            case .wouldBlock: throw BenchError.protocolViolation("timed out waiting for a reply")
            case .closed: throw BenchError.protocolViolation("connection closed by server")
            }
        }
    }
}
