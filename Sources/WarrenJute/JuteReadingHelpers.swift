/// Reading conventions shared by the client records.
///
/// ZooKeeper's Java client never sends a null path or a null list where the schema's meaning is "a path" or "a
/// list", so these records model them as non-optional and read a Jute null (-1) as empty. Payload buffers whose null
/// is observable (znode data) stay optional so that a null survives a round trip byte for byte.
extension JuteReader {
    /// A `ustring` where null is read as "".
    mutating func readUString() throws -> String { try readString() ?? "" }

    /// A `buffer` where null is read as no bytes.
    mutating func readBytes() throws -> [UInt8] { try readBuffer() ?? [] }

    /// A `vector<ustring>` where null is read as an empty list (and null elements as "").
    mutating func readStrings() throws -> [String] { try readVector { try $0.readUString() } ?? [] }

    /// A `vector<ACL>` where null is read as an empty list.
    mutating func readACLs() throws -> [ACL] { try readVector { try $0.read(ACL.self) } ?? [] }
}

extension JuteWriter {
    mutating func writeStrings(_ v: [String]) { writeVector(v) { $0.writeString($1) } }
    mutating func writeACLs(_ v: [ACL]) { writeVector(v) { $0.write($1) } }
}
