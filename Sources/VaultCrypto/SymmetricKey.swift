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
