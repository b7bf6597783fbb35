import WarrenJute
import WarrenStorage
import WarrenZab

/// SNAP sync on the wire: Zab's one `ZabMessage.snapshot(epoch:lastZxid:state:)` travels as a stream of quorum
/// frames, so that no frame is larger than a chunk (a 10M-node tree is a 1.2 GB snapshot, far above any sane frame
/// limit) and the sender can write it as fast as the peer reads (`QuorumOutbound`). The Zab core never sees the
/// chunks: the sender's shell cuts the state up (`SnapshotChunker`), the receiver's shell puts it together
/// (`SnapshotReassembler`) and hands its core the same `.snapshot` message a single frame would have carried.
///
/// Frames (Jute, inside the transport's 4-byte length; the tags lie outside `ZabMessage`'s so a receiver tells them
/// apart by their first int):
///
///     begin  int 101, long epoch, long lastZxid, long totalBytes
///     chunk  int 102, int index (0, 1, ... in order), buffer bytes (1 ... chunkBytesMax bytes)
///     end    int 103, int chunkCount, int crc32 of the whole state
///
/// Between begin and end the sender sends nothing else on that connection (its other messages wait behind the
/// stream), so any other frame in between is a protocol violation. A stream cut short by a closed connection is
/// dropped whole: nothing reaches the core before the end frame verified.
///
/// Durability: the leader sends only delivered (committed) state, so nothing must be durable before it streams.
/// The learner's core turns the verified message into `.installSnapshot`, a synchronous disk action (snapshot file
/// written, fsynced and renamed, log cut after it) completed before anything after it — in particular before the
/// learner's NEWLEADER ack — so a crash at any point leaves either the old state or the whole snapshot.
enum SnapshotStream {
    static let beginTag: Int32 = 101
    static let chunkTag: Int32 = 102
    static let endTag: Int32 = 103
    /// Chunk size when zoo.cfg does not set `warren.snapshotChunkBytes`.
    static let chunkBytesDefault = 4 << 20
    /// Largest chunk a receiver accepts, whatever the sender was configured with; also the largest allowed setting.
    static let chunkBytesMax = 64 << 20
    /// Largest snapshot a receiver accepts (it reserves this much memory up front for a stream).
    static let snapshotBytesMax: Int64 = 64 << 30

    /// True when a quorum frame belongs to a snapshot stream rather than being a `ZabMessage`.
    static func isStreamFrame(_ frame: [UInt8]) -> Bool {
        guard frame.count >= 4 else { return false }
        let tag = Int32(bitPattern: UInt32(frame[0]) << 24 | UInt32(frame[1]) << 16 | UInt32(frame[2]) << 8 | UInt32(frame[3]))
        return (beginTag...endTag).contains(tag)
    }
}

/// Cuts one serialized snapshot — one array or several parts serialized side by side — into stream frames, lazily:
/// one chunk's copy exists at a time, the state itself is shared (not copied) with whoever else holds it. A chunk
/// never spans two parts (a part's last chunk may be short; receivers take any size up to the limit).
struct SnapshotChunker {
    let epoch: Int64
    let lastZxid: Zxid
    let parts: [[UInt8]]
    let totalBytes: Int
    let chunkBytes: Int
    private var began = false
    private var part = 0
    private var offset = 0
    private var chunkIndex: Int32 = 0
    private var crc: UInt32 = 0
    private(set) var finished = false

    init(epoch: Int64, lastZxid: Zxid, parts: [[UInt8]], chunkBytes: Int) {
        precondition((1...SnapshotStream.chunkBytesMax).contains(chunkBytes), "chunk size \(chunkBytes) out of range")
        self.epoch = epoch
        self.lastZxid = lastZxid
        self.parts = parts.filter { !$0.isEmpty }
        self.totalBytes = parts.reduce(0) { $0 + $1.count }
        self.chunkBytes = chunkBytes
    }

    init(epoch: Int64, lastZxid: Zxid, state: [UInt8], chunkBytes: Int) {
        self.init(epoch: epoch, lastZxid: lastZxid, parts: [state], chunkBytes: chunkBytes)
    }

    var chunkCount: Int32 { chunkIndex }

    /// The next frame (without the length prefix) and whether it is a chunk, or nil after the end frame.
    mutating func next() -> (frame: [UInt8], isChunk: Bool)? {
        if finished { return nil }
        var w = JuteWriter(capacity: 32)
        if !began {
            began = true
            w.writeInt(SnapshotStream.beginTag)
            w.writeLong(epoch)
            w.writeLong(lastZxid.raw)
            w.writeLong(Int64(totalBytes))
            return (w.bytes, false)
        }
        if part < parts.count {
            let state = parts[part]
            let end = min(state.count, offset + chunkBytes)
            w.writeInt(SnapshotStream.chunkTag)
            w.writeInt(chunkIndex)
            w.writeInt(Int32(end - offset))  // the buffer's length; its bytes are appended without a Jute copy
            var frame = w.bytes
            frame.reserveCapacity(frame.count + end - offset)
            state.withUnsafeBytes { all in
                let chunk = UnsafeRawBufferPointer(rebasing: all[offset..<end])
                crc = CRC32.update(crc, chunk)
                frame.append(contentsOf: chunk)
            }
            chunkIndex += 1
            offset = end
            if offset == state.count {
                part += 1
                offset = 0
            }
            return (frame, true)
        }
        finished = true
        w.writeInt(SnapshotStream.endTag)
        w.writeInt(chunkIndex)
        w.writeInt(Int32(bitPattern: crc))
        return (w.bytes, false)
    }
}

/// Why a peer's snapshot stream was refused. The bytes come from another server, so these are faults to drop the
/// connection over, not bugs.
enum SnapshotStreamError: Error, Equatable, CustomStringConvertible {
    case malformed(JuteError)
    /// A frame that cannot come here: a chunk or end without a begin, a second begin, a message inside a stream.
    case unexpected(String)
    case tooLarge(totalBytes: Int64, snapshotBytesMax: Int64)
    case badChunkSize(bytes: Int, chunkBytesMax: Int)
    case outOfOrder(expected: Int32, got: Int32)
    /// More chunk bytes than the begin frame announced.
    case overrun(totalBytes: Int64)
    case truncated(receivedBytes: Int64, totalBytes: Int64)
    case chunkCountMismatch(received: Int32, announced: Int32)
    case checksumMismatch(computed: UInt32, announced: UInt32)

    var description: String {
        switch self {
        case let .malformed(e): return "malformed snapshot frame: \(e)"
        case let .unexpected(what): return "unexpected \(what)"
        case let .tooLarge(total, max): return "snapshot of \(total) bytes is over the \(max)-byte limit"
        case let .badChunkSize(bytes, max): return "chunk of \(bytes) bytes (allowed: 1...\(max))"
        case let .outOfOrder(expected, got): return "chunk \(got) where chunk \(expected) was due"
        case let .overrun(total): return "chunks exceed the announced \(total) bytes"
        case let .truncated(received, total): return "stream ended after \(received) of \(total) bytes"
        case let .chunkCountMismatch(received, announced): return "\(received) chunks received, end frame says \(announced)"
        case let .checksumMismatch(computed, announced):
            return "checksum 0x\(String(computed, radix: 16)) of the received state, end frame says 0x\(String(announced, radix: 16))"
        }
    }
}

/// Puts one peer connection's snapshot stream back together and verifies it. Holds at most the announced size
/// plus the chunk being decoded. The announced size is only a claim: the begin frame reserves at most one chunk's
/// worth and the buffer grows with the bytes that arrive, so a begin frame announcing gigabytes (damaged, or from
/// anything that can reach the quorum port) costs nothing until they come, and never a failed allocation's trap.
struct SnapshotReassembler {
    let snapshotBytesMax: Int64
    let chunkBytesMax: Int
    private var epoch: Int64 = 0
    /// The open stream's zxid and announced size (from its begin frame).
    private(set) var lastZxid = Zxid.zero
    private(set) var totalBytes: Int64 = 0
    /// The bytes received so far, while they are kept (see `stopKeepingBytes`).
    private var state: [UInt8]?
    private var open = false
    private(set) var receivedBytes: Int64 = 0
    /// Whether the bytes are kept to hand over at the end; false once someone else took care of them.
    private(set) var keepsBytes = true
    private var nextIndex: Int32 = 0
    private var crc: UInt32 = 0

    init(snapshotBytesMax: Int64 = SnapshotStream.snapshotBytesMax, chunkBytesMax: Int = SnapshotStream.chunkBytesMax) {
        self.snapshotBytesMax = snapshotBytesMax
        self.chunkBytesMax = chunkBytesMax
    }

    /// A stream has begun and not ended: only its frames may come next.
    var isOpen: Bool { open }

    /// The first bytes of the open stream's state, while they are kept.
    var keptPrefix: ArraySlice<UInt8>? { state.map { $0.prefix(16) } }

    /// From now on chunks are only counted and checksummed, and the end hands over `.snapshot` with empty state:
    /// the receiver's shell takes the bytes as they come (`SnapshotIntake`) and needs no second copy of them.
    mutating func stopKeepingBytes() {
        precondition(open, "stopKeepingBytes outside a stream")
        keepsBytes = false
        state = nil
    }

    /// Takes one stream frame (see `SnapshotStream.isStreamFrame`). Returns the snapshot message when this frame
    /// ended a complete stream whose checksum matches. After a throw the reassembler is unusable (drop the
    /// connection with it).
    mutating func accept(_ frame: [UInt8]) throws(SnapshotStreamError) -> ZabMessage? {
        do {
            return try decode(frame)
        } catch let e as SnapshotStreamError {
            throw e
        } catch let e as JuteError {
            throw .malformed(e)
        } catch {
            throw .unexpected("error \(error)")
        }
    }

    private mutating func decode(_ frame: [UInt8]) throws -> ZabMessage? {
        var r = JuteReader(frame)
        switch try r.readInt() {
        case SnapshotStream.beginTag:
            guard !open else { throw SnapshotStreamError.unexpected("begin frame inside a stream") }
            epoch = try r.readLong()
            lastZxid = Zxid(raw: try r.readLong())
            totalBytes = try r.readLong()
            guard totalBytes >= 0, totalBytes <= snapshotBytesMax else {
                throw SnapshotStreamError.tooLarge(totalBytes: totalBytes, snapshotBytesMax: snapshotBytesMax)
            }
            var buffer: [UInt8] = []
            buffer.reserveCapacity(Int(min(totalBytes, Int64(chunkBytesMax))))
            state = buffer
            open = true
            keepsBytes = true
            receivedBytes = 0
            nextIndex = 0
            crc = 0
            return nil
        case SnapshotStream.chunkTag:
            guard open else { throw SnapshotStreamError.unexpected("chunk outside a stream") }
            let index = try r.readInt()
            guard index == nextIndex else { throw SnapshotStreamError.outOfOrder(expected: nextIndex, got: index) }
            let count = Int(try r.readInt())
            guard count >= 1, count <= chunkBytesMax else {
                throw SnapshotStreamError.badChunkSize(bytes: count, chunkBytesMax: chunkBytesMax)
            }
            guard receivedBytes + Int64(count) <= totalBytes else { throw SnapshotStreamError.overrun(totalBytes: totalBytes) }
            let start = frame.count - r.remaining
            guard r.remaining == count else { throw SnapshotStreamError.malformed(.truncated(needed: count, available: r.remaining)) }
            let chunk = frame.withUnsafeBytes { UnsafeRawBufferPointer(rebasing: $0[start..<start + count]) }
            crc = CRC32.update(crc, chunk)
            if keepsBytes { state!.append(contentsOf: chunk) }
            receivedBytes += Int64(count)
            nextIndex += 1
            return nil
        case SnapshotStream.endTag:
            guard open else { throw SnapshotStreamError.unexpected("end frame outside a stream") }
            let announcedChunks = try r.readInt()
            let announcedCrc = UInt32(bitPattern: try r.readInt())
            guard receivedBytes == totalBytes else {
                throw SnapshotStreamError.truncated(receivedBytes: receivedBytes, totalBytes: totalBytes)
            }
            guard announcedChunks == nextIndex else {
                throw SnapshotStreamError.chunkCountMismatch(received: nextIndex, announced: announcedChunks)
            }
            guard announcedCrc == crc else { throw SnapshotStreamError.checksumMismatch(computed: crc, announced: announcedCrc) }
            let received = state ?? []
            state = nil
            open = false
            return .snapshot(epoch: epoch, lastZxid: lastZxid, state: received)
        case let tag:
            throw SnapshotStreamError.unexpected("frame type \(tag)")
        }
    }
}
