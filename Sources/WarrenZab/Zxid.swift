/// A server's id in the ensemble (ZooKeeper's `sid`, from `myid`).
public typealias ServerId = Int64

/// A transaction id: the leader epoch in the high 32 bits and a per-epoch counter in the low 32 bits, so zxids
/// order first by epoch, then by proposal order inside the epoch. Counter 0 is never a proposal: `Zxid(epoch: e,
/// counter: 0)` is "the start of epoch e" and `Zxid.zero` is the empty history.
public struct Zxid: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The largest counter a leader may use; proposing past it forces a new election (a new epoch).
    public static let counterMax: Int64 = 0xffff_ffff
    public static let zero = Zxid(raw: 0)

    public let raw: Int64

    public init(raw: Int64) { self.raw = raw }

    public init(epoch: Int64, counter: Int64) {
        precondition(epoch >= 0 && epoch <= Int64(Int32.max), "epoch \(epoch) out of range")
        precondition(counter >= 0 && counter <= Zxid.counterMax, "zxid counter \(counter) out of range")
        raw = epoch << 32 | counter
    }

    public var epoch: Int64 { raw >> 32 }
    public var counter: Int64 { raw & Zxid.counterMax }

    public static func < (a: Zxid, b: Zxid) -> Bool { a.raw < b.raw }

    /// ZooKeeper's notation, e.g. `0x300000005`, followed by epoch:counter for readability.
    public var description: String { "0x\(String(raw, radix: 16))(\(epoch):\(counter))" }
}

/// One replicated transaction. The core never looks inside `payload` (for Warren it is a `Txn` in Jute bytes).
public struct LogEntry: Hashable, Sendable, CustomStringConvertible {
    public var zxid: Zxid
    public var payload: [UInt8]

    public init(zxid: Zxid, payload: [UInt8]) {
        self.zxid = zxid
        self.payload = payload
    }

    public var description: String { "\(zxid)[\(payload.count)B]" }
}
