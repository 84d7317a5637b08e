import VaultCrypto

/// Constants shared by every structure in Docs/FORMAT.md.
enum FormatConstants {
    /// Every EvidenceVault structure starts with these four bytes: ASCII "EVLT".
    static let magic: [UInt8] = Array("EVLT".utf8)
}

/// The type tag (byte 4 of every structure). Reading a structure checks its tag,
/// so one kind can never be parsed as another (THREATS.md 24). Values are
/// registered in Docs/FORMAT.md and never reused.
public enum TypeTag: UInt8, Sendable, CustomStringConvertible {
    /// A passphrase-protected secret identity file (`NAME.identity`).
    case secretIdentity = 0x01
    /// A self-signed public identity (`NAME.pub`).
    case publicIdentity = 0x02
    /// A signed ledger event.
    case event = 0x10
    /// A document blob (encrypted stream).
    case blob = 0x20
    /// An epoch key sealed to a member (plaintext of the sealed box).
    case epochKeyWrap = 0x30
    /// Sealed document metadata (plaintext of the AEAD box).
    case documentMetadata = 0x31
    /// A verified ledger state kept on one machine, outside the vault folder.
    case keptState = 0x40
    /// The vaults one identity trusts at each folder on one machine.
    case trustRecord = 0x41

    public var description: String {
        switch self {
        case .secretIdentity: return "secret identity"
        case .publicIdentity: return "public identity"
        case .event: return "ledger event"
        case .blob: return "document blob"
        case .epochKeyWrap: return "epoch key wrap"
        case .documentMetadata: return "document metadata"
        case .keptState: return "kept ledger state"
        case .trustRecord: return "trust record"
        }
    }

    /// Human name for a tag byte read from disk, known or not.
    static func describe(_ byte: UInt8) -> String {
        TypeTag(rawValue: byte)?.description ?? "unknown type 0x" + Hex.encode([byte])
    }
}

/// A structure on disk does not follow Docs/FORMAT.md.
public enum FormatError: Error, Equatable, CustomStringConvertible {
    case truncated(structure: String, field: String)
    case trailingBytes(structure: String, count: Int)
    case badMagic(structure: String)
    case wrongType(structure: String, expected: TypeTag, found: UInt8)
    case unsupportedVersion(structure: String, version: UInt8)
    case invalidField(structure: String, field: String, reason: String)

    public var description: String {
        switch self {
        case .truncated(let structure, let field):
            return "\(structure) is truncated (ends inside \(field))"
        case .trailingBytes(let structure, let count):
            return "\(structure) has \(count) unexpected trailing byte(s)"
        case .badMagic(let structure):
            return "\(structure) is not an EvidenceVault file (bad magic)"
        case .wrongType(let structure, let expected, let found):
            return "\(structure) holds a \(TypeTag.describe(found)), expected a \(expected)"
        case .unsupportedVersion(let structure, let version):
            return "\(structure) has format version \(version), which this evault does not support"
        case .invalidField(let structure, let field, let reason):
            return "\(structure): invalid \(field): \(reason)"
        }
    }
}
