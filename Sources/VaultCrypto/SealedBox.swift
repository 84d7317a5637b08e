import CSodium
import Foundation

/// Anonymous public-key encryption to an X25519 key (`crypto_box_seal`), used to
/// wrap a group epoch key to a reader.
public enum SealedBox {
    /// Bytes a sealed box adds to its plaintext (ephemeral public key + tag).
    public static let overhead = crypto_box_sealbytes()

    /// Seals `message` to `recipient`.
    public static func seal(_ message: some ContiguousBytes, to recipient: EncryptionPublicKey) throws -> [UInt8] {
        try Sodium.ready()
        return try message.withUnsafeBytes { plaintext in
            var box = [UInt8](repeating: 0, count: plaintext.count + overhead)
            try Sodium.check(
                crypto_box_seal(&box, plaintext.nonNullBytes,
                                UInt64(plaintext.count), recipient.rawValue),
                "crypto_box_seal")
            return box
        }
    }

    /// Opens a sealed box with the recipient's key pair; the plaintext stays in secure memory.
    public static func open(_ box: [UInt8], with recipient: EncryptionKeyPair, what: String) throws -> SecureBytes {
        try Sodium.ready()
        guard box.count >= overhead else { throw CryptoError.authenticationFailed(what: what) }
        let plaintext = try SecureBytes(zeroedCount: box.count - overhead)
        let status = plaintext.withUnsafeMutableBytes { out in
            recipient.secretKey.withUnsafeBytes { secret in
                crypto_box_seal_open(out.nonNullBytes, box, UInt64(box.count),
                                     recipient.publicKey.rawValue, secret.nonNullBytes)
            }
        }
        guard status == 0 else { throw CryptoError.authenticationFailed(what: what) }
        return plaintext
    }
}
