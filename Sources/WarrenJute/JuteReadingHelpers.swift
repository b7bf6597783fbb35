/// Reading conventions shared by the client records.
///
/// ZooKeeper's Java client never sends a null path or a null list where the schema's meaning is "a path" or "a
/// list", so these records model them as non-optional and read a Jute null (-1) as empty. Payload buffers whose null
/// is observable (znode data) stay optional so that a null survives a round trip byte for byte.
extension JuteReader {
    /// A `ustring` where null is read as "".
    @usableFromInline mutating func readUString() throws -> String { try readString() ?? "" }

    /// A `buffer` where null is read as no bytes.
    @usableFromInline mutating func readBytes() throws -> [UInt8] { try readBuffer() ?? [] }

    /// A `vector<ustring>` where null is read as an empty list (and null elements as "").
    @usableFromInline mutating func readStrings() throws -> [String] { try readVector { try $0.readUString() } ?? [] }

    /// A `vector<ACL>` where null, or any negative count, is read as an empty list: ZooKeeper's reader loops
    /// zero times on a negative count, so such a create fails as InvalidACL rather than as a marshalling error.
    @usableFromInline mutating func readACLs() throws -> [ACL] {
        var peek = self
        if try peek.readInt() < 0 {
            self = peek
            return []
        }
        return try readVector { try $0.read(ACL.self) } ?? []
    }

    /// A request's path, where null is malformed (ZooKeeper fails such a request with MarshallingError).
    @usableFromInline mutating func readRequiredPath() throws -> String {
        guard let path = try readString() else { throw JuteError.badValue("null path") }
        return path
    }
}

extension JuteWriter {
    @usableFromInline mutating func writeStrings(_ v: [String]) { writeVector(v) { $0.writeString($1) } }
    @usableFromInline mutating func writeACLs(_ v: [ACL]) { writeVector(v) { $0.write($1) } }
}
