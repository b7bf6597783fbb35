/// An `ip` ACL expression: an IPv4 or IPv6 address with an optional "/prefix-bits" (CIDR). ZooKeeper 3.8 only
/// understands IPv4; IPv6 is accepted here as newer ZooKeeper versions do. An address matches only patterns of
/// its own family.
struct IPPattern: Equatable {
    var address: [UInt8]
    var prefixBits: Int

    init?(_ expression: String) {
        let parts = expression.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPPattern.parseAddress(String(parts[0])) else { return nil }
        var bits = address.count * 8
        if parts.count == 2 {
            guard let parsed = IPPattern.parseJavaInt(parts[1]), parsed >= 0, parsed <= bits else { return nil }
            bits = parsed
        }
        self.address = IPPattern.mask(address, bits)
        self.prefixBits = bits
    }

    func matches(_ other: [UInt8]) -> Bool {
        other.count == address.count && IPPattern.mask(other, prefixBits) == address
    }

    /// Zeroes every bit after the first `bits`.
    static func mask(_ bytes: [UInt8], _ bits: Int) -> [UInt8] {
        var out = bytes
        for i in 0..<out.count {
            let keep = bits - i * 8
            if keep <= 0 { out[i] = 0 } else if keep < 8 { out[i] &= ~UInt8(0xFF >> keep) }
        }
        return out
    }

    /// 4 bytes for dotted IPv4, 16 for IPv6 text (with "::" compression, an optional trailing dotted IPv4 and an
    /// optional "%zone", which is ignored), nil otherwise.
    static func parseAddress(_ s: String) -> [UInt8]? {
        if let v4 = parseV4(Substring(s)) { return v4 }
        return parseV6(s)
    }

    /// Four decimal fields 0...255, each parsed like Java's `Integer.parseInt` (an optional sign, digits).
    static func parseV4(_ s: Substring) -> [UInt8]? {
        let fields = s.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 4 else { return nil }
        var out: [UInt8] = []
        for field in fields {
            guard let v = parseJavaInt(field), v >= 0, v <= 255 else { return nil }
            out.append(UInt8(v))
        }
        return out
    }

    static func parseV6(_ text: String) -> [UInt8]? {
        var s = Substring(text)
        if let zone = s.firstIndex(of: "%") { s = s[..<zone] }
        guard s.contains(":") else { return nil }
        let halves = splitOnDoubleColon(s)
        guard halves.count <= 2 else { return nil }
        func groups(_ part: Substring) -> [Substring]? {
            part.isEmpty ? [] : part.split(separator: ":", omittingEmptySubsequences: false)
        }
        guard let head = groups(halves[0]) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1]) ?? [] : []
        var bytes: [UInt8] = []
        func append(_ fields: [Substring], allowV4Tail: Bool) -> Bool {
            for (i, field) in fields.enumerated() {
                if allowV4Tail && i == fields.count - 1 && field.contains(".") {
                    guard let v4 = parseV4(field) else { return false }
                    bytes.append(contentsOf: v4)
                    continue
                }
                guard (1...4).contains(field.count), let v = UInt16(field, radix: 16) else { return false }
                bytes.append(UInt8(v >> 8))
                bytes.append(UInt8(v & 0xFF))
            }
            return true
        }
        guard append(head, allowV4Tail: halves.count == 1) else { return nil }
        var tailBytes: [UInt8] = []
        if halves.count == 2 {
            let headBytes = bytes
            bytes = []
            guard append(tail, allowV4Tail: true) else { return nil }
            tailBytes = bytes
            bytes = headBytes
            let gap = 16 - headBytes.count - tailBytes.count
            guard gap >= 2 else { return nil }
            bytes.append(contentsOf: [UInt8](repeating: 0, count: gap))
            bytes.append(contentsOf: tailBytes)
        }
        return bytes.count == 16 ? bytes : nil
    }

    /// `s` split at each "::" (so one element means no compression).
    static func splitOnDoubleColon(_ s: Substring) -> [Substring] {
        var parts: [Substring] = []
        var start = s.startIndex
        var i = s.startIndex
        while i < s.endIndex {
            let next = s.index(after: i)
            if s[i] == ":" && next < s.endIndex && s[next] == ":" {
                parts.append(s[start..<i])
                start = s.index(after: next)
                i = start
            } else {
                i = next
            }
        }
        parts.append(s[start...])
        return parts
    }

    /// Java's `Integer.parseInt`: optional "+" or "-", then at least one ASCII digit, within Int32.
    static func parseJavaInt(_ s: Substring) -> Int? {
        var digits = s
        var negative = false
        if let first = digits.first, first == "+" || first == "-" {
            negative = first == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int32(digits) else { return nil }
        return negative ? -Int(v) : Int(v)
    }
}
