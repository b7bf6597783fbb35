// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Warren",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "warren", targets: ["warren"]),
        .library(name: "WarrenClient", targets: ["WarrenClient"]),
        .library(name: "WarrenRecipes", targets: ["WarrenRecipes"]),
        .executable(name: "zkfs", targets: ["zkfs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // Wire vocabulary and the Jute codec. No I/O.
        .target(name: "WarrenJute"),
        // The data tree: znodes, sessions, watches, ACLs, transactions. No I/O.
        // CRC-32 with carry-less multiplication and page pre-faulting: the two hot spots that need C.
        .target(name: "CHotPaths"),
        // The seeded generator every pure core draws from (one seed replays a run). No I/O.
        .target(name: "WarrenRandom"),
        .target(name: "WarrenTree", dependencies: ["WarrenJute", "CHotPaths", "WarrenRandom"]),
        // The Zab protocol core (election, discovery, sync, broadcast) as a pure state machine. No I/O.
        .target(name: "WarrenZab", dependencies: ["WarrenJute", "WarrenRandom"]),
        // zlib, for compressed snapshots.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Transaction log and snapshots on disk.
        .target(name: "WarrenStorage", dependencies: ["CZlib", "CHotPaths"]),
        // TLS as ZooKeeper configures it (its ssl.* keys) on swift-nio-ssl: settings, contexts, reload on file change.
        .target(name: "WarrenTLS", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The server core: connections and handshakes, the request pipeline, the ensemble glue, session and snapshot
        // policy and the four-letter words, driven by events with both clocks and every host fact handed in. No I/O.
        .target(name: "WarrenCore", dependencies: [
            "WarrenJute", "WarrenTree", "WarrenZab", "WarrenRandom",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")]),
        // The SwiftNIO server shell.
        .target(name: "WarrenServer", dependencies: [
            "WarrenCore", "WarrenJute", "WarrenTree", "WarrenStorage", "WarrenZab", "WarrenTLS", "WarrenRandom", "CHotPaths",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Atomics", package: "swift-atomics"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ], swiftSettings: [.enableUpcomingFeature("MemberImportVisibility")]),
        // Monitoring over HTTP: Prometheus `/metrics` and ZooKeeper's AdminServer `/commands` (JSON), on NIOHTTP1.
        .target(name: "WarrenAdmin", dependencies: [
            "WarrenServer", "WarrenCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        // The Swift client library.
        .target(name: "WarrenClient", dependencies: [
            "WarrenJute", "WarrenTLS",
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Locks, leader election, barriers, queues, service discovery, group membership and config watches
        // on top of WarrenClient, in Apache Curator's znode layouts.
        .target(name: "WarrenRecipes", dependencies: ["WarrenClient", "WarrenJute"]),
        // The load generator behind `warren bench`: its own pipelined client over POSIX sockets.
        .target(name: "WarrenBench", dependencies: ["WarrenJute", "WarrenRandom"]),
        // `warren import`/`warren export`: Apache ZooKeeper's snapshot and log files to a Warren dataDir and back.
        .target(name: "WarrenMigrate", dependencies: ["WarrenJute", "WarrenTree", "WarrenStorage", "CZlib"]),
        .executableTarget(name: "warren", dependencies: [
            "WarrenServer", "WarrenCore", "WarrenAdmin", "WarrenClient", "WarrenBench", "WarrenRecipes", "WarrenMigrate",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "WarrenJuteTests", dependencies: ["WarrenJute"], resources: [.copy("Fixtures")]),
        .testTarget(name: "WarrenTreeTests", dependencies: ["WarrenTree", "WarrenRandom"]),
        // The transcript runner (etcd-raft's datadriven format) the cores' transcript tests share.
        .target(name: "WarrenTestSupport", path: "Tests/WarrenTestSupport"),
        .testTarget(name: "WarrenZabTests", dependencies: ["WarrenZab", "WarrenTree", "WarrenJute", "WarrenRandom", "WarrenTestSupport"],
                    exclude: ["README.md", "testdata"]),
        .testTarget(name: "WarrenStorageTests", dependencies: ["WarrenStorage", "WarrenRandom"]),
        .testTarget(name: "WarrenBenchTests", dependencies: ["WarrenBench"]),
        .testTarget(name: "WarrenMigrateTests", dependencies: ["WarrenMigrate", "WarrenTree", "WarrenJute", "WarrenStorage", "CZlib"]),
        .testTarget(name: "WarrenServerTests", dependencies: [
            "WarrenServer", "WarrenCore", "WarrenJute", "WarrenTree", "WarrenZab", "WarrenTLS", "WarrenRandom", "WarrenStorage",
            "WarrenTestSupport",
            .product(name: "Atomics", package: "swift-atomics"),
        ], exclude: ["Simulation/README.md", "testdata"]),
        .testTarget(name: "WarrenAdminTests", dependencies: [
            "WarrenAdmin", "WarrenServer", "WarrenCore", .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        .testTarget(name: "WarrenClientTests", dependencies: [
            "WarrenClient", "WarrenJute",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "WarrenRecipesTests", dependencies: ["WarrenRecipes", "WarrenClient", "WarrenJute"]),
        // zkfs: the znode tree as a FUSE filesystem (libfuse3 low-level API), a ZooKeeper client.
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3", providers: [.apt(["libfuse3-dev"])]),
        .target(name: "ZKFS", dependencies: [
            "CFuse3", "WarrenClient", "WarrenJute", "WarrenTLS",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "zkfs", dependencies: [
            "ZKFS",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ZKFSTests", dependencies: ["ZKFS", "WarrenJute"]),
        // libFuzzer targets for every decoder of outside bytes, and a corpus replayer; see Tests/fuzz/run.sh.
        .executableTarget(name: "warren-fuzz", dependencies: [
            "WarrenJute", "WarrenTree", "WarrenZab", "WarrenStorage", "WarrenCore", "WarrenServer", "WarrenAdmin", "ZKFS",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
