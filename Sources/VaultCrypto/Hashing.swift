import CSodium
import Crypto
import Foundation

/// Streaming SHA-256 through swift-crypto (SHA-NI where the CPU has it).
///
/// Used for blob names and plaintext commitments: the hash courts and forensic tools expect.
public struct SHA256Stream: Sendable {
    /// Digest length in bytes.
    public static let digestLength = 32
    private var state = Crypto.SHA256()

    /// A fresh hash state.
    public init() {}

    /// Absorbs more input.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        state.update(bufferPointer: bytes)
    }

    /// Absorbs more input.
    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { state.update(bufferPointer: $0) }
    }

    /// The 32-byte digest.
    public func finalize() -> [UInt8] {
        Array(state.finalize())
    }

    /// One-shot SHA-256.
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        var stream = SHA256Stream()
        stream.update(bytes)
        return stream.finalize()
    }
}

/// Keyed BLAKE2b (`crypto_generichash`), used for key commitments.
public enum KeyedHash {
    /// Keyed BLAKE2b of `message` with a 16...64-byte key; output 16...64 bytes.
    public static func blake2b(_ message: some ContiguousBytes, key: SecureBytes, outputLength: Int = 32) throws -> [UInt8] {
        try Sodium.ready()
        guard key.count >= Int(crypto_generichash_KEYBYTES_MIN), key.count <= Int(crypto_generichash_KEYBYTES_MAX) else {
            throw CryptoError.invalidLength(what: "BLAKE2b key", expected: Int(crypto_generichash_KEYBYTES), actual: key.count)
        }
        guard outputLength >= Int(crypto_generichash_BYTES_MIN), outputLength <= Int(crypto_generichash_BYTES_MAX) else {
            throw CryptoError.invalidLength(what: "BLAKE2b output", expected: Int(crypto_generichash_BYTES), actual: outputLength)
        }
        var out = [UInt8](repeating: 0, count: outputLength)
        try message.withUnsafeBytes { input in
            try key.withUnsafeBytes { keyPointer in
                try Sodium.check(
                    crypto_generichash(&out, outputLength, input.nonNullBytes,
                                       UInt64(input.count), keyPointer.nonNullBytes,
                                       keyPointer.count),
                    "crypto_generichash")
            }
        }
        return out
    }
}

/// Comparison of secret-derived values without timing that depends on where they differ.
public enum ConstantTime {
    /// `sodium_memcmp`: true when both arrays have the same length and bytes.
    public static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard !lhs.isEmpty else { return true }
        return lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in sodium_memcmp(l.baseAddress!, r.baseAddress!, lhs.count) == 0 } }
    }
}
