/// Records whose wire form is their fields in order, listed once in `fields(_:)` for both directions.
///
/// Decoding starts from `init()` and visits with a reader; encoding visits a copy with a writer. The two directions
/// therefore cannot drift apart the way a hand-written `init(from:)` and `encode(to:)` pair can.
public protocol JuteFields: JuteRecord {
    /// The value decoding starts from; `fields(_:)` overwrites every field.
    init()

    /// Hands every wire field, in wire order, to `v`. Only encoding's visitor leaves the fields unchanged.
    mutating func fields<V: JuteFieldVisitor>(_ v: inout V) throws(V.Failure)
}

/// One entry point per Jute field kind. Where the Swift type alone fixes the wire form it is an overload of
/// `field`: an optional keeps a Jute null, a non-optional reads it as empty (see JuteReadingHelpers). Where ZooKeeper
/// reads one Swift type in two ways the entry point has its own name, so a record cannot pick the wrong one by
/// overload resolution.
public protocol JuteFieldVisitor {
    associatedtype Failure: Error

    mutating func field(_ v: inout Int32) throws(Failure)
    mutating func field(_ v: inout Int64) throws(Failure)
    mutating func field(_ v: inout Bool) throws(Failure)
    /// A `ustring`; null reads as "".
    mutating func field(_ v: inout String) throws(Failure)
    mutating func field(_ v: inout String?) throws(Failure)
    /// A `buffer`; null reads as no bytes.
    mutating func field(_ v: inout [UInt8]) throws(Failure)
    mutating func field(_ v: inout [UInt8]?) throws(Failure)
    /// A `vector<ustring>`; null reads as empty.
    mutating func field(_ v: inout [String]) throws(Failure)
    /// A nested record, inline.
    mutating func field<R: JuteFields>(_ v: inout R) throws(Failure)
    /// A `vector` of records; null reads as empty.
    mutating func field<R: JuteFields>(_ v: inout [R]) throws(Failure)
    /// A request's path: a `ustring` whose null fails the request (see `readRequiredPath`).
    mutating func requiredPath(_ v: inout String) throws(Failure)
    /// A `vector<ACL>` whose null or negative count reads as empty (see `readACLs`).
    mutating func acls(_ v: inout [ACL]) throws(Failure)
    /// A trailing `boolean` that older peers omit: read only if a byte remains, written only if non-nil.
    mutating func trailing(_ v: inout Bool?) throws(Failure)
}

// Inlinable, as are the records' field lists, so that other modules specialize the codec at their call sites (the
// server reads headers through `JuteReader.read`); called generically, a header took twice as long as by hand.
extension JuteFields {
    @inlinable
    public init(from r: inout JuteReader) throws {
        self.init()
        try fields(&r)
    }

    @inlinable
    public func encode(to w: inout JuteWriter) {
        var copy = self
        copy.fields(&w)
    }
}

// The reader and the writer are the two visitors themselves: a wrapper around the reader cost a copy in and out of
// it per record, measurably slower on the server's request path.
extension JuteReader: JuteFieldVisitor {
    public typealias Failure = any Error

    @inlinable public mutating func field(_ v: inout Int32) throws { v = try readInt() }
    @inlinable public mutating func field(_ v: inout Int64) throws { v = try readLong() }
    @inlinable public mutating func field(_ v: inout Bool) throws { v = try readBool() }
    @inlinable public mutating func field(_ v: inout String) throws { v = try readUString() }
    @inlinable public mutating func field(_ v: inout String?) throws { v = try readString() }
    @inlinable public mutating func field(_ v: inout [UInt8]) throws { v = try readBytes() }
    @inlinable public mutating func field(_ v: inout [UInt8]?) throws { v = try readBuffer() }
    @inlinable public mutating func field(_ v: inout [String]) throws { v = try readStrings() }
    @inlinable public mutating func field<R: JuteFields>(_ v: inout R) throws { try v.fields(&self) }
    @inlinable public mutating func field<R: JuteFields>(_ v: inout [R]) throws {
        v = try readVector { try R(from: &$0) } ?? []
    }
    @inlinable public mutating func requiredPath(_ v: inout String) throws { v = try readRequiredPath() }
    @inlinable public mutating func acls(_ v: inout [ACL]) throws { v = try readACLs() }
    @inlinable public mutating func trailing(_ v: inout Bool?) throws { v = isAtEnd ? nil : try readBool() }
}

extension JuteWriter: JuteFieldVisitor {
    public typealias Failure = Never

    @inlinable public mutating func field(_ v: inout Int32) { writeInt(v) }
    @inlinable public mutating func field(_ v: inout Int64) { writeLong(v) }
    @inlinable public mutating func field(_ v: inout Bool) { writeBool(v) }
    @inlinable public mutating func field(_ v: inout String) { writeString(v) }
    @inlinable public mutating func field(_ v: inout String?) { writeString(v) }
    @inlinable public mutating func field(_ v: inout [UInt8]) { writeBuffer(v) }
    @inlinable public mutating func field(_ v: inout [UInt8]?) { writeBuffer(v) }
    @inlinable public mutating func field(_ v: inout [String]) { writeStrings(v) }
    @inlinable public mutating func field<R: JuteFields>(_ v: inout R) { v.fields(&self) }
    @inlinable public mutating func field<R: JuteFields>(_ v: inout [R]) { writeVector(v) { $0.write($1) } }
    @inlinable public mutating func requiredPath(_ v: inout String) { writeString(v) }
    @inlinable public mutating func acls(_ v: inout [ACL]) { writeACLs(v) }
    @inlinable public mutating func trailing(_ v: inout Bool?) { if let v { writeBool(v) } }
}
