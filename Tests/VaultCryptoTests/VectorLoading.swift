import Foundation
import Testing
@testable import VaultCrypto

/// Loads a JSON vector file kept under Tests/VaultCryptoTests/Vectors; `name` may
/// start with a subfolder (`wycheproof/x25519_test`).
func loadVectors<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let parts = name.split(separator: "/").map(String.init)
    let folder = (["Vectors"] + parts.dropLast()).joined(separator: "/")
    let url = try #require(Bundle.module.url(forResource: parts.last, withExtension: "json", subdirectory: folder))
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

/// Decodes a hex string from a vector file, failing the test on bad hex.
func hex(_ text: String) throws -> [UInt8] {
    try #require(Hex.decode(text), "bad hex in vector: \(text.prefix(16))...")
}
