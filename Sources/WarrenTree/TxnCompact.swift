import WarrenJute

/// Warren's own encoding of a txn for the log and for replication: the same fields as the Jute txn layout
/// (`Txn.encode(to:)`), without what is redundant or fixed-width for no reason.
///
/// Why: the log holds every txn since the oldest retained snapshot, and every byte of a txn is copied, checksummed
/// and sent to each follower. For a create of a 100-byte value the Jute layout spends ~100 bytes on the rest
/// (4-byte lengths, 8-byte times, the 31-byte `world:anyone` ACL, the zxid the log record already carries); this
/// encoding spends ~50.
///
/// Layout (varints are LEB128; signed fields are zigzag varints, written `z`):
///
///     sessionId  8 bytes big-endian     (high bits are the server id; a varint would not be shorter)
///     cxid       z
///     timeMs     z
///     body       type byte (the opcode as Int8), then per type:
///         create            path, data, acl, ephemeral byte, parentCVersion z
///         createContainer   path, data, acl, parentCVersion z
///         createTTL         path, data, acl, parentCVersion z, ttlMs z
///         delete, deleteContainer   path
///         setData           path, data, version z
///         setACL            path, acl, version z
///         check             path, version z
///         error             code z
///         createSession     timeoutMs z
///         closeSession      count, paths
///         multi             count, bodies (each a type byte and its fields, as above)
///     path/string  varint length, UTF-8 bytes
///     data         varint 0 for null, else length + 1, then the bytes
///     acl          varint 0 for `ACL.openUnsafe` (world:anyone, all rights: nearly every node), else count + 1,
///                  then per entry perms varint, scheme string, id string
///
/// The zxid is not stored: the caller passes the one its log record or proposal carries. Decoding accepts nothing
/// but exactly one txn: trailing bytes, a truncated field, an unknown opcode or error code, a length beyond the
/// buffer or a type not allowed inside a multi throw `JuteError`.
extension Txn {
    public func compactBytes() -> [UInt8] {
        var w = CompactWriter()
        w.bytes.reserveCapacity(32 + body.compactSizeHint)
        for shift in stride(from: 56, through: 0, by: -8) { w.bytes.append(UInt8(truncatingIfNeeded: header.sessionId >> Int64(shift))) }
        w.signed(Int64(header.cxid))
        w.signed(header.timeMs)
        body.encodeCompact(to: &w)
        return w.bytes
    }

    /// Decodes `compactBytes()` output; `zxid` is the txn's zxid (from the log record or proposal that held it).
    public init(compact bytes: [UInt8], zxid: Int64) throws {
        var r = CompactReader(bytes)
        var sessionId: Int64 = 0
        for _ in 0..<8 { sessionId = sessionId << 8 | Int64(try r.byte()) }
        let cxid = try r.int32()
        let timeMs = try r.signed()
        let body = try TxnBody.decodeCompact(from: &r, insideMulti: false)
        guard r.isAtEnd else { throw JuteError.badValue("\(r.remaining) bytes after the txn") }
        self.init(header: TxnHeader(sessionId: sessionId, cxid: cxid, zxid: zxid, timeMs: timeMs), body: body)
    }
}

extension TxnBody {
    fileprivate var compactSizeHint: Int {
        switch self {
        case let .create(path, data, _, _, _), let .createContainer(path, data, _, _), let .createTTL(path, data, _, _, _),
             let .setData(path, data, _):
            return path.utf8.count + (data?.count ?? 0) + 16
        case let .multi(bodies): return bodies.reduce(8) { $0 + $1.compactSizeHint }
        default: return 64
        }
    }

    fileprivate func encodeCompact(to w: inout CompactWriter) {
        w.bytes.append(UInt8(bitPattern: Int8(truncatingIfNeeded: type.rawValue)))
        switch self {
        case let .create(path, data, acl, ephemeral, parentCVersion):
            w.string(path)
            w.data(data)
            w.acl(acl)
            w.bytes.append(ephemeral ? 1 : 0)
            w.signed(Int64(parentCVersion))
        case let .createContainer(path, data, acl, parentCVersion):
            w.string(path)
            w.data(data)
            w.acl(acl)
            w.signed(Int64(parentCVersion))
        case let .createTTL(path, data, acl, parentCVersion, ttlMs):
            w.string(path)
            w.data(data)
            w.acl(acl)
            w.signed(Int64(parentCVersion))
            w.signed(ttlMs)
        case let .delete(path), let .deleteContainer(path):
            w.string(path)
        case let .setData(path, data, version):
            w.string(path)
            w.data(data)
            w.signed(Int64(version))
        case let .setACL(path, acl, version):
            w.string(path)
            w.acl(acl)
            w.signed(Int64(version))
        case let .check(path, version):
            w.string(path)
            w.signed(Int64(version))
        case let .error(code):
            w.signed(Int64(code.rawValue))
        case let .createSession(timeoutMs):
            w.signed(Int64(timeoutMs))
        case let .closeSession(paths):
            w.varint(UInt64(paths.count))
            for p in paths { w.string(p) }
        case let .multi(bodies):
            w.varint(UInt64(bodies.count))
            for b in bodies { b.encodeCompact(to: &w) }
        }
    }

    fileprivate static func decodeCompact(from r: inout CompactReader, insideMulti: Bool) throws -> TxnBody {
        let rawType = Int32(Int8(bitPattern: try r.byte()))
        guard let type = OpCode(rawValue: rawType) else { throw JuteError.badValue("txn type \(rawType)") }
        if insideMulti && ![.create, .createContainer, .createTTL, .delete, .deleteContainer, .setData, .check, .error].contains(type) {
            throw JuteError.badValue("txn type \(type) inside multi")
        }
        switch type {
        case .create:
            return .create(path: try r.string(), data: try r.data(), acl: try r.acl(), ephemeral: try r.byte() != 0,
                           parentCVersion: try r.int32())
        case .createContainer:
            return .createContainer(path: try r.string(), data: try r.data(), acl: try r.acl(), parentCVersion: try r.int32())
        case .createTTL:
            return .createTTL(path: try r.string(), data: try r.data(), acl: try r.acl(), parentCVersion: try r.int32(),
                              ttlMs: try r.signed())
        case .delete: return .delete(path: try r.string())
        case .deleteContainer: return .deleteContainer(path: try r.string())
        case .setData: return .setData(path: try r.string(), data: try r.data(), version: try r.int32())
        case .setACL: return .setACL(path: try r.string(), acl: try r.acl(), version: try r.int32())
        case .check: return .check(path: try r.string(), version: try r.int32())
        case .error:
            let raw = try r.int32()
            guard let code = ErrorCode(rawValue: raw) else { throw JuteError.badValue("error code \(raw)") }
            return .error(code)
        case .createSession: return .createSession(timeoutMs: try r.int32())
        case .closeSession:
            let n = try r.count()
            var paths: [String] = []
            paths.reserveCapacity(n)
            for _ in 0..<n { paths.append(try r.string()) }
            return .closeSession(paths: paths)
        case .multi where !insideMulti:
            let n = try r.count()
            var bodies: [TxnBody] = []
            bodies.reserveCapacity(n)
            for _ in 0..<n { bodies.append(try decodeCompact(from: &r, insideMulti: true)) }
            return .multi(bodies)
        default:
            throw JuteError.badValue("txn type \(type)")
        }
    }
}

/// Appends the compact encoding's primitives.
private struct CompactWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func signed(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { utf8 in
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func data(_ d: [UInt8]?) {
        guard let d else { return varint(0) }
        varint(UInt64(d.count) + 1)
        bytes.append(contentsOf: d)
    }

    mutating func acl(_ acl: [ACL]) {
        if acl == ACL.openUnsafe { return varint(0) }
        varint(UInt64(acl.count) + 1)
        for entry in acl {
            varint(UInt64(UInt32(bitPattern: entry.perms.rawValue)))
            string(entry.id.scheme)
            string(entry.id.id)
        }
    }
}

/// Reads the compact encoding's primitives, bounds-checked; every failure is a `JuteError`.
private struct CompactReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw JuteError.truncated(needed: 1, available: 0) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64, shift < 63 || b <= 1 else { throw JuteError.badValue("varint longer than 64 bits") }
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    mutating func signed() throws -> Int64 {
        let u = try varint()
        return Int64(bitPattern: u >> 1) ^ -Int64(bitPattern: u & 1)
    }

    mutating func int32() throws -> Int32 {
        let v = try signed()
        guard let narrow = Int32(exactly: v) else { throw JuteError.badValue("\(v) does not fit 32 bits") }
        return narrow
    }

    /// A length or element count; each element takes at least one byte, so it cannot exceed what is left.
    mutating func count() throws -> Int {
        let n = try varint()
        guard n <= UInt64(remaining) else { throw JuteError.badLength(Int32(clamping: n)) }
        return Int(n)
    }

    mutating func raw(_ n: Int) -> ArraySlice<UInt8> {
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func string() throws -> String {
        let n = try count()
        guard let s = String(validating: raw(n), as: UTF8.self) else { throw JuteError.badUTF8 }
        return s
    }

    mutating func data() throws -> [UInt8]? {
        let tagged = try varint()
        if tagged == 0 { return nil }
        guard tagged - 1 <= UInt64(remaining) else { throw JuteError.badLength(Int32(clamping: tagged - 1)) }
        return Array(raw(Int(tagged - 1)))
    }

    mutating func acl() throws -> [ACL] {
        let tagged = try varint()
        if tagged == 0 { return ACL.openUnsafe }
        guard tagged - 1 <= UInt64(remaining) else { throw JuteError.badLength(Int32(clamping: tagged - 1)) }
        var out: [ACL] = []
        out.reserveCapacity(Int(tagged - 1))
        for _ in 0..<(tagged - 1) {
            let perms = try varint()
            guard let bits = UInt32(exactly: perms) else { throw JuteError.badValue("ACL perms \(perms)") }
            out.append(ACL(perms: Perms(rawValue: Int32(bitPattern: bits)), id: Id(scheme: try string(), id: try string())))
        }
        return out
    }
}
