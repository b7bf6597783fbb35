/// TLS settings as ZooKeeper's `ssl.*` keys give them (`ssl.` for client connections, `ssl.quorum.` for the
/// ensemble), so a zoo.cfg written for ZooKeeper's Netty TLS carries over unchanged. Pure: no file is read here.
public struct TLSSettings: Equatable, Sendable {
    /// A key or trust store's format. ZooKeeper infers it from the file name when `*.type` is absent.
    public enum StoreType: String, Equatable, Sendable {
        case pem = "PEM", pkcs12 = "PKCS12", jks = "JKS"
    }

    /// `ssl.clientAuth`: whether a server asks for, and requires, the client's certificate.
    public enum ClientAuth: String, Equatable, Sendable {
        case need, want, none
    }

    /// A TLS protocol version, lowest first.
    public enum ProtocolVersion: Int, Comparable, Sendable {
        case tls1 = 0, tls11, tls12, tls13
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
        static let names: [String: ProtocolVersion] = [
            "TLSv1": .tls1, "TLSv1.1": .tls11, "TLSv1.2": .tls12, "TLSv1.3": .tls13, "TLS": .tls13,
        ]
    }

    public struct Store: Equatable, Sendable {
        public var path: String
        public var password: String?
        public var type: StoreType
        /// A PEM key store's private key when it is in a file of its own (zkfs's `tls_key`); nil = in `path`.
        public var keyPath: String? = nil

        public init(path: String, password: String?, type: StoreType, keyPath: String? = nil) {
            self.path = path
            self.password = password
            self.type = type
            self.keyPath = keyPath
        }
    }

    /// The certificate chain and private key this side presents (PEM: key and chain in one file, as ZooKeeper).
    public var keyStore: Store?
    /// The certificates that may sign the peer's; nil = the system's roots.
    public var trustStore: Store?
    public var clientAuth: ClientAuth = .need
    public var protocolMin: ProtocolVersion = .tls12
    public var protocolMax: ProtocolVersion = .tls13
    /// IANA / Java names (they are the same) of the TLS 1.2 suites to allow; empty = the library's defaults.
    /// TLS 1.3's suites cannot be narrowed (BoringSSL always offers its three) and are accepted and skipped.
    public var cipherSuites: [String] = []
    /// Whether a client checks that the server's certificate names the host it dialled.
    public var hostnameVerification: Bool = true

    public init(keyStore: Store? = nil, trustStore: Store? = nil) {
        self.keyStore = keyStore
        self.trustStore = trustStore
    }

    /// TLS 1.3 cipher suite names: always on with TLS 1.3, so listing them changes nothing.
    public static let tls13Suites: Set<String> = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"]

    /// Reads the settings under `prefix` (`"ssl."` or `"ssl.quorum."`) through `lookup`, which answers a key as
    /// written in zoo.cfg (with or without ZooKeeper's `zookeeper.` system-property prefix).
    /// - Parameter knownSuites: the suite names the TLS library implements; another name is refused.
    /// - Throws: `TLSSettingsError` naming the key, for values ZooKeeper would also refuse or Warren cannot use
    ///   (a JKS store: convert it to PKCS12 or PEM).
    public static func parse(prefix: String, knownSuites: Set<String>, lookup: (String) -> String?) throws -> TLSSettings {
        var s = TLSSettings()
        func store(_ name: String) throws -> Store? {
            guard let path = lookup("\(prefix)\(name).location"), !path.isEmpty else { return nil }
            let typeKey = "\(prefix)\(name).type"
            let type: StoreType
            if let t = lookup(typeKey), !t.isEmpty {
                guard let known = StoreType(rawValue: t.uppercased()) else {
                    throw TLSSettingsError("\(typeKey)=\(t): expected PEM, PKCS12 or JKS")
                }
                type = known
            } else {
                let lower = path.lowercased()
                if lower.hasSuffix(".p12") || lower.hasSuffix(".pfx") { type = .pkcs12 }
                else if lower.hasSuffix(".jks") { type = .jks }
                else if lower.hasSuffix(".pem") || lower.hasSuffix(".crt") || lower.hasSuffix(".key") { type = .pem }
                else { throw TLSSettingsError("\(prefix)\(name).location=\(path): cannot tell the store's format from its name; set \(typeKey) to PEM or PKCS12") }
            }
            if type == .jks {
                throw TLSSettingsError("\(prefix)\(name).location=\(path): Java key stores (JKS) cannot be read outside the JVM; convert it with `keytool -importkeystore -srckeystore \(path) -destkeystore store.p12 -deststoretype PKCS12` and set \(typeKey)=PKCS12")
            }
            let password = lookup("\(prefix)\(name).password").flatMap { $0.isEmpty ? nil : $0 }
            return Store(path: path, password: password, type: type)
        }
        s.keyStore = try store("keyStore")
        s.trustStore = try store("trustStore")
        if let v = lookup("\(prefix)clientAuth"), !v.isEmpty {
            guard let auth = ClientAuth(rawValue: v.lowercased()) else {
                throw TLSSettingsError("\(prefix)clientAuth=\(v): expected need, want or none")
            }
            s.clientAuth = auth
        }
        func version(_ key: String, _ name: String) throws -> ProtocolVersion {
            guard let v = ProtocolVersion.names[name.trimmingSpaces] else {
                throw TLSSettingsError("\(key)=\(name): expected TLSv1.2 or TLSv1.3 (or TLSv1, TLSv1.1)")
            }
            return v
        }
        if let list = lookup("\(prefix)enabledProtocols"), !list.isEmpty {
            let key = "\(prefix)enabledProtocols"
            let names = list.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            let versions = try names.map { try version(key, $0) }
            guard let low = versions.min(), let high = versions.max() else {
                throw TLSSettingsError("\(key)=\(list): names no protocol; expected e.g. TLSv1.3,TLSv1.2")
            }
            s.protocolMin = low
            s.protocolMax = high
        } else if let p = lookup("\(prefix)protocol"), !p.isEmpty {
            // As ZooKeeper 3.8 does: TLSv1.3 enables TLSv1.3 and TLSv1.2, any other protocol only itself.
            let v = try version("\(prefix)protocol", p)
            s.protocolMax = v
            s.protocolMin = v == .tls13 ? .tls12 : v
        }
        if let list = lookup("\(prefix)ciphersuites"), !list.isEmpty {
            let names = list.split(separator: ",").map { String($0).trimmingSpaces }.filter { !$0.isEmpty }
            let unknown = names.filter { !knownSuites.contains($0) && !tls13Suites.contains($0) }
            if !unknown.isEmpty {
                throw TLSSettingsError("\(prefix)ciphersuites: unknown or unsupported \(unknown.joined(separator: ", ")); supported: \(knownSuites.sorted().joined(separator: ", "))")
            }
            s.cipherSuites = names.filter { !tls13Suites.contains($0) }
            if s.cipherSuites.isEmpty && s.protocolMin < .tls13 {
                throw TLSSettingsError("\(prefix)ciphersuites lists only TLS 1.3 suites but TLS 1.2 is enabled: list TLS 1.2 suites too, or set \(prefix)enabledProtocols=TLSv1.3")
            }
        }
        if let v = lookup("\(prefix)hostnameVerification"), !v.isEmpty {
            s.hostnameVerification = v.lowercased() != "false"
        }
        return s
    }
}

/// A TLS setting that cannot be used, with the key that says it.
public struct TLSSettingsError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
