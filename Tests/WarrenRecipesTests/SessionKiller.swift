import Foundation
import WarrenClient
import WarrenJute
#if canImport(Glibc)
import Glibc
#endif

/// Ends `client`'s session from outside, as ZooKeeper's own tests do: a second connection takes over the session
/// with its id and password and closes it. The server then drops the first connection, and its reconnect learns
/// that the session has expired. If the client's reconnect wins the session back before the close is processed,
/// the server refuses the close (session moved) or drops our connection: then try again, a bounded number of times.
func expireSession(of client: ZooKeeperClient, port: Int) async throws {
    for _ in 0..<10 {
        try? closeSession(of: client, port: port)
        let deadline = ContinuousClock.now.advanced(by: .seconds(3))
        while ContinuousClock.now < deadline {
            if client.state == .expired { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    throw RecipeServerError("session \(client.sessionId) did not expire")
}

private func closeSession(of client: ZooKeeperClient, port: Int) throws {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RecipeServerError("socket: errno \(errno)") }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = UInt16(port).bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw RecipeServerError("connect: errno \(errno)") }
    var hello = JuteWriter()
    ConnectRequest(lastZxidSeen: 0, timeOut: client.negotiatedTimeoutMs, sessionId: client.sessionId,
                   passwd: client.sessionPassword).encode(to: &hello)
    try sendFrame(fd, hello.bytes)
    let reply = try receiveFrame(fd)
    var reader = JuteReader(reply)
    guard try ConnectResponse(from: &reader).timeOut > 0 else { throw RecipeServerError("session already gone") }
    var close = JuteWriter()
    RequestHeader(xid: 1, opCode: .closeSession).encode(to: &close)
    try sendFrame(fd, close.bytes)
    // The server may close the connection before its reply to closeSession is read; the session is gone either way.
    _ = try? receiveFrame(fd)
}

private func sendFrame(_ fd: Int32, _ body: [UInt8]) throws {
    var frame = JuteWriter()
    frame.writeInt(Int32(body.count))
    let bytes = frame.bytes + body
    guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else {
        throw RecipeServerError("short send")
    }
}

private func receiveFrame(_ fd: Int32) throws -> [UInt8] {
    func exactly(_ count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = out.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { throw RecipeServerError("connection closed after \(got) of \(count) bytes") }
            got += n
        }
        return out
    }
    let length = try exactly(4).reduce(0) { $0 << 8 | Int($1) }
    guard length <= 1 << 20 else { throw RecipeServerError("frame of \(length) bytes") }
    return try exactly(length)
}
