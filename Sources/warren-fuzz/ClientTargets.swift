/// Targets for what crosses the client port: the frame splitter, every request body (the server decodes them),
/// every reply body and watch event (the client library decodes them) and the handshake records.

import WarrenJute

extension Fuzz {
    static let clientTargets = [
        FuzzTarget(name: "frame", summary: "byte 0: chunk size; rest: a client byte stream for FrameDecoder", run: fuzzFrames),
        FuzzTarget(name: "request", summary: "one client frame payload: ConnectRequest, or RequestHeader + body", run: fuzzRequest),
        FuzzTarget(name: "response", summary: "byte 0: the request's opcode (index into OpCode.allCases); rest: one server frame payload",
                   run: fuzzResponse),
    ]
}

/// Feeds the stream in chunks of 1...16 bytes (as a socket might deliver it). The frames returned must be exactly
/// the stream's prefix, re-framed; after an error every later call throws the same error.
func fuzzFrames(_ input: [UInt8]) {
    guard let first = input.first else { return }
    let chunk = Int(first % 16) + 1
    let stream = Array(input.dropFirst())
    var decoder = FrameDecoder()
    var reframed: [UInt8] = []
    var failure: FrameError?
    var offset = 0
    feeding: while offset < stream.count {
        let end = min(stream.count, offset + chunk)
        decoder.feed(stream[offset..<end])
        offset = end
        do {
            while let frame = try decoder.next() { reframed += Frame.encode(frame) }
        } catch {
            failure = error as? FrameError
            expect(failure != nil, "FrameDecoder threw \(error), not a FrameError")
            break feeding
        }
    }
    expect(Array(stream.prefix(reframed.count)) == reframed, "frames are not the stream's prefix")
    if let failure {
        do {
            _ = try decoder.next()
            expect(false, "next() after \(failure) returned instead of throwing")
        } catch {
            expect(error as? FrameError == failure, "next() after \(failure) threw \(error)")
        }
    } else {
        expect(reframed.count + decoder.bufferedBytes == stream.count, "bytes lost: \(reframed.count) framed + "
            + "\(decoder.bufferedBytes) buffered of \(stream.count)")
    }
}

/// A client frame as the server reads it: the first of a connection is a `ConnectRequest`, every later one a
/// `RequestHeader` and the body for its opcode. Both readings are tried on every input.
func fuzzRequest(_ input: [UInt8]) {
    var r = JuteReader(input)
    if let connect = try? ConnectRequest(from: &r) {
        expectRoundTrip(connect, "ConnectRequest", encode: { $0.juteBytes() }, decode: decodeWhole)
    }
    r = JuteReader(input)
    guard let header = try? RequestHeader(from: &r), let request = try? Request.decode(opCode: header.type, body: &r) else {
        return
    }
    expectRoundTrip(request, "Request \(request.opCode)", encode: { $0.packet(xid: header.xid) }) { bytes in
        var r = JuteReader(bytes)
        let again = try RequestHeader(from: &r)
        expect(again == header, "RequestHeader \(header) came back as \(again)")
        return try Request.decode(opCode: again.type, body: &r)
    }
}

/// A server frame as the client reads it: the handshake's `ConnectResponse`, or a `ReplyHeader` and, when its
/// error is 0, the body for the request it answers (a `WatcherEvent` for xid -1).
func fuzzResponse(_ input: [UInt8]) {
    guard let first = input.first else { return }
    let op = OpCode.allCases[Int(first) % OpCode.allCases.count]
    let payload = Array(input.dropFirst())
    var r = JuteReader(payload)
    if let connect = try? ConnectResponse(from: &r) {
        expectRoundTrip(connect, "ConnectResponse", encode: { $0.juteBytes() }, decode: decodeWhole)
    }
    r = JuteReader(payload)
    guard let header = try? ReplyHeader(from: &r), header.err == 0 else { return }
    let answered = header.xid == Xid.notification ? OpCode.notification : op
    guard let response = try? Response.decode(for: answered, body: &r) else { return }
    expectRoundTrip(response, "Response to \(answered)", encode: { $0.packet(header: header) }) { bytes in
        var r = JuteReader(bytes)
        let again = try ReplyHeader(from: &r)
        expect(again == header, "ReplyHeader \(header) came back as \(again)")
        return try Response.decode(for: answered, body: &r)
    }
}

/// One record from `bytes`, which it must use up.
func decodeWhole<R: JuteDecodable>(_ bytes: [UInt8]) throws -> R {
    var r = JuteReader(bytes)
    let record = try R(from: &r)
    guard r.isAtEnd else { throw JuteError.badValue("\(r.remaining) bytes after the record") }
    return record
}
