import CSodium

/// A 32-byte symmetric key (XChaCha20-Poly1305, secretstream, keyed BLAKE2b).
///
/// The library layer wraps it in role-specific types (epoch key, case key,
/// document key) so that one kind can never be passed where another is expected.
public struct SymmetricKey: Sendable, Equatable, CustomStringConvertible {
    /// Key length in bytes.
    public static let length = 32
    /// The key material, in secure memory.
    public let bytes: SecureBytes

    /// Wraps existing key material, checking its size.
    public init(bytes: SecureBytes) throws {
        try Sodium.requireLength(bytes.count, Self.length, "symmetric key")
        self.bytes = bytes
    }

    /// A fresh random key.
    public static func random() throws -> SymmetricKey {
        try SymmetricKey(bytes: SecureBytes.random(count: length))
    }

    public var description: String { "SymmetricKey(redacted)" }
}

extension SymmetricKey {
    /// A subkey derived with libsodium's `crypto_kdf_derive_from_key`
    /// (BLAKE2b keyed with this key, over the subkey id and an 8-byte context):
    /// knowing the subkey reveals nothing about this key or its other subkeys.
    /// - Parameters:
    ///   - subkeyID: distinguishes subkeys of the same context.
    ///   - context: exactly 8 ASCII bytes naming what the subkey is for.
    public func derive(subkeyID: UInt64, context: String) throws -> SymmetricKey {
        try Sodium.ready()
        let contextBytes = Array(context.utf8)
        try Sodium.requireLength(contextBytes.count, Int(crypto_kdf_CONTEXTBYTES), "KDF context")
        let subkey = try SecureBytes(zeroedCount: Self.length)
        let status = subkey.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { master in
                contextBytes.withUnsafeBufferPointer { ctx in
                    ctx.withMemoryRebound(to: CChar.self) { chars in
                        crypto_kdf_derive_from_key(out.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.length, subkeyID,
                                                   chars.baseAddress!, master.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        try Sodium.check(status, "crypto_kdf_derive_from_key")
        return try SymmetricKey(bytes: subkey)
    }
}
