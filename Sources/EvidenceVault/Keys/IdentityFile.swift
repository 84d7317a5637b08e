import Foundation
import VaultCrypto

/// A secret identity file as read from disk, before the passphrase is applied
/// (`NAME.identity`, Docs/FORMAT.md §3).
///
/// Parsing checks the structure, refuses KDF parameters outside the floor and
/// ceiling before anything is allocated, and verifies the embedded public
/// identity, so `show` works without a passphrase.
public struct LockedIdentity: Sendable {
    /// Format version written by this code.
    public static let version: UInt8 = 1
    /// KDF algorithm byte for Argon2id v1.3 via `crypto_pwhash`.
    static let kdfArgon2id13: UInt8 = 1
    /// Length of the encrypted secret payload: Ed25519 seed (32) + X25519 secret (32) + tag.
    static let ciphertextLength = 64 + AEAD.tagLength

    /// The embedded, self-signed public identity.
    public let publicIdentity: PublicIdentity
    /// The Argon2id parameters (authenticated as associated data).
    public let kdfParameters: KDFParameters
    let salt: [UInt8]
    let nonce: [UInt8]
    let ciphertext: [UInt8]
    /// Every byte before the nonce: bound to the ciphertext as associated data.
    let associatedData: [UInt8]

    /// Parses an identity file. `structure` names it in errors (usually its path).
    public init(bytes: [UInt8], structure: String = "identity file") throws {
        var reader = ByteReader(bytes, structure: structure)
        _ = try reader.header(expecting: .secretIdentity, supportedVersions: Self.version...Self.version)
        let algorithm = try reader.u8("KDF algorithm")
        guard algorithm == Self.kdfArgon2id13 else {
            throw FormatError.invalidField(structure: structure, field: "KDF algorithm", reason: "unknown algorithm \(algorithm)")
        }
        let opsLimit = UInt64(try reader.u32("opslimit"))
        let memLimit = try reader.u64("memlimit")
        do {
            kdfParameters = try KDFParameters(opsLimit: opsLimit, memLimit: memLimit)
        } catch let error as CryptoError {
            throw FormatError.invalidField(structure: structure, field: "KDF parameters", reason: error.description)
        }
        salt = try reader.raw(PasswordKDF.saltLength, "salt")
        let publicBytes = try reader.bytes16("public identity", max: 512)
        publicIdentity = try PublicIdentity.decode(publicBytes, structure: "\(structure) (embedded public identity)")
        associatedData = Array(bytes[..<reader.offset])
        nonce = try reader.raw(AEAD.nonceLength, "nonce")
        ciphertext = try reader.raw(Self.ciphertextLength, "encrypted secret keys")
        try reader.expectEnd()
    }

    /// Derives the key from `passphrase`, decrypts the secret keys and checks they
    /// match the public identity. A wrong passphrase and a tampered file are the
    /// same failure: the AEAD cannot tell them apart.
    public func unlock(passphrase: SecureBytes, structure: String = "identity file") throws -> UnlockedIdentity {
        try open(with: deriveKey(passphrase: passphrase), structure: structure)
    }

    /// Argon2id over the passphrase with this file's salt and parameters.
    func deriveKey(passphrase: SecureBytes) throws -> SymmetricKey {
        try PasswordKDF.deriveKey(passphrase: passphrase, salt: salt, parameters: kdfParameters)
    }

    /// Decrypts with an already-derived key and checks the keys against the public identity.
    func open(with key: SymmetricKey, structure: String) throws -> UnlockedIdentity {
        let secrets: SecureBytes
        do {
            secrets = try AEAD.open(nonce + ciphertext, associatedData: associatedData, key: key, what: structure)
        } catch {
            throw VaultError(.authenticationFailed, "\(structure): wrong passphrase, or the file was altered",
                             hint: "check the passphrase; if it is right, restore the identity file from a backup")
        }
        let seed = try secrets.withUnsafeBytes { try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<32])) }
        let scalar = try secrets.withUnsafeBytes { try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[32..<64])) }
        let signing = try SigningKeyPair(seed: seed)
        let encryption = try EncryptionKeyPair(secretKey: scalar)
        guard signing.publicKey == publicIdentity.signingKey, encryption.publicKey == publicIdentity.encryptionKey else {
            throw VaultError(.authenticationFailed, "\(structure): the secret keys do not match the public identity")
        }
        return UnlockedIdentity(publicIdentity: publicIdentity, signing: signing, encryption: encryption)
    }
}

/// An identity whose secret keys are in memory: it can sign events and open
/// epoch-key wraps. Lives only as long as an operation needs it.
public struct UnlockedIdentity: Sendable {
    /// The public half.
    public let publicIdentity: PublicIdentity
    /// Ed25519 key pair for signing events.
    public let signing: SigningKeyPair
    /// X25519 key pair for opening sealed epoch keys.
    public let encryption: EncryptionKeyPair

    /// The identity's fingerprint.
    public var fingerprint: Fingerprint { publicIdentity.fingerprint }

    init(publicIdentity: PublicIdentity, signing: SigningKeyPair, encryption: EncryptionKeyPair) {
        self.publicIdentity = publicIdentity
        self.signing = signing
        self.encryption = encryption
    }

    /// Rebuilds an identity from its secret keys (test vectors and fixtures).
    static func fromSecrets(name: String, createdAt: UInt64, seed: SecureBytes, scalar: SecureBytes) throws -> UnlockedIdentity {
        let signing = try SigningKeyPair(seed: seed)
        let encryption = try EncryptionKeyPair(secretKey: scalar)
        let publicIdentity = try PublicIdentity(name: name, createdAt: createdAt, signingKeyPair: signing, encryptionKey: encryption.publicKey)
        return UnlockedIdentity(publicIdentity: publicIdentity, signing: signing, encryption: encryption)
    }

    /// Makes a new identity with fresh keys.
    public static func generate(name: String, createdAt: Date = Date()) throws -> UnlockedIdentity {
        let signing = try SigningKeyPair.generate()
        let encryption = try EncryptionKeyPair.generate()
        let publicIdentity = try PublicIdentity(
            name: name, createdAt: UInt64(max(0, createdAt.timeIntervalSince1970.rounded(.down))),
            signingKeyPair: signing, encryptionKey: encryption.publicKey)
        return UnlockedIdentity(publicIdentity: publicIdentity, signing: signing, encryption: encryption)
    }

    /// Encrypts the secret keys under `passphrase` with a fresh salt and nonce:
    /// the bytes of a `NAME.identity` file.
    public func sealed(passphrase: SecureBytes, parameters: KDFParameters) throws -> [UInt8] {
        try sealed(passphrase: passphrase, parameters: parameters,
                   salt: Random.bytes(PasswordKDF.saltLength), nonce: Random.bytes(AEAD.nonceLength))
    }

    /// Deterministic form, for the format's test vectors only.
    func sealed(passphrase: SecureBytes, parameters: KDFParameters, salt: [UInt8], nonce: [UInt8]) throws -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.secretIdentity, version: LockedIdentity.version)
        writer.u8(LockedIdentity.kdfArgon2id13)
        writer.u32(UInt32(parameters.opsLimit))
        writer.u64(parameters.memLimit)
        writer.raw(salt)
        writer.bytes16(publicIdentity.encoded())
        let associatedData = writer.bytes
        let key = try PasswordKDF.deriveKey(passphrase: passphrase, salt: salt, parameters: parameters)
        let secrets = try SecureBytes.filling(count: 64) { out in
            signing.seed.withUnsafeBytes { out.copyMemory(from: $0) }
            encryption.secretKey.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[32...]).copyMemory(from: $0) }
        }
        let box = try AEAD.seal(secrets, associatedData: associatedData, key: key, nonce: nonce)
        return associatedData + nonce + box
    }
}
