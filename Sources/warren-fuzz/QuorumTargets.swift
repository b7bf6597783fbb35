/// Targets for what crosses the quorum port: Zab messages, the payloads forwarded inside them, and the snapshot
/// stream's frames.

#if DEBUG || WARREN_FUZZING
import WarrenJute
@testable import WarrenCore
@testable import WarrenServer
import WarrenZab

extension Fuzz {
    static let quorumTargets = [
        FuzzTarget(name: "zab", summary: "one quorum frame payload for ZabMessage(from:)", run: fuzzZab),
        FuzzTarget(name: "forward", summary: "a forward payload (ForwardedWrite) or a sync token (SyncToken)", run: fuzzForward),
        FuzzTarget(name: "snapstream", summary: "4-byte-length frames as a learner reads them during SNAP sync", run: fuzzSnapshotStream),
    ]
}

func fuzzZab(_ input: [UInt8]) {
    var r = JuteReader(input)
    guard let message = try? ZabMessage(from: &r) else { return }
    expectRoundTrip(message, "ZabMessage", encode: { $0.juteBytes() }, decode: decodeWhole)
}

/// Both decoders on every input: the bytes of either come from the same place (a `ZabMessage` buffer).
func fuzzForward(_ input: [UInt8]) {
    if let write = try? ForwardedWrite.decode(input) {
        expectRoundTrip(write, "ForwardedWrite", encode: { $0.encode() }, decode: ForwardedWrite.decode)
    }
    if let token = try? SyncToken.decode(input) {
        expectRoundTrip(token, "SyncToken", encode: { $0.encode() }, decode: SyncToken.decode)
    }
}

/// The frames go where `QuorumTransport` sends them: stream frames to one `SnapshotReassembler` (with the limits
/// the server uses), others to `ZabMessage`. A stream frame the reassembler refuses ends the connection, so the
/// input ends there too. A snapshot that comes out must come out again when cut up by `SnapshotChunker`.
func fuzzSnapshotStream(_ input: [UInt8]) {
    var frames = FrameDecoder(frameBytesMax: 1 << 20)
    frames.feed(input)
    var reassembler = SnapshotReassembler()
    while let frame = try? frames.next() {
        guard SnapshotStream.isStreamFrame(frame) else {
            var r = JuteReader(frame)
            _ = try? ZabMessage(from: &r)
            continue
        }
        let message: ZabMessage?
        do {
            message = try reassembler.accept(frame)
        } catch {
            return
        }
        guard let message, case let .snapshot(epoch, lastZxid, state) = message else { continue }
        let chunkBytes = 1 + state.count % 7
        expectRoundTrip(message, "snapshot stream in chunks of \(chunkBytes)", encode: { _ in [] }) { _ in
            var chunker = SnapshotChunker(epoch: epoch, lastZxid: lastZxid, state: state, chunkBytes: chunkBytes)
            var again = SnapshotReassembler()
            var out: ZabMessage?
            while let (frame, _) = chunker.next() { out = try again.accept(frame) }
            guard let out else { throw JuteError.badValue("no message after the end frame") }
            return out
        }
    }
}
#endif
