/// The encoding of one node's name, data and slowly changing stat fields, as stored in a `BlobArena`.
///
/// Layout: `UInt32 slot` (little-endian; lets compaction find the owner), `UInt8 flags`, then LEB128 varints
/// `nameLength`, `dataLength`, `czxid`, `ctime` (with flag 64: zigzag of `ctime - timeBase`, the arena's base, so
/// nodes created near each other take 2-4 bytes instead of 6), and only when they differ from their usual value: `mzxid - czxid`,
/// `mtime - ctime`, `version`, `aversion` (varints), `ephemeralOwner` (8 bytes, little-endian); then the name bytes
/// (the last path component, UTF-8) and the data bytes. A fresh persistent node with 100 bytes of data and a 7-byte
/// name takes 4 + 1 + 1 + 1 + 3 + 2..4 + 7 + 100 = 119..121 bytes instead of ~300 as separate Swift values.
///
/// `cversion` and `pzxid` change with every child creation, so they live in the node's `NodeExt` (or take their
/// defaults 0 and czxid without one); a blob is rewritten only when data, mzxid/mtime/version or aversion change.
struct NodeBlob {
    static let dataNull: UInt8 = 1
    static let hasMzxid: UInt8 = 2
    static let hasMtime: UInt8 = 4
    static let hasVersion: UInt8 = 8
    static let hasAversion: UInt8 = 16
    static let hasOwner: UInt8 = 32
    static let relativeCtime: UInt8 = 64
    /// The flags that say which stat fields are present (snapshot version 2 reuses them).
    static let statFlags: UInt8 = hasMzxid | hasMtime | hasVersion | hasAversion | hasOwner

    var flags: UInt8 = 0
    var nameLength = 0
    var dataLength = 0
    var czxid: Int64 = 0
    var ctime: Int64 = 0
    var mzxid: Int64 = 0
    var mtime: Int64 = 0
    var version: Int32 = 0
    var aversion: Int32 = 0
    var ephemeralOwner: Int64 = 0
    /// Offset of the name from the blob's start; the data follows the name.
    var nameOffset = 0
    /// The arena's time base this header was encoded or decoded with.
    var timeBase: Int64 = 0

    var isDataNull: Bool { flags & NodeBlob.dataNull != 0 }
    var dataOffset: Int { nameOffset + nameLength }
    /// Encoded length in bytes.
    var byteCount: Int { nameOffset + nameLength + dataLength }

    /// The fields a blob would hold for this stat (cversion and pzxid are not stored here).
    init(nameLength: Int, data: [UInt8]?, stat: PersistedStat, timeBase: Int64) {
        self.init(nameLength: nameLength, dataLength: data?.count, stat: stat, timeBase: timeBase)
    }

    /// `dataLength` nil means null data; `timeBase` is the arena's (0: ctime stored as is).
    init(nameLength: Int, dataLength: Int?, stat: PersistedStat, timeBase: Int64) {
        self.nameLength = nameLength
        self.dataLength = dataLength ?? 0
        czxid = stat.czxid
        ctime = stat.ctime
        mzxid = stat.mzxid
        mtime = stat.mtime
        version = stat.version
        aversion = stat.aversion
        ephemeralOwner = stat.ephemeralOwner
        if dataLength == nil { flags |= NodeBlob.dataNull }
        if mzxid != czxid { flags |= NodeBlob.hasMzxid }
        if mtime != ctime { flags |= NodeBlob.hasMtime }
        if version != 0 { flags |= NodeBlob.hasVersion }
        if aversion != 0 { flags |= NodeBlob.hasAversion }
        if ephemeralOwner != 0 { flags |= NodeBlob.hasOwner }
        if timeBase != 0 { flags |= NodeBlob.relativeCtime }
        self.timeBase = timeBase
        var n = 5 + NodeBlob.varintBytes(UInt64(nameLength)) + NodeBlob.varintBytes(UInt64(self.dataLength))
        n += NodeBlob.varintBytes(UInt64(bitPattern: czxid)) + NodeBlob.varintBytes(storedCtime)
        if flags & NodeBlob.hasMzxid != 0 { n += NodeBlob.varintBytes(UInt64(bitPattern: mzxid &- czxid)) }
        if flags & NodeBlob.hasMtime != 0 { n += NodeBlob.varintBytes(UInt64(bitPattern: mtime &- ctime)) }
        if flags & NodeBlob.hasVersion != 0 { n += NodeBlob.varintBytes(UInt64(UInt32(bitPattern: version))) }
        if flags & NodeBlob.hasAversion != 0 { n += NodeBlob.varintBytes(UInt64(UInt32(bitPattern: aversion))) }
        if flags & NodeBlob.hasOwner != 0 { n += 8 }
        nameOffset = n
    }

    /// Decodes the header of the blob at `p`, whose arena has `timeBase`.
    @inline(__always)
    init(at p: UnsafeRawPointer, timeBase: Int64) {
        self.timeBase = timeBase
        flags = p.load(fromByteOffset: 4, as: UInt8.self)
        var i = 5
        nameLength = Int(NodeBlob.readVarint(p, &i))
        dataLength = Int(NodeBlob.readVarint(p, &i))
        czxid = Int64(bitPattern: NodeBlob.readVarint(p, &i))
        let storedCtime = NodeBlob.readVarint(p, &i)
        if flags & NodeBlob.relativeCtime != 0 {
            ctime = timeBase &+ Int64(bitPattern: (storedCtime >> 1) ^ (0 &- (storedCtime & 1)))
        } else {
            ctime = Int64(bitPattern: storedCtime)
        }
        mzxid = czxid
        mtime = ctime
        if flags & NodeBlob.hasMzxid != 0 { mzxid = czxid &+ Int64(bitPattern: NodeBlob.readVarint(p, &i)) }
        if flags & NodeBlob.hasMtime != 0 { mtime = ctime &+ Int64(bitPattern: NodeBlob.readVarint(p, &i)) }
        if flags & NodeBlob.hasVersion != 0 { version = Int32(bitPattern: UInt32(truncatingIfNeeded: NodeBlob.readVarint(p, &i))) }
        if flags & NodeBlob.hasAversion != 0 { aversion = Int32(bitPattern: UInt32(truncatingIfNeeded: NodeBlob.readVarint(p, &i))) }
        if flags & NodeBlob.hasOwner != 0 {
            ephemeralOwner = Int64(littleEndian: p.loadUnaligned(fromByteOffset: i, as: Int64.self))
            i += 8
        }
        nameOffset = i
    }

    /// Writes the whole blob at `p`: header, slot number, then `name` and `data` (which must have the lengths this
    /// header was made for).
    func write(to p: UnsafeMutableRawPointer, slot: Int32, name: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer?) {
        writeHeader(to: p, slot: slot)
        if name.count > 0 { (p + nameOffset).copyMemory(from: name.baseAddress!, byteCount: name.count) }
        if let data, data.count > 0 { (p + dataOffset).copyMemory(from: data.baseAddress!, byteCount: data.count) }
    }

    private func writeHeader(to p: UnsafeMutableRawPointer, slot: Int32) {
        p.storeBytes(of: UInt32(bitPattern: slot).littleEndian, toByteOffset: 0, as: UInt32.self)
        p.storeBytes(of: flags, toByteOffset: 4, as: UInt8.self)
        var i = 5
        NodeBlob.writeVarint(UInt64(nameLength), p, &i)
        NodeBlob.writeVarint(UInt64(dataLength), p, &i)
        NodeBlob.writeVarint(UInt64(bitPattern: czxid), p, &i)
        NodeBlob.writeVarint(storedCtime, p, &i)
        if flags & NodeBlob.hasMzxid != 0 { NodeBlob.writeVarint(UInt64(bitPattern: mzxid &- czxid), p, &i) }
        if flags & NodeBlob.hasMtime != 0 { NodeBlob.writeVarint(UInt64(bitPattern: mtime &- ctime), p, &i) }
        if flags & NodeBlob.hasVersion != 0 { NodeBlob.writeVarint(UInt64(UInt32(bitPattern: version)), p, &i) }
        if flags & NodeBlob.hasAversion != 0 { NodeBlob.writeVarint(UInt64(UInt32(bitPattern: aversion)), p, &i) }
        if flags & NodeBlob.hasOwner != 0 {
            p.storeBytes(of: ephemeralOwner.littleEndian, toByteOffset: i, as: Int64.self)
            i += 8
        }
        precondition(i == nameOffset, "blob header wrote \(i) bytes, sized \(nameOffset)")
    }

    /// ctime as stored: zigzag of the difference from the base when relative, else its bits.
    private var storedCtime: UInt64 {
        guard flags & NodeBlob.relativeCtime != 0 else { return UInt64(bitPattern: ctime) }
        let d = ctime &- timeBase
        return UInt64(bitPattern: (d << 1) ^ (d >> 63))
    }

    static func slot(at p: UnsafeRawPointer) -> Int32 {
        Int32(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
    }

    @inline(__always)
    static func varintBytes(_ v: UInt64) -> Int {
        v == 0 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7
    }

    @inline(__always)
    static func readVarint(_ p: UnsafeRawPointer, _ i: inout Int) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = p.load(fromByteOffset: i, as: UInt8.self)
            i += 1
            v |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return v }
            shift += 7
        }
    }

    @inline(__always)
    static func writeVarint(_ value: UInt64, _ p: UnsafeMutableRawPointer, _ i: inout Int) {
        var v = value
        while v >= 0x80 {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v) | 0x80, toByteOffset: i, as: UInt8.self)
            v >>= 7
            i += 1
        }
        p.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
        i += 1
    }
}
