import Foundation
import Testing
@testable import VaultCrypto

/// Loads a JSON vector file kept under Tests/VaultCryptoTests/Vectors.
func loadVectors<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Vectors"))
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}

/// Decodes a hex string from a vector file, failing the test on bad hex.
func hex(_ text: String) throws -> [UInt8] {
    try #require(Hex.decode(text), "bad hex in vector: \(text.prefix(16))...")
}
