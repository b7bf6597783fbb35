import WarrenJute

/// What a file name asks for. Names may end in "magic" suffixes that choose how a node is created or written;
/// the suffixes never become part of the znode name.
///
/// Suffixes are read from the end of the name, each starting with "@": `@ephemeral`/`@e`, `@sequential`/`@s`,
/// `@container`, `@ttl=SECONDS`, `@v=N`, `@held`. Reading stops at the first "@" part that is not a suffix, so
/// `user@host` is a plain name and `user@host@e` is an ephemeral called `user@host`.
public struct NameSpec: Equatable, Sendable {
    /// The znode name (the prefix, for a sequential create).
    public var base: String
    public var ephemeral = false
    public var sequential = false
    public var container = false
    /// The TTL of a `@ttl=` node, in milliseconds.
    public var ttlMs: Int64?
    /// `@v=N`: write only if the node's version is N.
    public var expectedVersion: Int32?
    /// `@held`: an ephemeral deleted when the handle that created it is last closed.
    public var held = false

    public init(base: String) { self.base = base }

    /// Whether any suffix was given.
    public var hasSuffixes: Bool {
        ephemeral || sequential || container || ttlMs != nil || expectedVersion != nil || held
    }

    /// Whether the name asks for a new node (rather than a conditional write to an existing one).
    public var createsNode: Bool { ephemeral || sequential || container || ttlMs != nil || held }

    /// The create mode the suffixes select.
    public var createMode: CreateMode {
        if container { return .container }
        if ttlMs != nil { return sequential ? .persistentSequentialWithTTL : .persistentWithTTL }
        if ephemeral || held { return sequential ? .ephemeralSequential : .ephemeral }
        return sequential ? .persistentSequential : .persistent
    }
}

/// Why a name with suffixes is refused (EINVAL).
public enum NameError: Error, Equatable, Sendable {
    case conflictingSuffixes(String)
    case badNumber(String)
    case emptyName
}

extension NameSpec {
    /// Parses `name`. A name without suffixes comes back with `hasSuffixes == false` and `base == name`.
    /// - Throws: `NameError` for suffixes that contradict each other (`@container@e`, `@v=1@s`, `@ttl` with an
    ///   ephemeral), a bad number, or an empty name without `@s`.
    public static func parse(_ name: String) throws -> NameSpec {
        var spec = NameSpec(base: name)
        var rest = Substring(name)
        while let at = rest.lastIndex(of: "@") {
            let token = rest[rest.index(after: at)...]
            guard try spec.apply(token) else { break }
            rest = rest[..<at]
        }
        spec.base = String(rest)
        guard spec.hasSuffixes else { return spec }
        if spec.container && (spec.ephemeral || spec.sequential || spec.ttlMs != nil || spec.held) {
            throw NameError.conflictingSuffixes("@container combines with no other creation suffix")
        }
        if spec.ttlMs != nil && (spec.ephemeral || spec.held) {
            throw NameError.conflictingSuffixes("@ttl is for persistent nodes, not ephemerals")
        }
        if spec.expectedVersion != nil && spec.createsNode {
            throw NameError.conflictingSuffixes("@v=N writes an existing node; it does not combine with creation")
        }
        if spec.base.isEmpty && !spec.sequential { throw NameError.emptyName }
        return spec
    }

    /// Applies one suffix token; false if `token` is not a suffix.
    private mutating func apply(_ token: Substring) throws -> Bool {
        switch token {
        case "e", "ephemeral": ephemeral = true
        case "s", "sequential": sequential = true
        case "container": container = true
        case "held": held = true
        default:
            if let value = token.stripPrefix("ttl=") {
                guard let seconds = Int64(value), seconds > 0, seconds <= Int64.max / 1000 else {
                    throw NameError.badNumber("@ttl=\(value)")
                }
                ttlMs = seconds * 1000
            } else if let value = token.stripPrefix("v=") {
                guard let version = Int32(value), version >= 0 else { throw NameError.badNumber("@v=\(value)") }
                expectedVersion = version
            } else {
                return false
            }
        }
        return true
    }
}

extension Substring {
    fileprivate func stripPrefix(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
