// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "EvidenceVault",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "EvidenceVault", targets: ["EvidenceVault"]),
        .library(name: "VaultCrypto", targets: ["VaultCrypto"]),
        .executable(name: "evault", targets: ["evault"]),
    ],
    dependencies: [
        // Exact versions: two offices building on different days get the same code (Docs/DEPENDENCIES.md).
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", exact: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", exact: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"]), .brew(["libsodium"])]
        ),
        // SHA-256 only, from the system's OpenSSL libcrypto (SHA-NI; Docs/DEPENDENCIES.md).
        .systemLibrary(
            name: "COpenSSLCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // prctl(2) wrappers (variadic in C): non-dumpable process (Sources/VaultCrypto/ProcessHygiene.swift).
        .target(name: "CProcessControl"),
        .target(
            name: "VaultCrypto",
            dependencies: [
                "CSodium",
                "CProcessControl",
                "COpenSSLCrypto",
            ]
        ),
        .target(
            name: "EvidenceVault",
            dependencies: [
                "VaultCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // A constructor that locks the process down before main (THREATS.md 49); evault only.
        .target(name: "EvaultStartup"),
        .executableTarget(
            name: "evault",
            dependencies: [
                "EvidenceVault",
                "EvaultStartup",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // In-memory throughput of the primitives, against memcpy in the same run (.ci/bench).
        .executableTarget(
            name: "vault-bench",
            dependencies: ["VaultCrypto", "EvidenceVault", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "VaultCryptoTests",
            dependencies: ["VaultCrypto"],
            resources: [.copy("Vectors")]
        ),
        .testTarget(
            name: "EvidenceVaultTests",
            dependencies: ["EvidenceVault", "VaultCrypto"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "evaultTests",
            dependencies: ["EvidenceVault", "VaultCrypto"],
            resources: [.copy("Fixtures")]
        ),
        // What each fuzz target checks, one per decoder of untrusted bytes (Docs/FUZZING.md).
        .target(
            name: "FuzzHarness",
            dependencies: ["EvidenceVault", "VaultCrypto"],
            path: "Tests/FuzzHarness"
        ),
        // The seed corpus and every input a fuzzer ever crashed on, replayed in `swift test`.
        .testTarget(
            name: "FuzzCorpusTests",
            dependencies: ["FuzzHarness"],
            resources: [.copy("Corpus"), .copy("Regressions")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer executables, one per target in FuzzHarness. They have no `main` of
// their own (libFuzzer's), so they exist only when .ci/fuzz builds them with
// `-sanitize=fuzzer` and EVAULT_FUZZ=1.
if Context.environment["EVAULT_FUZZ"] == "1" {
    package.targets.append(.target(name: "FuzzDriver", path: "Tests/FuzzDriver"))
    for target in ["public-identity", "identity-file", "event", "blob-header", "document-metadata"] {
        package.targets.append(.executableTarget(
            name: "fuzz-\(target)", dependencies: ["FuzzHarness", "FuzzDriver"], path: "Tests/FuzzTargets/\(target)"))
        package.products.append(.executable(name: "fuzz-\(target)", targets: ["fuzz-\(target)"]))
    }
}
