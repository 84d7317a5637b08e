import CSodium

/// Argon2id cost parameters, checked against a floor and a ceiling before use.
///
/// Floor: libsodium's INTERACTIVE (opslimit 2, memlimit 64 MiB). Ceiling:
/// opslimit 16 and memlimit 4 GiB, so that a hostile identity file cannot make a
/// laptop allocate or compute without bound (THREATS.md 29). Both are checked
/// before any memory is allocated.
public struct KDFParameters: Sendable, Equatable, CustomStringConvertible {
    /// Argon2id passes (libsodium `opslimit`).
    public let opsLimit: UInt64
    /// Memory in bytes (libsodium `memlimit`).
    public let memLimit: UInt64

    /// Smallest accepted opslimit: `crypto_pwhash_OPSLIMIT_INTERACTIVE`.
    public static let minOpsLimit = UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE)
    /// Smallest accepted memlimit: `crypto_pwhash_MEMLIMIT_INTERACTIVE` (64 MiB).
    public static let minMemLimit = UInt64(crypto_pwhash_MEMLIMIT_INTERACTIVE)
    /// Largest accepted opslimit.
    public static let maxOpsLimit: UInt64 = 16
    /// Largest accepted memlimit (4 GiB).
    public static let maxMemLimit: UInt64 = 4 << 30

    /// libsodium INTERACTIVE: the floor; tests use it.
    public static let interactive = KDFParameters(
        unchecked: UInt64(crypto_pwhash_OPSLIMIT_INTERACTIVE), UInt64(crypto_pwhash_MEMLIMIT_INTERACTIVE))
    /// libsodium MODERATE: the default for new identities.
    public static let moderate = KDFParameters(
        unchecked: UInt64(crypto_pwhash_OPSLIMIT_MODERATE), UInt64(crypto_pwhash_MEMLIMIT_MODERATE))
    /// libsodium SENSITIVE.
    public static let sensitive = KDFParameters(
        unchecked: UInt64(crypto_pwhash_OPSLIMIT_SENSITIVE), UInt64(crypto_pwhash_MEMLIMIT_SENSITIVE))

    /// Validates parameters read from a file or given by a user.
    public init(opsLimit: UInt64, memLimit: UInt64) throws {
        guard opsLimit >= Self.minOpsLimit else {
            throw CryptoError.kdfParametersRefused(reason: "opslimit \(opsLimit) is below the floor \(Self.minOpsLimit)")
        }
        guard opsLimit <= Self.maxOpsLimit else {
            throw CryptoError.kdfParametersRefused(reason: "opslimit \(opsLimit) is above the ceiling \(Self.maxOpsLimit)")
        }
        guard memLimit >= Self.minMemLimit else {
            throw CryptoError.kdfParametersRefused(reason: "memlimit \(memLimit) bytes is below the floor \(Self.minMemLimit)")
        }
        guard memLimit <= Self.maxMemLimit else {
            throw CryptoError.kdfParametersRefused(reason: "memlimit \(memLimit) bytes is above the ceiling \(Self.maxMemLimit)")
        }
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    private init(unchecked opsLimit: UInt64, _ memLimit: UInt64) {
        self.opsLimit = opsLimit
        self.memLimit = memLimit
    }

    public var description: String { "Argon2id(opslimit \(opsLimit), memlimit \(memLimit >> 20) MiB)" }
}

/// Argon2id13 password hashing (`crypto_pwhash`), deriving keys from passphrases.
public enum PasswordKDF {
    /// Salt length in bytes (`crypto_pwhash_SALTBYTES`).
    public static let saltLength = Int(crypto_pwhash_SALTBYTES)

    /// Derives a 32-byte key from `passphrase` and `salt` with validated parameters.
    public static func deriveKey(passphrase: SecureBytes, salt: [UInt8], parameters: KDFParameters) throws -> SymmetricKey {
        try SymmetricKey(bytes: derive(passphrase: passphrase, salt: salt, opsLimit: parameters.opsLimit,
                                       memLimit: parameters.memLimit, outputLength: SymmetricKey.length))
    }

    /// Raw Argon2id without the floor (known-answer tests with libsodium's small vectors).
    static func derive(passphrase: SecureBytes, salt: [UInt8], opsLimit: UInt64, memLimit: UInt64, outputLength: Int) throws -> SecureBytes {
        try Sodium.ready()
        try Sodium.requireLength(salt.count, saltLength, "Argon2id salt")
        let output = try SecureBytes(zeroedCount: outputLength)
        let status = output.withUnsafeMutableBytes { out in
            passphrase.withUnsafeBytes { password in
                crypto_pwhash(out.nonNullBytes, UInt64(outputLength),
                              UnsafeRawPointer(password.nonNullBytes).assumingMemoryBound(to: CChar.self), UInt64(password.count),
                              salt, opsLimit, Int(memLimit), crypto_pwhash_ALG_ARGON2ID13)
            }
        }
        try Sodium.check(status, "crypto_pwhash")
        return output
    }
}
