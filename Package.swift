// swift-tools-version:6.2
import PackageDescription

/// The modules of the hot path (decode, fold, encode, write): no dynamic exclusivity checks
/// (a runtime call on every access to a class's stored property; the static checks stay),
/// and small functions of one module inlined into another (`BinaryWriter`'s encoders into
/// the records' `encode`). Rebuilds of the benchmark's city, 10 interleaved hand runs: CPU
/// 0.964 times that without the flags, wall 0.961 (Benchmarks/RESULTS.md, twelfth session).
/// Release builds only: the tests' debug builds keep the dynamic checks, so that a violation
/// traps there.
let hot: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release))]

let package = Package(
    name: "yidang",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "yidang", targets: ["yidang"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // C: RocksDB's C API, isolated like swift-nio's CNIO* shims.
        .systemLibrary(
            name: "CRocksDB",
            pkgConfig: "rocksdb",
            providers: [.apt(["librocksdb-dev"])]
        ),
        // C: the NATS client (nats.c), for the change feed on JetStream.
        .systemLibrary(
            name: "CNats",
            pkgConfig: "libnats",
            providers: [.apt(["libnats-dev"])]
        ),
        // jemalloc as the process's allocator (linked by the executable only).
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        // C++: what RocksDB's C API leaves out (the flush pool's CPU priority), behind a C function.
        .target(name: "CRocksDBEnv", dependencies: ["CRocksDB"]),
        // C: the compiler's prefetch instruction, which Swift does not expose.
        .target(name: "CPrefetch"),
        // The one thin layer over it: hints that memory is about to be read.
        .target(name: "MemoryHints", dependencies: ["CPrefetch"], swiftSettings: hot),
        // The one thin layer that touches RocksDB pointers.
        .target(name: "RocksDB", dependencies: ["CRocksDB", "CRocksDBEnv"], swiftSettings: hot),
        // The one thin layer that touches nats.c pointers: a connection and its JetStream context.
        .target(name: "NATS", dependencies: ["CNats"]),
        // 公民身份号码 / 统一社会信用代码 / 注册号 / 组织机构代码: pure functions, no I/O.
        .target(name: "Identifiers"),
        // A strict, fast JSON reader and writer for event payloads.
        .target(name: "JSON", swiftSettings: hot),
        // Configuration, CloudEvents, validation and normalization.
        .target(name: "YidangModel", dependencies: [
            "Identifiers", "JSON",
            .product(name: "Yams", package: "Yams"),
        ], swiftSettings: hot),
        // The pure fold: events -> golden records, conflicts, change records.
        .target(name: "YidangProjection", dependencies: ["YidangModel", "JSON", "MemoryHints"], swiftSettings: hot),
        // Comparing values as people write them: names by characters and pinyin, addresses
        // by overlap, dates, phones. Used by verification (and identity resolution).
        .target(name: "YidangMatching", dependencies: ["YidangModel"]),
        // Event log, projection persistence and group commit on RocksDB.
        .target(name: "YidangStore", dependencies: [
            "RocksDB", "YidangModel", "YidangProjection", "YidangMatching", "Identifiers", "JSON", "MemoryHints",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: hot),
        // 一处变更、全网同步: subscriptions, field policies, SSE signalling, webhooks.
        .target(name: "YidangSync", dependencies: [
            "YidangStore", "NATS", "YidangModel", "YidangProjection", "JSON", "Identifiers",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // HTTP API on Hummingbird 2.
        .target(name: "YidangServer", dependencies: [
            "YidangStore", "YidangSync", "YidangCluster", "NATS", "YidangModel", "YidangProjection", "JSON", "Identifiers",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // A cluster node: the hub's log as a replicated JetStream stream, applied in order.
        .target(name: "YidangCluster", dependencies: [
            "YidangStore", "NATS", "YidangModel", "JSON",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Command implementations (local mode, server start, maintenance).
        .target(name: "YidangCLI", dependencies: [
            "YidangStore", "YidangSync", "YidangCluster", "NATS",
            .product(name: "AsyncHTTPClient", package: "async-http-client"), "YidangServer", "YidangModel", "YidangProjection", "JSON", "Identifiers",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // jemalloc's options for the process (transparent huge pages), read at start-up.
        .target(name: "JemallocOptions"),
        .executableTarget(name: "yidang", dependencies: ["YidangCLI", "CJemalloc", "JemallocOptions"]),

        // Helpers the test targets share (temporary directories removed at exit).
        .target(name: "TestSupport", dependencies: [.product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(name: "RocksDBTests", dependencies: ["RocksDB", "CRocksDB", "TestSupport"]),
        .testTarget(name: "IdentifiersTests", dependencies: ["Identifiers"]),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(name: "MemoryHintsTests", dependencies: ["MemoryHints"]),
        .testTarget(name: "YidangModelTests", dependencies: ["YidangModel", "JSON", "Identifiers"]),
        .testTarget(name: "YidangMatchingTests", dependencies: ["YidangMatching", "YidangModel"]),
        .testTarget(name: "YidangProjectionTests", dependencies: ["YidangProjection", "YidangModel", "JSON"]),
        .testTarget(name: "YidangStoreTests", dependencies: ["TestSupport", "YidangStore", "YidangModel", "YidangProjection", "JSON", "Identifiers", "RocksDB"]),
        .testTarget(name: "YidangServerTests", dependencies: ["TestSupport", "Identifiers", "RocksDB", "NATS", "YidangServer", "YidangStore", "YidangModel", "YidangSync", "JSON",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Yams", package: "Yams")]),
        // Golden/ holds expected CLI output, read by path from the source tree.
        .testTarget(name: "YidangCLITests", dependencies: ["JSON", "TestSupport", "YidangCLI",
                                                   .product(name: "ArgumentParser", package: "swift-argument-parser")],
                    exclude: ["Golden"]),
        .testTarget(name: "YidangSyncTests", dependencies: ["YidangSync", "YidangStore", "YidangModel", "YidangProjection", "JSON"]),
    ],
    // RocksDB 7.8's headers (CRocksDBEnv).
    cxxLanguageStandard: .cxx17
)
