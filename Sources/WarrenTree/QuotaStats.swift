/// The text ZooKeeper keeps in quota limit and stat nodes (its `StatsTrack`): `key=value` pairs of 64-bit integers,
/// separated by runs of "," or ";", e.g. `count=3,bytes=4`. An absent key reads as -1.
///
/// Formatting puts `count` and `bytes` first (always, -1 when absent) and, if other keys exist, a spurious "=" and
/// then `;key=value` for each in key order, e.g. `count=1,bytes=2=;byteHardLimit=10;countHardLimit=5`: the layout
/// ZooKeeper chose so that pre-3.5 parsers still read the first two fields.
struct QuotaStats: Equatable {
    static let countKey = "count"
    static let bytesKey = "bytes"

    private(set) var values: [String: Int64] = [:]

    init(count: Int64, bytes: Int64) {
        values = [QuotaStats.countKey: count, QuotaStats.bytesKey: bytes]
    }

    /// Parses node data the way ZooKeeper does; nil where ZooKeeper's parser throws (null data, a pair without a
    /// value, a value that is not a decimal `long`). Empty data parses to no keys. An empty value ("count==5")
    /// reads as -1, as in ZooKeeper.
    init?(parsing data: [UInt8]?) {
        guard let data else { return nil }
        // Decode like Java (malformed UTF-8 becomes U+FFFD), then split on ASCII bytes, which never occur inside a
        // multi-byte sequence: splitting by Character would glue a separator to a following combining mark.
        let text = Array(String(decoding: data, as: UTF8.self).utf8)
        for pair in QuotaStats.javaSplit(text, runsOf: [UInt8(ascii: ","), UInt8(ascii: ";")]) {
            let parts = QuotaStats.javaSplit(pair, runsOf: nil)
            guard parts.count >= 2 else { return nil }
            let key = String(decoding: parts[0], as: UTF8.self)
            if parts[1].isEmpty {
                values[key] = -1
            } else {
                guard let value = Int64(String(decoding: parts[1], as: UTF8.self)) else { return nil }
                values[key] = value
            }
        }
    }

    var count: Int64 {
        get { values[QuotaStats.countKey] ?? -1 }
        set { values[QuotaStats.countKey] = newValue }
    }

    var bytes: Int64 {
        get { values[QuotaStats.bytesKey] ?? -1 }
        set { values[QuotaStats.bytesKey] = newValue }
    }

    var text: String {
        var out = "\(QuotaStats.countKey)=\(count),\(QuotaStats.bytesKey)=\(bytes)"
        // Java sorts the extra keys by UTF-16 code units; so must every replica, byte for byte.
        let extra = values.keys
            .filter { $0 != QuotaStats.countKey && $0 != QuotaStats.bytesKey }
            .sorted { $0.utf16.lexicographicallyPrecedes($1.utf16) }
        if !extra.isEmpty {
            out += "="
            for key in extra { out += ";\(key)=\(values[key]!)" }
        }
        return out
    }

    /// The text as node data (UTF-8).
    var encoded: [UInt8] { Array(text.utf8) }

    /// Java's `split`: with `runsOf` separators, `Pattern.compile("[,;]+").split`, where a run of them is one
    /// separator; with nil, `split("=")`, where each "=" is one. A leading separator yields an empty first piece,
    /// trailing empty pieces are dropped, and empty input has no pieces (ZooKeeper checks for it before splitting).
    private static func javaSplit(_ bytes: ArraySlice<UInt8>, runsOf separators: Set<UInt8>?) -> [ArraySlice<UInt8>] {
        if bytes.isEmpty { return [] }
        let isSeparator: (UInt8) -> Bool = { separators?.contains($0) ?? ($0 == UInt8(ascii: "=")) }
        var pieces: [ArraySlice<UInt8>] = []
        var start = bytes.startIndex
        var i = bytes.startIndex
        while i < bytes.endIndex {
            guard isSeparator(bytes[i]) else {
                i += 1
                continue
            }
            pieces.append(bytes[start..<i])
            i += 1
            if separators != nil {
                while i < bytes.endIndex && isSeparator(bytes[i]) { i += 1 }
            }
            start = i
        }
        pieces.append(bytes[start..<bytes.endIndex])
        while pieces.last?.isEmpty == true { pieces.removeLast() }
        return pieces
    }

    private static func javaSplit(_ bytes: [UInt8], runsOf separators: Set<UInt8>?) -> [ArraySlice<UInt8>] {
        javaSplit(bytes[...], runsOf: separators)
    }
}
