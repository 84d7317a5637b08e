@testable import EvidenceVault
import VaultCrypto

/// One fuzz target per decoder of untrusted bytes (Docs/FUZZING.md).
///
/// Each target feeds the bytes to the decoder exactly as evault calls it on a
/// file or database row from the vault. A refusal is the expected outcome for
/// almost every input; what a target must never see is a crash, a hang, or a
/// decoder that *accepts* bytes which are not the canonical encoding of what it
/// returned. So every accepted input is re-encoded and must come back byte for
/// byte, and every string it carried is escaped for the terminal and reduced to
/// its name-comparison keys, as `list`, `log` and `members` would.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `NAME.pub`, and every identity embedded in an event or identity file:
    /// structure, key validity, then the self-signature (Ed25519).
    case publicIdentity = "public-identity"
    /// `NAME.identity`: structure and parameters, before any Argon2id.
    case identityFile = "identity-file"
    /// A ledger row: `Event.decode`, which structure-checks the frame and body
    /// (and the identity embedded in a genesis or member event).
    case event
    /// The first 86 bytes of a document blob.
    case blobHeader = "blob-header"
    /// Sealed document metadata after the AEAD opened it (written by a member).
    case documentMetadata = "document-metadata"

    /// Runs the target on one input; traps (so libFuzzer reports a crash) when
    /// an invariant fails. Returns whether the decoder accepted the input.
    @discardableResult
    public func run(_ bytes: [UInt8]) -> Bool {
        switch self {
        case .publicIdentity:
            guard let identity = try? PublicIdentity.decode(bytes) else { return false }
            check(identity.encoded() == bytes, "public identity does not re-encode to its input")
            inspect(name: identity.name)
        case .identityFile:
            guard let file = try? LockedIdentity(bytes: bytes) else { return false }
            check(file.associatedData + file.nonce + file.ciphertext == bytes, "identity file does not re-encode to its input")
            check(file.publicIdentity.encoded().count < bytes.count, "embedded identity larger than its file")
            inspect(name: file.publicIdentity.name)
        case .event:
            guard let event = try? Event.decode(bytes) else { return false }
            guard let unsigned = try? Event.encodeUnsigned(version: event.version, sequence: event.sequence, previousHash: event.previousHash,
                                                           time: event.time, actor: event.actor, body: event.body) else {
                check(false, "a decoded event does not encode")
                return true
            }
            let reencoded = unsigned + event.signature
            check(reencoded == bytes, "event does not re-encode to its input")
            check(event.hash == SHA256Stream.hash(bytes), "event hash is not SHA-256 of its bytes")
            switch event.body {
            case .genesis(_, let creator): inspect(name: creator.name)
            case .memberAdded(_, let member, _, _, _): inspect(name: member.name)
            case .groupCreated(_, let name, _, _, _): inspect(name: name)
            default: break
            }
        case .blobHeader:
            guard let header = try? BlobHeader.decode(bytes, structure: "blob") else { return false }
            check(header.encoded() == bytes, "blob header does not re-encode to its input")
            check(bytes.count == BlobHeader.length, "blob header of the wrong length accepted")
        case .documentMetadata:
            guard let metadata = try? DocumentMetadata.decode(bytes, structure: "metadata") else { return false }
            check(metadata.encoded() == bytes, "metadata does not re-encode to its input")
            for text in [metadata.fileName, metadata.title] + metadata.tags { inspect(name: text) }
        }
        return true
    }

    /// What the CLI does with a member-written string: escape it for the terminal
    /// and for JSON, and compute its look-alike keys.
    private func inspect(name: String) {
        let escaped = TextEscaping.escape(name)
        // Only the two joiners ContextJ allows may survive escaping.
        check(escaped.unicodeScalars.allSatisfy { !TextEscaping.needsEscape($0) || $0.value == 0x200C || $0.value == 0x200D },
              "escaped text still holds a character that needs escaping")
        check(name.unicodeScalars.contains(where: TextEscaping.needsEscape) || escaped == name,
              "escaping changed text that needed none")
        _ = TextEscaping.terminalSafeJSON("\"" + escaped + "\"")
        _ = MemberName.keys(name)
    }

    private func check(_ condition: Bool, _ message: StaticString) {
        if !condition { fatalError("\(rawValue): \(message)") }
    }
}
