import CSodium

/// An X25519 public key that is not of low order.
///
/// Low-order points (including all-zero) would make every shared secret
/// predictable; the initialiser refuses them (THREATS.md 18).
public struct EncryptionPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// Encoded length in bytes.
    public static let length = 32
    /// The 32-byte Montgomery u-coordinate.
    public let rawValue: [UInt8]

    /// Checks length and refuses low-order points.
    public init(rawValue: [UInt8]) throws {
        try Sodium.ready()
        try Sodium.requireLength(rawValue.count, Self.length, "X25519 public key")
        guard !X25519.isLowOrder(rawValue) else {
            throw CryptoError.unacceptablePublicKey(what: "X25519 public key")
        }
        self.rawValue = rawValue
    }

    public var description: String { "EncryptionPublicKey(\(Hex.encode(rawValue)))" }
}

/// An X25519 key pair; the secret scalar stays in `SecureBytes`.
public struct EncryptionKeyPair: Sendable {
    /// Secret scalar length.
    public static let secretLength = 32
    /// The public half.
    public let publicKey: EncryptionPublicKey
    /// The secret scalar.
    public let secretKey: SecureBytes

    /// Derives the public key from a 32-byte secret scalar (`crypto_scalarmult_base`).
    public init(secretKey: SecureBytes) throws {
        try Sodium.ready()
        try Sodium.requireLength(secretKey.count, Self.secretLength, "X25519 secret key")
        var publicBytes = [UInt8](repeating: 0, count: EncryptionPublicKey.length)
        try secretKey.withUnsafeBytes { secret in
            try Sodium.check(
                crypto_scalarmult_base(&publicBytes, secret.nonNullBytes),
                "crypto_scalarmult_base")
        }
        self.publicKey = try EncryptionPublicKey(rawValue: publicBytes)
        self.secretKey = secretKey
    }

    /// A fresh random key pair.
    public static func generate() throws -> EncryptionKeyPair {
        try EncryptionKeyPair(secretKey: SecureBytes.random(count: secretLength))
    }
}

/// Raw X25519, internal: key validation and known-answer tests.
enum X25519 {
    /// True for points whose product with any clamped scalar is the all-zero point.
    ///
    /// Clamped scalars are multiples of the cofactor 8, so multiplying by a fixed
    /// clamped scalar yields zero exactly for points of order 1, 2, 4 or 8
    /// (libsodium's `crypto_scalarmult` then returns -1).
    static func isLowOrder(_ point: [UInt8]) -> Bool {
        var scalar = [UInt8](repeating: 0, count: 32)
        scalar[0] = 9  // any value: libsodium clamps it
        var out = [UInt8](repeating: 0, count: 32)
        return crypto_scalarmult(&out, scalar, point) != 0
    }

    /// `crypto_scalarmult(scalar, u)`; throws for low-order `u`.
    static func scalarMult(scalar: [UInt8], u: [UInt8]) throws -> [UInt8] {
        try Sodium.ready()
        var out = [UInt8](repeating: 0, count: 32)
        try Sodium.check(crypto_scalarmult(&out, scalar, u), "crypto_scalarmult")
        return out
    }
}
