import VaultCrypto

/// The fingerprint of a public identity: SHA-256 over a label and both public keys.
///
/// `SHA-256("evidencevault/fingerprint/v1" || 0x00 || Ed25519 key || X25519 key)`.
/// The full 32 bytes (hex) identify actors in the ledger; the first 160 bits in
/// Crockford base32, grouped by four, are what two lawyers read to each other.
public struct Fingerprint: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The 32 digest bytes.
    public let rawValue: [UInt8]

    static let label: [UInt8] = Array("evidencevault/fingerprint/v1".utf8) + [0]

    /// Computes the fingerprint of a key pair's public halves.
    public init(signingKey: SigningPublicKey, encryptionKey: EncryptionPublicKey) {
        rawValue = SHA256Stream.hash(Self.label + signingKey.rawValue + encryptionKey.rawValue)
    }

    /// Wraps 32 digest bytes read from a structure.
    public init(rawValue: [UInt8]) throws {
        guard rawValue.count == 32 else {
            throw FormatError.invalidField(structure: "fingerprint", field: "digest", reason: "must be 32 bytes, got \(rawValue.count)")
        }
        self.rawValue = rawValue
    }

    /// 64 lowercase hex characters: the identifier used in JSON (`id`) and the ledger.
    public var hex: String { Hex.encode(rawValue) }

    /// 32 Crockford base32 characters (160 bits) in eight groups of four, e.g. `7K3M-QX2P-...`.
    /// Crockford's alphabet has no I, L, O or U, so it survives being read aloud.
    public var readable: String {
        let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        var characters: [Character] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in rawValue.prefix(20) {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                characters.append(alphabet[Int((buffer >> UInt32(bits)) & 0x1f)])
            }
        }
        return stride(from: 0, to: characters.count, by: 4)
            .map { String(characters[$0..<min($0 + 4, characters.count)]) }
            .joined(separator: "-")
    }

    public var description: String { readable }

    public static func < (lhs: Fingerprint, rhs: Fingerprint) -> Bool {
        lhs.rawValue.lexicographicallyPrecedes(rhs.rawValue)
    }
}
