import CSodium
import Foundation

/// An Ed25519 public key that is a canonical point of the prime-order subgroup.
///
/// The initialiser refuses small-order, non-canonical and off-curve encodings
/// (`crypto_core_ed25519_is_valid_point`), so a key that passes can never make
/// a signature "verify" for every message.
public struct SigningPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// Encoded length in bytes.
    public static let length = 32
    /// The 32-byte encoding.
    public let rawValue: [UInt8]

    /// Checks length and point validity.
    public init(rawValue: [UInt8]) throws {
        try Sodium.ready()
        try Sodium.requireLength(rawValue.count, Self.length, "Ed25519 public key")
        guard crypto_core_ed25519_is_valid_point(rawValue) == 1 else {
            throw CryptoError.unacceptablePublicKey(what: "Ed25519 public key")
        }
        self.rawValue = rawValue
    }

    /// Verifies a detached signature over `context` and `message` (see `SignatureContext`).
    ///
    /// libsodium (>= 1.0.16) rejects non-canonical `S`, small-order `R` and
    /// small-order or non-canonical public keys, so malleated signatures fail.
    public func isValidSignature(_ signature: [UInt8], for message: some ContiguousBytes, context: SignatureContext) -> Bool {
        isValidSignature(signature, overExactly: context.signedBytes(message))
    }

    /// Plain Ed25519 verification of `signed` as given, with no context: the one
    /// call to libsodium every verification goes through (and what the published
    /// vectors exercise, FORMAT.md §1 "Signature policy").
    func isValidSignature(_ signature: [UInt8], overExactly signed: [UInt8]) -> Bool {
        guard signature.count == Int(crypto_sign_BYTES) else { return false }
        return crypto_sign_verify_detached(signature, signed, UInt64(signed.count), rawValue) == 0
    }

    /// Throwing form of `isValidSignature`.
    public func verify(_ signature: [UInt8], for message: some ContiguousBytes, context: SignatureContext) throws {
        guard isValidSignature(signature, for: message, context: context) else { throw CryptoError.invalidSignature }
    }

    public var description: String { "SigningPublicKey(\(Hex.encode(rawValue)))" }
}

/// An Ed25519 key pair; the secret half stays in `SecureBytes`.
public struct SigningKeyPair: Sendable {
    /// Seed length: the 32 secret bytes from which libsodium derives the key pair.
    public static let seedLength = 32
    /// The public half.
    public let publicKey: SigningPublicKey
    /// The 32-byte seed (what identity files store).
    public let seed: SecureBytes
    private let secretKey: SecureBytes  // libsodium's 64-byte form: seed || public key

    /// Derives the key pair from a 32-byte seed (`crypto_sign_seed_keypair`).
    public init(seed: SecureBytes) throws {
        try Sodium.ready()
        try Sodium.requireLength(seed.count, Self.seedLength, "Ed25519 seed")
        var publicBytes = [UInt8](repeating: 0, count: SigningPublicKey.length)
        let secretKey = try SecureBytes(zeroedCount: Int(crypto_sign_SECRETKEYBYTES))
        try seed.withUnsafeBytes { seedPointer in
            try secretKey.withUnsafeMutableBytes { secretPointer in
                try Sodium.check(
                    crypto_sign_seed_keypair(
                        &publicBytes,
                        secretPointer.nonNullBytes,
                        seedPointer.nonNullBytes),
                    "crypto_sign_seed_keypair")
            }
        }
        self.publicKey = try SigningPublicKey(rawValue: publicBytes)
        self.seed = seed
        self.secretKey = secretKey
    }

    /// A fresh random key pair.
    public static func generate() throws -> SigningKeyPair {
        try SigningKeyPair(seed: SecureBytes.random(count: seedLength))
    }

    /// Signs `context` and `message` (see `SignatureContext`); returns the 64-byte signature.
    public func sign(_ message: some ContiguousBytes, context: SignatureContext) throws -> [UInt8] {
        try signRaw(context.signedBytes(message))
    }

    /// Plain Ed25519 over exactly `message` (known-answer tests only).
    func signRaw(_ message: [UInt8]) throws -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: Int(crypto_sign_BYTES))
        try secretKey.withUnsafeBytes { secretPointer in
            try Sodium.check(
                crypto_sign_detached(
                    &signature, nil, message, UInt64(message.count),
                    secretPointer.nonNullBytes),
                "crypto_sign_detached")
        }
        return signature
    }
}

/// Domain separation for signatures: a purpose label bound into every signed message.
///
/// The bytes signed are `len(label) (1 byte) || label (ASCII) || message`, so a
/// signature made for one purpose never verifies for another (THREATS.md 20).
public struct SignatureContext: Sendable, Hashable, CustomStringConvertible {
    /// The ASCII purpose label, for example `evidencevault/public-identity/v1`.
    public let label: String
    private let prefix: [UInt8]

    /// Creates a context; the label must be 1...255 printable ASCII bytes.
    public init(_ label: String) {
        let bytes = Array(label.utf8)
        precondition(!bytes.isEmpty && bytes.count <= 255 && bytes.allSatisfy { $0 >= 0x21 && $0 <= 0x7e },
                     "signature context labels are 1...255 printable ASCII bytes without spaces")
        self.label = label
        self.prefix = [UInt8(bytes.count)] + bytes
    }

    /// The exact byte string that is signed for `message` under this context.
    public func signedBytes(_ message: some ContiguousBytes) -> [UInt8] {
        message.withUnsafeBytes { prefix + Array($0) }
    }

    public var description: String { label }
}

/// Plain Ed25519 verification with no context (known-answer tests only).
enum Ed25519Raw {
    static func verify(_ signature: [UInt8], message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, publicKey.count == 32 else { return false }
        return crypto_sign_verify_detached(signature, message, UInt64(message.count), publicKey) == 0
    }
}
