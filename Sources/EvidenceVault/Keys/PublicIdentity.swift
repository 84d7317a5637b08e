import Foundation
import VaultCrypto

/// A member's self-signed public identity (`NAME.pub`, Docs/FORMAT.md §2).
///
/// Only `decode` (which checks the self-signature and both keys) and
/// `UnlockedIdentity` create values, so holding a `PublicIdentity` means its
/// keys are valid and were signed by their owner.
public struct PublicIdentity: Sendable, Hashable {
    /// Format version written by this code.
    public static let version: UInt8 = 1
    /// Signature context of the self-signature.
    public static let signatureContext = SignatureContext("evidencevault/public-identity/v1")
    /// Longest name accepted, in UTF-8 bytes.
    public static let maxNameLength = 64

    /// Display name chosen by the owner (also the file name stem).
    public let name: String
    /// Creation time, whole seconds since 1970-01-01 UTC.
    public let createdAt: UInt64
    /// Ed25519 key that signs the owner's events.
    public let signingKey: SigningPublicKey
    /// X25519 key that group epoch keys are sealed to.
    public let encryptionKey: EncryptionPublicKey
    /// Ed25519 self-signature over the encoding before it.
    public let signature: [UInt8]

    /// The fingerprint of the two public keys.
    public var fingerprint: Fingerprint { Fingerprint(signingKey: signingKey, encryptionKey: encryptionKey) }
    /// Creation time as a `Date`.
    public var createdDate: Date { Date(timeIntervalSince1970: TimeInterval(createdAt)) }

    /// Builds and self-signs a public identity.
    init(name: String, createdAt: UInt64, signingKeyPair: SigningKeyPair, encryptionKey: EncryptionPublicKey) throws {
        try Self.validate(name: name)
        self.name = name
        self.createdAt = createdAt
        self.signingKey = signingKeyPair.publicKey
        self.encryptionKey = encryptionKey
        self.signature = try signingKeyPair.sign(
            Self.signedPart(name: name, createdAt: createdAt, signingKey: signingKey, encryptionKey: encryptionKey),
            context: Self.signatureContext)
    }

    private init(name: String, createdAt: UInt64, signingKey: SigningPublicKey, encryptionKey: EncryptionPublicKey, signature: [UInt8]) {
        self.name = name
        self.createdAt = createdAt
        self.signingKey = signingKey
        self.encryptionKey = encryptionKey
        self.signature = signature
    }

    /// The canonical encoding (what `NAME.pub` holds).
    public func encoded() -> [UInt8] {
        Self.signedPart(name: name, createdAt: createdAt, signingKey: signingKey, encryptionKey: encryptionKey) + signature
    }

    /// Parses and verifies a public identity: format, key validity, self-signature.
    public static func decode(_ bytes: [UInt8], structure: String = "public identity") throws -> PublicIdentity {
        try decode(bytes, structure: structure, checkingSelfSignature: true)
    }

    /// Parses a public identity; `checkingSelfSignature: false` only for one
    /// verified when its event was applied and kept under this machine's MAC
    /// (`KeptState`): its keys are still checked.
    static func decode(_ bytes: [UInt8], structure: String, checkingSelfSignature: Bool) throws -> PublicIdentity {
        var reader = ByteReader(bytes, structure: structure)
        _ = try reader.header(expecting: .publicIdentity, supportedVersions: version...version)
        let nameBytes = try reader.raw(Int(try reader.u8("name length")), "name")
        guard let name = String(validating: nameBytes, as: UTF8.self) else {
            throw FormatError.invalidField(structure: structure, field: "name", reason: "not UTF-8")
        }
        do { try validate(name: name) } catch {
            throw FormatError.invalidField(structure: structure, field: "name", reason: "\(error)")
        }
        let createdAt = try reader.u64("creation time")
        let signingKey: SigningPublicKey
        let encryptionKey: EncryptionPublicKey
        do {
            signingKey = try SigningPublicKey(rawValue: try reader.raw(32, "Ed25519 public key"))
            encryptionKey = try EncryptionPublicKey(rawValue: try reader.raw(32, "X25519 public key"))
        } catch let error as CryptoError {
            throw FormatError.invalidField(structure: structure, field: "public key", reason: error.description)
        }
        let signedLength = reader.offset
        let signature = try reader.raw(64, "signature")
        try reader.expectEnd()
        guard !checkingSelfSignature || signingKey.isValidSignature(signature, for: Array(bytes[..<signedLength]), context: signatureContext) else {
            throw FormatError.invalidField(structure: structure, field: "self-signature", reason: "does not verify: the identity was altered or forged")
        }
        return PublicIdentity(name: name, createdAt: createdAt, signingKey: signingKey, encryptionKey: encryptionKey, signature: signature)
    }

    /// Names are 1...64 bytes of UTF-8 without control characters or path separators,
    /// not starting with a dot (they become file names).
    public static func validate(name: String) throws {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maxNameLength else {
            throw VaultError(.invalidInput, "identity name must be 1 to \(maxNameLength) bytes of UTF-8")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "/" || $0 == "\\" }),
              !name.hasPrefix(".")
        else {
            throw VaultError(.invalidInput, "identity name \"\(name)\" must not contain control characters, '/' or '\\', nor start with '.'")
        }
    }

    private static func signedPart(name: String, createdAt: UInt64, signingKey: SigningPublicKey, encryptionKey: EncryptionPublicKey) -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.publicIdentity, version: version)
        let nameBytes = Array(name.utf8)
        writer.u8(UInt8(nameBytes.count))
        writer.raw(nameBytes)
        writer.u64(createdAt)
        writer.raw(signingKey.rawValue)
        writer.raw(encryptionKey.rawValue)
        return writer.bytes
    }
}
