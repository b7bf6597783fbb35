import WarrenJute

/// Who is asking: the session and the identities it has authenticated as (`addauth`), e.g. `digest:user:hash`,
/// `ip:127.0.0.1`, and `super:` for the super user.
public struct SessionContext: Sendable, Equatable {
    public var sessionId: Int64
    public var authIds: [Id]

    public init(sessionId: Int64, authIds: [Id] = []) {
        self.sessionId = sessionId
        self.authIds = authIds
    }

    /// True when the session holds a `super` identity: every ACL check passes.
    public var isSuper: Bool { authIds.contains { $0.scheme == "super" } }

    /// A super-user context (for the server's own maintenance operations and tests).
    public static func superUser(sessionId: Int64 = 0) -> SessionContext {
        SessionContext(sessionId: sessionId, authIds: [Id(scheme: "super", id: "")])
    }
}

/// ZooKeeper's ACL rules: permission checks (`ZooKeeperServer.checkACL`), ACL-list validation and expansion
/// (`PrepRequestProcessor.fixupACL`) and the built-in `world`, `auth`, `digest` and `ip` schemes.
public enum ACLRules {
    /// Whether `ids` may do something needing any of `perm` on a node with `acl`. An empty ACL allows everything,
    /// as does a `super` identity; otherwise some entry granting one of `perm` must name `world:anyone` or match one
    /// of the ids (digest: equal strings; ip: address within the entry's address/prefix).
    public static func isAllowed(_ acl: [ACL], _ perm: Perms, ids: [Id]) -> Bool {
        if acl.isEmpty { return true }
        if ids.contains(where: { $0.scheme == "super" }) { return true }
        for entry in acl where !entry.perms.intersection(perm).isEmpty {
            if entry.id.scheme == "world" && entry.id.id == "anyone" { return true }
            guard let scheme = Scheme(rawValue: entry.id.scheme) else { continue }
            for id in ids where id.scheme == entry.id.scheme {
                if scheme.matches(id: id.id, aclExpression: entry.id.id) { return true }
            }
        }
        return false
    }

    /// Validates an ACL list for create/setACL and expands it: duplicates are dropped (first kept), `auth` entries
    /// become one entry per authenticated identity of the session (digest ids; ip ids are not "authenticated" in
    /// ZooKeeper's sense). Fails with `invalidACL` for an empty list, an unknown scheme, `world` with an id other
    /// than `anyone`, `auth` with no authenticated identity, or a malformed digest/ip id.
    public static func fixup(_ acl: [ACL], authIds: [Id]) -> Result<[ACL], ErrorCode> {
        var unique: [ACL] = []
        for entry in acl where !unique.contains(entry) { unique.append(entry) }
        if unique.isEmpty { return .failure(.invalidACL) }
        var out: [ACL] = []
        for entry in unique {
            let id = entry.id
            if id.scheme == "world" && id.id == "anyone" {
                out.append(entry)
            } else if id.scheme == "auth" {
                var any = false
                for authId in authIds where Scheme(rawValue: authId.scheme)?.isAuthenticated == true {
                    any = true
                    out.append(ACL(perms: entry.perms, id: authId))
                }
                if !any { return .failure(.invalidACL) }
            } else {
                guard let scheme = Scheme(rawValue: id.scheme), scheme.isValid(id.id) else { return .failure(.invalidACL) }
                out.append(entry)
            }
        }
        return .success(out)
    }

    /// What getACL shows a reader without ADMIN permission: digest ids keep only the user name (`user:x`).
    public static func redacted(_ acl: [ACL]) -> [ACL] {
        acl.map { entry in
            guard entry.id.scheme == "digest" else { return entry }
            let user = entry.id.id.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return ACL(perms: entry.perms, id: Id(scheme: "digest", id: user + ":x"))
        }
    }

    /// The digest ACL id for credentials "user:password": `user:base64(sha1("user:password"))`. The whole
    /// credential string is hashed, as in ZooKeeper's `DigestAuthenticationProvider.generateDigest`.
    public static func digestId(credentials: String) -> String {
        let user = credentials.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return user + ":" + Base64.encode(SHA1.hash(Array(credentials.utf8)))
    }

    public static func digestId(user: String, password: String) -> String {
        digestId(credentials: user + ":" + password)
    }

    /// The identities an `addauth digest user:password` grants, in the order ZooKeeper adds them: `super:` first
    /// when the digest equals the configured super digest, then `digest:<id>`.
    public static func digestAuthIds(credentials: String, superDigest: String?) -> [Id] {
        let id = digestId(credentials: credentials)
        var ids: [Id] = []
        if let superDigest, id == superDigest { ids.append(Id(scheme: "super", id: "")) }
        ids.append(Id(scheme: "digest", id: id))
        return ids
    }

    /// The authentication schemes the server knows (`ProviderRegistry`'s defaults).
    enum Scheme: String {
        case digest
        case ip

        var isAuthenticated: Bool { self == .digest }

        func isValid(_ id: String) -> Bool {
            switch self {
            case .digest: return javaSplit(id, on: ":").count == 2
            case .ip: return IPPattern(id) != nil
            }
        }

        func matches(id: String, aclExpression: String) -> Bool {
            switch self {
            case .digest: return id == aclExpression
            case .ip:
                guard let pattern = IPPattern(aclExpression), let address = IPPattern.parseAddress(id) else { return false }
                return pattern.matches(address)
            }
        }
    }

    /// Java's `String.split(regex)` for a literal one-character separator: trailing empty fields are removed.
    static func javaSplit(_ s: String, on separator: Character) -> [Substring] {
        if s.isEmpty { return [Substring(s)] }
        var parts = s.split(separator: separator, omittingEmptySubsequences: false)
        while let last = parts.last, last.isEmpty { parts.removeLast() }
        return parts
    }
}

extension DataTree {
    /// The digest ACL id for `user:password` (for `addauth digest` and for building ACLs).
    public static func digestId(user: String, password: String) -> String {
        ACLRules.digestId(user: user, password: password)
    }

    /// The identities an auth packet with scheme "digest" and `credentials` ("user:password") grants, including
    /// `super:` when they match this tree's configured super digest.
    public func digestAuthIds(credentials: String) -> [Id] {
        ACLRules.digestAuthIds(credentials: credentials, superDigest: config.superDigest)
    }
}
