import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// A fresh temporary folder, removed when the value is released.
final class TemporaryFolder: @unchecked Sendable {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("evault-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    func read(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: file(name)))) }

    func write(_ bytes: [UInt8], to name: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: file(name))) }

    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
}

/// Passphrases as secure bytes.
func passphrase(_ text: String) throws -> SecureBytes { try SecureBytes(copying: Array(text.utf8)) }

/// The package root, found from this file's location.
let packageRoot: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A fixture file kept under Tests/EvidenceVaultTests/Fixtures.
func fixture(_ relativePath: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(relativePath)"))
    return Array(try Data(contentsOf: url))
}
