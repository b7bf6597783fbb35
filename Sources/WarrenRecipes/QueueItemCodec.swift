/// The envelope Curator's `DistributedQueue` wraps around the serialized items of one queue node: a version word
/// 0x00010001, then per item the byte 0x01, a big-endian 32-bit length and the bytes, then the byte 0x02.
public enum QueueItemCodec {
    static let version: UInt32 = 0x0001_0001
    static let itemTag: UInt8 = 0x01
    static let endTag: UInt8 = 0x02
    /// Items per node at most when decoding: a corrupt length cannot make us loop or allocate without bound.
    public static let itemsPerNodeMax = 10_000

    public static func encode(_ items: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        appendWord(version, to: &out)
        for item in items {
            out.append(itemTag)
            appendWord(UInt32(item.count), to: &out)
            out += item
        }
        out.append(endTag)
        return out
    }

    /// The items of one node; nil if `bytes` is not a well-formed envelope.
    public static func decode(_ bytes: [UInt8]) -> [[UInt8]]? {
        var at = 0
        func word() -> UInt32? {
            guard at + 4 <= bytes.count else { return nil }
            defer { at += 4 }
            return bytes[at..<at + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        guard word() == version else { return nil }
        var items: [[UInt8]] = []
        while at < bytes.count, items.count < itemsPerNodeMax {
            let tag = bytes[at]
            at += 1
            if tag == endTag { return items }
            guard tag == itemTag, let length = word(), at + Int(length) <= bytes.count else { return nil }
            items.append(Array(bytes[at..<at + Int(length)]))
            at += Int(length)
        }
        return nil
    }

    private static func appendWord(_ value: UInt32, to out: inout [UInt8]) {
        out += [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }
}
