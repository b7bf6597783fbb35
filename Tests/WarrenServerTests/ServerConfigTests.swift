import XCTest
import WarrenTLS

@testable import WarrenCore
@testable import WarrenServer

/// zoo.cfg parsing: ZooKeeper's keys, defaults and syntax.
final class ServerConfigTests: XCTestCase {
    func testDefaults() throws {
        let c = try ServerConfig.parse("dataDir=/var/lib/zk\n")
        XCTAssertEqual(c.tickTimeMs, 3000)
        XCTAssertEqual(c.effectiveMinSessionTimeoutMs, 6000)
        XCTAssertEqual(c.effectiveMaxSessionTimeoutMs, 60000)
        XCTAssertEqual(c.clientPort, 2181)
        XCTAssertEqual(c.clientPortAddress, "0.0.0.0")
        XCTAssertEqual(c.maxClientCnxns, 60)
        XCTAssertEqual(c.snapCount, 100_000)
        XCTAssertEqual(c.juteMaxBufferBytes, 0xfffff)
        XCTAssertEqual(c.fourLetterWordWhitelist, ["srvr"])
        XCTAssertEqual(c.dataLogDir, "/var/lib/zk", "dataLogDir defaults to dataDir")
        XCTAssertFalse(c.extendedTypesEnabled)
        XCTAssertNil(c.superDigest)
        XCTAssertTrue(c.peers.isEmpty)
        XCTAssertTrue(c.isStandalone)
    }

    func testPurgeAfterSnapshotUnlessIntervalIsSet() throws {
        XCTAssertTrue(try ServerConfig.parse("dataDir=/d\n").purgesAfterSnapshot)
        XCTAssertFalse(try ServerConfig.parse("autopurge.purgeInterval=0\n").purgesAfterSnapshot)
        XCTAssertFalse(try ServerConfig.parse("autopurge.purgeInterval=1\n").purgesAfterSnapshot)
    }

    func testIoThreads() throws {
        XCTAssertNil(try ServerConfig.parse("dataDir=/d\n").ioThreads, "default: chosen from the core count")
        XCTAssertEqual(try ServerConfig.parse("warren.ioThreads=0\n").ioThreads, 0)
        XCTAssertEqual(try ServerConfig.parse("warren.ioThreads=3\n").ioThreads, 3)
        XCTAssertThrowsError(try ServerConfig.parse("warren.ioThreads=-1\n")) { error in
            XCTAssertTrue("\(error)".contains("warren.ioThreads must be 0...64"), "\(error)")
        }
    }

    func testSpinWait() throws {
        XCTAssertNil(try ServerConfig.parse("dataDir=/d\n").spinWaitUs, "default: ServerShell.defaultSpinWaitUs")
        XCTAssertEqual(try ServerConfig.parse("warren.spinWaitUs=0\n").spinWaitUs, 0)
        XCTAssertEqual(try ServerConfig.parse("warren.spinWaitUs=500\n").spinWaitUs, 500)
        for bad in ["-1", "100001"] {
            XCTAssertThrowsError(try ServerConfig.parse("warren.spinWaitUs=\(bad)\n")) { error in
                XCTAssertTrue("\(error)".contains("warren.spinWaitUs must be 0...100000"), "\(error)")
            }
        }
    }

    func testLeaderTimeout() throws {
        XCTAssertEqual(try ServerConfig.parse("dataDir=/d\n").leaderTimeoutMs, 1000)
        XCTAssertEqual(try ServerConfig.parse("warren.leaderTimeoutMs=2500\n").leaderTimeoutMs, 2500)
        for bad in ["99", "600001"] {
            XCTAssertThrowsError(try ServerConfig.parse("warren.leaderTimeoutMs=\(bad)\n")) { error in
                XCTAssertTrue("\(error)".contains("warren.leaderTimeoutMs must be 100...600000"), "\(error)")
            }
        }
    }

    /// The default zoo.cfg in Zab ticks (50 ms): initLimit and syncLimit as ZooKeeper means them, the liveness
    /// timeout 1 s with a ping every 100 ms; the timeout never exceeds syncLimit.
    func testZabTimeoutsInTicks() throws {
        let servers = "server.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\nserver.3=127.0.0.1:2890:3890\n"
        var c = try ServerConfig.parse("tickTime=2000\ninitLimit=10\nsyncLimit=5\n" + servers)
        var z = ServerCore.zabConfig(c.core)
        XCTAssertEqual(ServerCore.zabTick(c.core).ms, 50)
        XCTAssertEqual([z.initLimitTicks, z.syncLimitTicks, z.leaderTimeoutTicks, z.pingIntervalTicks], [400, 200, 20, 2])
        c.leaderTimeoutMs = 30_000
        z = ServerCore.zabConfig(c.core)
        XCTAssertEqual(z.leaderTimeoutTicks, z.syncLimitTicks, "capped at syncLimit")
        c = try ServerConfig.parse("tickTime=100\nsyncLimit=2\n" + servers)
        z = ServerCore.zabConfig(c.core)
        XCTAssertEqual([z.syncLimitTicks, z.leaderTimeoutTicks, z.pingIntervalTicks], [4, 4, 1])
    }

    func testSnapshotChunkBytes() throws {
        XCTAssertEqual(try ServerConfig.parse("dataDir=/d\n").snapshotChunkBytes, 4 << 20)
        XCTAssertEqual(try ServerConfig.parse("warren.snapshotChunkBytes=65536\n").snapshotChunkBytes, 65536)
        for bad in ["0", "67108865"] {
            XCTAssertThrowsError(try ServerConfig.parse("warren.snapshotChunkBytes=\(bad)\n")) { error in
                XCTAssertTrue("\(error)".contains("warren.snapshotChunkBytes must be 1...67108864"), "\(error)")
            }
        }
    }

    func testSessionTimeoutBoundsFollowTickTime() throws {
        let c = try ServerConfig.parse("tickTime=500\n")
        XCTAssertEqual(c.effectiveMinSessionTimeoutMs, 1000)
        XCTAssertEqual(c.effectiveMaxSessionTimeoutMs, 10000)
    }

    func testEveryKey() throws {
        let text = """
            # a comment
            ! another comment style of Java properties
            tickTime=2000
            initLimit=7
            syncLimit=3
            dataDir=/data
            dataLogDir=/txlog
            clientPort=12181
            clientPortAddress=127.0.0.1
            maxClientCnxns=0
            minSessionTimeout=4000
            maxSessionTimeout=90000
            snapCount=5000
            autopurge.snapRetainCount=5
            autopurge.purgeInterval=24
            jute.maxbuffer=0x100000
            4lw.commands.whitelist=ruok, mntr ,srvr
            extendedTypesEnabled=true
            znode.container.checkIntervalMs=1000
            DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=
            globalOutstandingLimit=2000
              admin.serverPort = 8080
            metricsProvider.className=org.example.Metrics
            """
        let c = try ServerConfig.parse(text, path: "/etc/zoo.cfg")
        XCTAssertEqual(c.tickTimeMs, 2000)
        XCTAssertEqual(c.initLimit, 7)
        XCTAssertEqual(c.syncLimit, 3)
        XCTAssertEqual(c.dataDir, "/data")
        XCTAssertEqual(c.dataLogDir, "/txlog")
        XCTAssertEqual(c.clientPort, 12181)
        XCTAssertEqual(c.clientPortAddress, "127.0.0.1")
        XCTAssertEqual(c.maxClientCnxns, 0)
        XCTAssertEqual(c.effectiveMinSessionTimeoutMs, 4000)
        XCTAssertEqual(c.effectiveMaxSessionTimeoutMs, 90000)
        XCTAssertEqual(c.snapCount, 5000)
        XCTAssertEqual(c.autopurgeSnapRetainCount, 5)
        XCTAssertEqual(c.autopurgePurgeIntervalHours, 24)
        XCTAssertFalse(c.purgesAfterSnapshot)
        XCTAssertEqual(c.juteMaxBufferBytes, 0x100000)
        XCTAssertEqual(c.fourLetterWordWhitelist, ["ruok", "mntr", "srvr"])
        XCTAssertTrue(c.extendedTypesEnabled)
        XCTAssertEqual(c.containerCheckIntervalMs, 1000)
        XCTAssertEqual(c.superDigest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=", "a value may itself contain '=' and ':'")
        XCTAssertEqual(c.globalOutstandingLimit, 2000)
        XCTAssertEqual(c.extra.map(\.0), ["admin.serverPort", "metricsProvider.className"], "unknown keys are kept")
        XCTAssertEqual(c.extra.map(\.1), ["8080", "org.example.Metrics"])
        XCTAssertEqual(c.sourcePath, "/etc/zoo.cfg")
    }

    func testSystemPropertyStyleKeys() throws {
        let c = try ServerConfig.parse(
            "zookeeper.extendedTypesEnabled=TRUE\nzookeeper.DigestAuthenticationProvider.superDigest=super:abc\n")
        XCTAssertTrue(c.extendedTypesEnabled)
        XCTAssertEqual(c.superDigest, "super:abc")
    }

    func testColonSeparatorLikeJavaProperties() throws {
        XCTAssertEqual(try ServerConfig.parse("tickTime:1500\n").tickTimeMs, 1500)
    }

    func testSnapRetainCountHasZooKeepersMinimumOfThree() throws {
        XCTAssertEqual(try ServerConfig.parse("autopurge.snapRetainCount=1\n").autopurgeSnapRetainCount, 3)
    }

    func testWhitelistStarMeansEveryWord() throws {
        let c = try ServerConfig.parse("4lw.commands.whitelist=*\n")
        XCTAssertEqual(c.fourLetterWordWhitelist, ServerConfig.allFourLetterWords)
        XCTAssertTrue(c.fourLetterWordWhitelist.isSuperset(of: ["ruok", "mntr", "conf", "cons", "stat", "dump"]))
    }

    func testServerLines() throws {
        let text = """
            server.1=zk1.example.com:2888:3888
            server.2=zk2.example.com:2889:3889:participant;2182
            server.3=zk3.example.com:2890:3890:observer;127.0.0.1:2183
            server.4=zk4.example.com:2891:3891;0.0.0.0:2184
            """
        let c = try ServerConfig.parse(text)
        XCTAssertEqual(
            c.peers,
            [
                PeerConfig(
                    id: 1, host: "zk1.example.com", quorumPort: 2888, electionPort: 3888, isObserver: false,
                    clientHost: nil, clientPort: nil),
                PeerConfig(
                    id: 2, host: "zk2.example.com", quorumPort: 2889, electionPort: 3889, isObserver: false,
                    clientHost: nil, clientPort: 2182),
                PeerConfig(
                    id: 3, host: "zk3.example.com", quorumPort: 2890, electionPort: 3890, isObserver: true,
                    clientHost: "127.0.0.1", clientPort: 2183),
                PeerConfig(
                    id: 4, host: "zk4.example.com", quorumPort: 2891, electionPort: 3891, isObserver: false,
                    clientHost: "0.0.0.0", clientPort: 2184),
            ])
        XCTAssertFalse(c.isStandalone)
        XCTAssertTrue(try ServerConfig.parse("server.1=localhost:2888:3888\n").isStandalone, "one server is standalone")
    }

    func testMalformedLinesNameTheLine() throws {
        let cases: [(String, String)] = [
            ("# comment\n\njust some words\n", "zoo.cfg:3:"),
            ("tickTime=2000\nclientPort=twenty\n", "zoo.cfg:2:"),
            ("server.x=host:2888:3888\n", "zoo.cfg:1:"),
            ("\n\n\n\nserver.1=host:2888\n", "zoo.cfg:5:"),
            ("server.1=host:quorum:3888\n", "zoo.cfg:1:"),
        ]
        for (text, location) in cases {
            XCTAssertThrowsError(try ServerConfig.parse(text), "\(text.debugDescription)") { error in
                let message = (error as? ConfigError)?.message ?? "not a ConfigError: \(error)"
                XCTAssertTrue(message.hasPrefix(location), "'\(message)' should start with \(location)")
            }
        }
        XCTAssertThrowsError(try ServerConfig.parse("snapCount=lots\n", path: "/etc/zk/zoo.cfg")) { error in
            XCTAssertTrue("\(error)".hasPrefix("/etc/zk/zoo.cfg:1: snapCount"), "\(error)")
        }
    }

    func testMinAboveMaxIsRejected() throws {
        XCTAssertThrowsError(try ServerConfig.parse("minSessionTimeout=10000\nmaxSessionTimeout=5000\n")) { error in
            XCTAssertTrue(error is ConfigError, "\(error)")
        }
        // Against the default maximum of 20 ticks (60 s).
        XCTAssertThrowsError(try ServerConfig.parse("minSessionTimeout=70000\n"))
        XCTAssertNoThrow(try ServerConfig.parse("minSessionTimeout=7000\nmaxSessionTimeout=7000\n"))
    }

    func testNonPositiveTickTimeIsRejected() {
        XCTAssertThrowsError(try ServerConfig.parse("tickTime=0\n"))
    }

    /// A zoo.cfg saved with Windows line endings loads in ZooKeeper (Java properties accept CRLF).
    func testCRLFLineEndings() throws {
        let c = try ServerConfig.parse("tickTime=2000\r\ndataDir=/data\r\nclientPort=2182\r\n")
        XCTAssertEqual(c.tickTimeMs, 2000)
        XCTAssertEqual(c.dataDir, "/data")
        XCTAssertEqual(c.clientPort, 2182)
        XCTAssertThrowsError(try ServerConfig.parse("tickTime=2000\r\nclientPort=x\r\n")) { error in
            XCTAssertTrue("\(error)".hasPrefix("zoo.cfg:2:"), "\(error)")
        }
    }

    func testLoadReadsMyidForAnEnsemble() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("warren-cfg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cfg = dir + "/zoo.cfg"
        try "dataDir=\(dir)\nserver.1=a:1:2\nserver.2=b:1:2\n".write(toFile: cfg, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ServerConfig.load(path: cfg), "an ensemble member needs myid")
        try "2\n".write(toFile: dir + "/myid", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ServerConfig.load(path: cfg).myid, 2)
        XCTAssertThrowsError(try ServerConfig.load(path: dir + "/missing.cfg"))
    }

    func testReadOnlyModeAndPeerType() throws {
        XCTAssertFalse(try ServerConfig.parse("dataDir=/d\n").readOnlyModeEnabled)
        XCTAssertTrue(try ServerConfig.parse("dataDir=/d\nreadonlymode.enabled=true\n").readOnlyModeEnabled)
        XCTAssertTrue(try ServerConfig.parse("dataDir=/d\nzookeeper.readonlymode.enabled=TRUE\n").readOnlyModeEnabled)
        var c = try ServerConfig.parse("dataDir=/d\n")
        c.applyJVMFlags(["SERVER_JVMFLAGS": "-Xmx1g -Dreadonlymode.enabled=true -Dfoo=bar"])
        XCTAssertTrue(c.readOnlyModeEnabled)
        c.applyJVMFlags(["JVMFLAGS": "-Dreadonlymode.enabled=true", "SERVER_JVMFLAGS": "-Dreadonlymode.enabled=false"])
        XCTAssertFalse(c.readOnlyModeEnabled, "SERVER_JVMFLAGS comes after JVMFLAGS on the java command line")

        let servers = "server.1=h:1:2\nserver.2=h:3:4\nserver.3=h:5:6:observer\n"
        var o = try ServerConfig.parse("dataDir=/d\npeerType=Observer\n" + servers)
        o.myid = 3
        XCTAssertEqual(o.peerType, "observer")
        XCTAssertNil(o.peerTypeMismatch)
        XCTAssertEqual(o.peers.map(\.isObserver), [false, false, true])
        o.myid = 1
        XCTAssertNotNil(o.peerTypeMismatch, "the server list wins, with a warning")
        XCTAssertFalse(ServerCore.zabConfig(o.core).members[1] == .observer)
        XCTAssertThrowsError(try ServerConfig.parse("dataDir=/d\npeerType=watcher\n")) { error in
            XCTAssertTrue("\(error)".contains("peerType must be observer or participant"), "\(error)")
        }
    }

    /// Keys that would leave a server doing what the file was written to prevent are refused with what to do; keys
    /// that merely do nothing here are accepted with a warning.
    func testSecurityKeysWithoutSupportAreRefusedOrWarned() throws {
        XCTAssertThrowsError(try ServerConfig.parse("dataDir=/d\nclientPort=2181\nsslQuorum=true\n")) { error in
            XCTAssertTrue("\(error)".contains("sslQuorum=true needs ssl.quorum.keyStore.location"), "\(error)")
        }
        let warned = try ServerConfig.parse("dataDir=/d\nclientPort=2181\nreconfigEnabled=true\nsslQuorum=false\nssl.crl=true\n")
        XCTAssertTrue(warned.reconfigEnabled)
        XCTAssertEqual(warned.unsupportedKeyWarnings.count, 1, "\(warned.unsupportedKeyWarnings)")
        XCTAssertTrue(warned.unsupportedKeyWarnings[0].contains("ssl.crl=true ignored"))
        let plain = try ServerConfig.parse("dataDir=/d\n")
        XCTAssertFalse(plain.clientPortGiven)
        XCTAssertEqual(plain.unsupportedKeyWarnings, [])
        XCTAssertNil(plain.secureClientPort)
        XCTAssertTrue(plain.servesPlaintextClients)
    }

    /// secureClientPort with ZooKeeper's ssl.* keys (as zoo.cfg writes them, or with the system-property prefix):
    /// both ports, or TLS only when clientPort is absent.
    func testSecureClientPortReadsZooKeepersSslKeys() throws {
        let both = try ServerConfig.parse("""
            dataDir=/d
            clientPort=2181
            secureClientPort=2281
            serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory
            ssl.keyStore.location=/etc/zk/server.pem
            zookeeper.ssl.trustStore.location=/etc/zk/ca.p12
            ssl.trustStore.password=pw
            ssl.clientAuth=want
            ssl.enabledProtocols=TLSv1.3
            """)
        XCTAssertEqual(both.secureClientPort, 2281)
        XCTAssertTrue(both.servesPlaintextClients)
        let tls = try XCTUnwrap(both.clientTLS)
        XCTAssertEqual(tls.keyStore, TLSSettings.Store(path: "/etc/zk/server.pem", password: nil, type: .pem))
        XCTAssertEqual(tls.trustStore, TLSSettings.Store(path: "/etc/zk/ca.p12", password: "pw", type: .pkcs12))
        XCTAssertEqual(tls.clientAuth, .want)
        XCTAssertEqual(tls.protocolMin, .tls13)
        XCTAssertEqual(tls.protocolMax, .tls13)

        let only = try ServerConfig.parse("dataDir=/d\nsecureClientPort=2281\nssl.keyStore.location=/k.pem\n")
        XCTAssertFalse(only.servesPlaintextClients)
        XCTAssertEqual(only.clientTLS?.clientAuth, .need, "ZooKeeper's default")
        XCTAssertEqual(only.clientTLS?.protocolMin, .tls12)
        XCTAssertEqual(only.clientTLS?.protocolMax, .tls13)
    }

    func testQuorumTLSReadsTheSslQuorumKeys() throws {
        let c = try ServerConfig.parse("""
            dataDir=/d
            sslQuorum=true
            ssl.quorum.keyStore.location=/q/server.pem
            ssl.quorum.trustStore.location=/q/ca.pem
            ssl.quorum.hostnameVerification=false
            ssl.keyStore.location=/client-side.pem
            """)
        let q = try XCTUnwrap(c.quorumTLS)
        XCTAssertEqual(q.keyStore?.path, "/q/server.pem")
        XCTAssertEqual(q.trustStore?.path, "/q/ca.pem")
        XCTAssertFalse(q.hostnameVerification)
        XCTAssertNil(c.clientTLS, "ssl.* without secureClientPort sets nothing up")
        XCTAssertNil(try ServerConfig.parse("dataDir=/d\nsslQuorum=false\n").quorumTLS)
    }

    func testTLSSetUpsThatCannotWorkAreRefusedWithTheKey() {
        let cases: [(String, String)] = [
            ("secureClientPort=2281\n", "needs ssl.keyStore.location"),
            ("secureClientPort=http\nssl.keyStore.location=/k.pem\n", "secureClientPort must be a port number"),
            ("secureClientPort=2281\nssl.keyStore.location=/k.jks\n", "keytool -importkeystore"),
            ("secureClientPort=2281\nssl.keyStore.location=/k.store\n", "set ssl.keyStore.type to PEM or PKCS12"),
            ("secureClientPort=2281\nssl.keyStore.location=/k\nssl.keyStore.type=BCFKS\n", "ssl.keyStore.type=BCFKS"),
            ("secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.clientAuth=maybe\n", "ssl.clientAuth=maybe"),
            ("secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.protocol=SSLv3\n", "ssl.protocol=SSLv3"),
            // Found by the zoocfg fuzzer: an empty list trapped on a force unwrap.
            ("sslQuorum=true\nssl.quorum.keyStore.location=/k.pem\nssl.quorum.enabledProtocols=,\n", "names no protocol"),
            ("secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.ciphersuites=TLS_NULL_WITH_NULL_NULL\n",
             "TLS_NULL_WITH_NULL_NULL"),
            ("secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.ciphersuites=TLS_AES_128_GCM_SHA256\n",
             "lists only TLS 1.3 suites"),
        ]
        for (text, says) in cases {
            XCTAssertThrowsError(try ServerConfig.parse("dataDir=/d\n" + text), text) { error in
                XCTAssertTrue("\(error)".contains(says), "\(text): \(error)")
            }
        }
    }

    /// ssl.protocol as ZooKeeper 3.8 reads it, ciphers by their IANA (= Java) names.
    func testProtocolAndCipherSuites() throws {
        func parse(_ keys: [String: String]) throws -> TLSSettings {
            try TLSSettings.parse(prefix: "ssl.", knownSuites: TLSContextSource.knownSuites) { keys[$0] }
        }
        let v12 = try parse(["ssl.protocol": "TLSv1.2"])
        XCTAssertEqual([v12.protocolMin, v12.protocolMax], [.tls12, .tls12])
        let v13 = try parse(["ssl.protocol": "TLSv1.3"])
        XCTAssertEqual([v13.protocolMin, v13.protocolMax], [.tls12, .tls13])
        let listed = try parse(["ssl.enabledProtocols": "TLSv1.3, TLSv1.2", "ssl.protocol": "TLSv1.2"])
        XCTAssertEqual([listed.protocolMin, listed.protocolMax], [.tls12, .tls13], "enabledProtocols wins")
        let suites = try parse(["ssl.ciphersuites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_AES_128_GCM_SHA256"])
        XCTAssertEqual(suites.cipherSuites, ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"])
        XCTAssertNil(try parse([:]).keyStore)
        XCTAssertFalse(try parse(["ssl.hostnameVerification": "false"]).hostnameVerification)
    }
}
