import CSodium
import Foundation

/// XChaCha20-Poly1305-IETF (`crypto_aead_xchacha20poly1305_ietf_*`) with associated data.
///
/// A box is `nonce (24) || ciphertext || tag (16)`; the nonce is random, which
/// is safe for XChaCha20's 192-bit nonces.
public enum AEAD {
    /// Nonce length in bytes.
    public static let nonceLength = Int(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
    /// Authentication tag length in bytes.
    public static let tagLength = Int(crypto_aead_xchacha20poly1305_ietf_ABYTES)
    /// Bytes a box adds to its plaintext.
    public static let overhead = nonceLength + tagLength

    /// Seals `plaintext` under `key`, binding `associatedData`; returns the box.
    public static func seal(_ plaintext: some ContiguousBytes, associatedData: [UInt8], key: SymmetricKey) throws -> [UInt8] {
        try Sodium.ready()
        var nonce = [UInt8](repeating: 0, count: nonceLength)
        randombytes_buf(&nonce, nonceLength)
        return try nonce + seal(plaintext, associatedData: associatedData, key: key, nonce: nonce)
    }

    /// Seals with an explicit nonce; returns `ciphertext || tag`. Only for known-answer
    /// tests and format vectors: production code always uses the random-nonce `seal`.
    package static func seal(_ plaintext: some ContiguousBytes, associatedData: [UInt8], key: SymmetricKey, nonce: [UInt8]) throws -> [UInt8] {
        try Sodium.requireLength(nonce.count, nonceLength, "XChaCha20-Poly1305 nonce")
        return try plaintext.withUnsafeBytes { message in
            var output = [UInt8](repeating: 0, count: message.count + tagLength)
            var outputLength: UInt64 = 0
            try key.bytes.withUnsafeBytes { keyPointer in
                try Sodium.check(
                    crypto_aead_xchacha20poly1305_ietf_encrypt(
                        &output, &outputLength,
                        message.nonNullBytes, UInt64(message.count),
                        associatedData, UInt64(associatedData.count),
                        nil, nonce, keyPointer.nonNullBytes),
                    "crypto_aead_xchacha20poly1305_ietf_encrypt")
            }
            return output
        }
    }

    /// Opens a box made by `seal`; the plaintext is returned in secure memory.
    /// - Parameter what: names the object in the error if authentication fails.
    public static func open(_ box: [UInt8], associatedData: [UInt8], key: SymmetricKey, what: String) throws -> SecureBytes {
        try Sodium.ready()
        guard box.count >= overhead else { throw CryptoError.authenticationFailed(what: what) }
        let plaintext = try SecureBytes(zeroedCount: box.count - overhead)
        try box.withUnsafeBytes { sealed in
            _ = try plaintext.withUnsafeMutableBytes { out in
                try decrypt(UnsafeRawBufferPointer(rebasing: sealed[nonceLength...]), nonce: UnsafeRawBufferPointer(rebasing: sealed[..<nonceLength]),
                            associatedData: associatedData, key: key, into: out, what: what)
            }
        }
        return plaintext
    }

    /// Opens `ciphertext || tag` with an explicit nonce (known-answer tests).
    static func open(_ ciphertext: [UInt8], associatedData: [UInt8], key: SymmetricKey, nonce: [UInt8], what: String) throws -> SecureBytes {
        try Sodium.requireLength(nonce.count, nonceLength, "XChaCha20-Poly1305 nonce")
        guard ciphertext.count >= tagLength else { throw CryptoError.authenticationFailed(what: what) }
        let plaintext = try SecureBytes(zeroedCount: ciphertext.count - tagLength)
        try ciphertext.withUnsafeBytes { sealed in
            try nonce.withUnsafeBytes { noncePointer in
                _ = try plaintext.withUnsafeMutableBytes { out in
                    try decrypt(sealed, nonce: noncePointer, associatedData: associatedData, key: key, into: out, what: what)
                }
            }
        }
        return plaintext
    }

    /// Opens `nonce || ciphertext || tag` into the start of `scratch`, a reused
    /// secure buffer (no allocation: many small fields open at the cost of the
    /// cipher alone), and passes the plaintext to `body`; `scratch` is wiped after.
    public static func open<R>(_ box: [UInt8], associatedData: [UInt8], key: SymmetricKey, what: String, into scratch: SecureBytes,
                               _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try Sodium.ready()
        guard box.count >= overhead else { throw CryptoError.authenticationFailed(what: what) }
        let length = box.count - overhead
        guard length <= scratch.count else { throw CryptoError.invalidLength(what: what, expected: scratch.count, actual: length) }
        defer { scratch.wipe() }
        let opened = try box.withUnsafeBytes { sealed in
            try scratch.withUnsafeMutableBytes { out in
                try decrypt(UnsafeRawBufferPointer(rebasing: sealed[nonceLength...]), nonce: UnsafeRawBufferPointer(rebasing: sealed[..<nonceLength]),
                            associatedData: associatedData, key: key, into: out, what: what)
            }
        }
        return try scratch.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<opened])) }
    }

    /// Opens a sealed 32-byte key into `scratch` (exactly 32 bytes of secure
    /// memory, reused: no guarded allocation per key) and passes it to `body` as
    /// a key that is valid only during the call; `scratch` is wiped after.
    public static func openKey<R>(_ box: [UInt8], associatedData: [UInt8], key: SymmetricKey, what: String, into scratch: SecureBytes,
                                  _ body: (SymmetricKey) throws -> R) throws -> R {
        try Sodium.requireLength(scratch.count, SymmetricKey.length, "key scratch buffer")
        guard box.count == overhead + SymmetricKey.length else { throw CryptoError.authenticationFailed(what: what) }
        return try open(box, associatedData: associatedData, key: key, what: what, into: scratch) { _ in
            try body(try SymmetricKey(bytes: scratch))
        }
    }

    /// `crypto_aead_xchacha20poly1305_ietf_decrypt` of `ciphertext || tag` into
    /// `out` (at least the plaintext's length); returns the plaintext's length.
    private static func decrypt(_ ciphertext: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer, associatedData: [UInt8], key: SymmetricKey,
                                into out: UnsafeMutableRawBufferPointer, what: String) throws -> Int {
        precondition(ciphertext.count >= tagLength && out.count >= ciphertext.count - tagLength && nonce.count == nonceLength)
        var plaintextLength: UInt64 = 0
        let status = key.bytes.withUnsafeBytes { keyPointer in
            crypto_aead_xchacha20poly1305_ietf_decrypt(
                out.nonNullBytes, &plaintextLength, nil,
                ciphertext.nonNullBytes, UInt64(ciphertext.count),
                associatedData, UInt64(associatedData.count),
                nonce.nonNullBytes, keyPointer.nonNullBytes)
        }
        guard status == 0 else { throw CryptoError.authenticationFailed(what: what) }
        return Int(plaintextLength)
    }
}
