#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL

/// The TLS context one side of Warren's connections uses, built from `TLSSettings`, and rebuilt when one of its
/// store files changes (`reloadIfChanged`, called by the shell on a timer): renewed certificates take effect for
/// new connections without a restart, established ones keep theirs. A file that does not load is reported and the
/// context in use is kept, so a half-written certificate never takes a port down.
public final class TLSContextSource: Sendable {
    public enum Role: Sendable { case server, client }

    public let settings: TLSSettings
    public let role: Role
    private let state: NIOLockedValueBox<(context: NIOSSLContext, stamps: [FileStamp?])>

    /// - Throws: `TLSSettingsError` saying which file could not be read and why.
    public init(settings: TLSSettings, role: Role) throws {
        self.settings = settings
        self.role = role
        let stamps = Self.stamps(settings)
        state = NIOLockedValueBox((try Self.makeContext(settings, role: role), stamps))
    }

    /// The context for a new connection.
    public var context: NIOSSLContext { state.withLockedValue { $0.context } }

    /// Rebuilds the context if a store file's inode, size or modification time changed since the last build.
    /// - Returns: false if nothing changed, true if the context was replaced.
    /// - Throws: the build error when a changed file does not load (the previous context stays in use; the same
    ///   change is not retried until the file changes again).
    @discardableResult
    public func reloadIfChanged() throws -> Bool {
        let now = Self.stamps(settings)
        let changed = state.withLockedValue { current -> Bool in
            guard current.stamps != now else { return false }
            current.stamps = now
            return true
        }
        guard changed else { return false }
        let context = try Self.makeContext(settings, role: role)
        state.withLockedValue { $0.context = context }
        return true
    }

    /// The TLS 1.2 suite names swift-nio-ssl implements (Java's names for them are the same).
    public static let knownSuites: Set<String> = Set(suiteCodes.keys)

    static let suiteCodes: [String: NIOTLSCipher] = [
        "TLS_RSA_WITH_AES_128_CBC_SHA": .TLS_RSA_WITH_AES_128_CBC_SHA,
        "TLS_RSA_WITH_AES_256_CBC_SHA": .TLS_RSA_WITH_AES_256_CBC_SHA,
        "TLS_RSA_WITH_AES_128_GCM_SHA256": .TLS_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_RSA_WITH_AES_256_GCM_SHA384": .TLS_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": .TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// The swift-nio-ssl configuration for `settings` on `role`'s side, reading the store files.
    public static func makeConfiguration(_ settings: TLSSettings, role: Role) throws -> TLSConfiguration {
        var chain: [NIOSSLCertificateSource] = []
        var key: NIOSSLPrivateKeySource?
        if let store = settings.keyStore {
            let (certs, privateKey) = try loadKeyStore(store)
            chain = certs.map { .certificate($0) }
            key = .privateKey(privateKey)
        }
        var c: TLSConfiguration
        switch role {
        case .server:
            guard let key else {
                throw TLSSettingsError("a TLS server needs a key store: set ssl.keyStore.location (a PEM file with the private key and the certificate chain, or PKCS12)")
            }
            c = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
            switch settings.clientAuth {
            case .need: c.certificateVerification = .noHostnameVerification
            case .want: c.certificateVerification = .optionalVerification
            case .none: c.certificateVerification = .none
            }
            c.sendCANameList = settings.clientAuth != .none
        case .client:
            c = TLSConfiguration.makeClientConfiguration()
            c.certificateChain = chain
            c.privateKey = key
            c.certificateVerification = settings.hostnameVerification ? .fullVerification : .noHostnameVerification
        }
        if let trust = settings.trustStore {
            c.trustRoots = .certificates(try loadTrustStore(trust))
        }
        c.minimumTLSVersion = nioVersion(settings.protocolMin)
        c.maximumTLSVersion = nioVersion(settings.protocolMax)
        if !settings.cipherSuites.isEmpty {
            c.cipherSuiteValues = settings.cipherSuites.compactMap { suiteCodes[$0] }
        }
        return c
    }

    static func makeContext(_ settings: TLSSettings, role: Role) throws -> NIOSSLContext {
        let configuration = try makeConfiguration(settings, role: role)
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSettingsError("cannot set up TLS with \(settings.keyStore?.path ?? "no key store") and \(settings.trustStore?.path ?? "the system's trust roots"): \(error)")
        }
    }

    static func nioVersion(_ v: TLSSettings.ProtocolVersion) -> TLSVersion {
        switch v {
        case .tls1: return .tlsv1
        case .tls11: return .tlsv11
        case .tls12: return .tlsv12
        case .tls13: return .tlsv13
        }
    }

    static func loadKeyStore(_ store: TLSSettings.Store) throws -> ([NIOSSLCertificate], NIOSSLPrivateKey) {
        do {
            switch store.type {
            case .pem:
                let certs = try NIOSSLCertificate.fromPEMFile(store.path)
                guard !certs.isEmpty else { throw TLSSettingsError("no CERTIFICATE block") }
                let key: NIOSSLPrivateKey
                let keyFile = store.keyPath ?? store.path
                if let password = store.password {
                    key = try NIOSSLPrivateKey(file: keyFile, format: .pem) { provide in provide(Array(password.utf8)) }
                } else {
                    key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
                }
                return (certs, key)
            case .pkcs12:
                let bundle = try NIOSSLPKCS12Bundle(file: store.path, passphrase: Array((store.password ?? "").utf8))
                return (bundle.certificateChain, bundle.privateKey)
            case .jks:
                throw TLSSettingsError("JKS cannot be read; convert it to PKCS12")
            }
        } catch {
            throw TLSSettingsError("cannot read the key store \(store.path) (\(store.type.rawValue): the private key and its certificate chain): \(error)")
        }
    }

    static func loadTrustStore(_ store: TLSSettings.Store) throws -> [NIOSSLCertificate] {
        do {
            switch store.type {
            case .pem:
                let certs = try NIOSSLCertificate.fromPEMFile(store.path)
                guard !certs.isEmpty else { throw TLSSettingsError("no CERTIFICATE block") }
                return certs
            case .pkcs12:
                return try NIOSSLPKCS12Bundle(file: store.path, passphrase: Array((store.password ?? "").utf8)).certificateChain
            case .jks:
                throw TLSSettingsError("JKS cannot be read; convert it to PKCS12 or PEM")
            }
        } catch {
            throw TLSSettingsError("cannot read the trust store \(store.path) (\(store.type.rawValue)): \(error)")
        }
    }

    /// What identifies a file's content cheaply: inode, size and modification time (nanoseconds).
    struct FileStamp: Equatable, Sendable {
        var inode: UInt64
        var size: Int64
        var mtimeNs: Int64
    }

    static func stamps(_ settings: TLSSettings) -> [FileStamp?] {
        [settings.keyStore?.path, settings.keyStore?.keyPath, settings.trustStore?.path].map { path in
            guard let path else { return nil }
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            return FileStamp(inode: UInt64(st.st_ino), size: Int64(st.st_size),
                             mtimeNs: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
        }
    }
}
