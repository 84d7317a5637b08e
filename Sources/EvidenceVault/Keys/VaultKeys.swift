import VaultCrypto

/// A working group's key for one epoch; sealed to each reader in a custodian-signed event.
public struct GroupEpochKey: Sendable {
    let key: SymmetricKey
    init(_ key: SymmetricKey) { self.key = key }
    static func random() throws -> GroupEpochKey { GroupEpochKey(try .random()) }
}

/// A case's key for one generation; wrapped under the group epoch key.
public struct CaseKey: Sendable {
    let key: SymmetricKey
    init(_ key: SymmetricKey) { self.key = key }
    static func random() throws -> CaseKey { CaseKey(try .random()) }
}

/// A document version's key; wrapped under the case key. Encrypts the blob.
public struct DocumentKey: Sendable {
    let key: SymmetricKey
    init(_ key: SymmetricKey) { self.key = key }
    static func random() throws -> DocumentKey { DocumentKey(try .random()) }
}

/// Every key wrap and sealed field of the key hierarchy (Docs/FORMAT.md §6).
/// Each binds its context as associated data, so a wrap moved to another
/// member, group, case, document or field fails to open (THREATS.md 12).
enum KeyWrap {
    // MARK: epoch key -> member (sealed box)

    /// Seals `epochKey` for `groupID`/`epoch` to a reader's X25519 key. The plaintext
    /// carries the group and epoch, checked on opening.
    static func sealEpochKey(_ epochKey: GroupEpochKey, groupID: ObjectID, epoch: UInt32, to recipient: EncryptionPublicKey) throws -> [UInt8] {
        let prefix = epochWrapPrefix(groupID: groupID, epoch: epoch)
        let plaintext = try SecureBytes.filling(count: prefix.count + SymmetricKey.length) { out in
            prefix.withUnsafeBytes { out.copyMemory(from: $0) }
            epochKey.key.bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[prefix.count...]).copyMemory(from: $0) }
        }
        return try SealedBox.seal(plaintext, to: recipient)
    }

    /// Opens an epoch-key wrap with the member's key pair, checking group and epoch.
    static func openEpochKey(_ wrap: [UInt8], groupID: ObjectID, epoch: UInt32, with identity: UnlockedIdentity) throws -> GroupEpochKey {
        let what = "epoch \(epoch) key wrap of group \(groupID.hex)"
        let plaintext = try SealedBox.open(wrap, with: identity.encryption, what: what)
        let prefix = epochWrapPrefix(groupID: groupID, epoch: epoch)
        let matches = plaintext.count == prefix.count + SymmetricKey.length
            && plaintext.withUnsafeBytes { Array($0.prefix(prefix.count)) } == prefix
        guard matches else { throw CryptoError.authenticationFailed(what: what) }
        let key = try plaintext.withUnsafeBytes { try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[prefix.count...])) }
        return GroupEpochKey(try SymmetricKey(bytes: key))
    }

    /// The sealed plaintext before the key: type `0x30`, version 1, group id, epoch.
    private static func epochWrapPrefix(groupID: ObjectID, epoch: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.epochKeyWrap, version: 1)
        writer.id(groupID)
        writer.u32(epoch)
        return writer.bytes
    }

    // MARK: case key under epoch key

    static func caseKeyContext(groupID: ObjectID, caseID: ObjectID, generation: UInt32, epoch: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Array("evidencevault/case-key/v1".utf8))
        writer.id(groupID)
        writer.id(caseID)
        writer.u32(generation)
        writer.u32(epoch)
        return writer.bytes
    }

    static func wrapCaseKey(_ caseKey: CaseKey, under epochKey: GroupEpochKey, groupID: ObjectID, caseID: ObjectID,
                            generation: UInt32, epoch: UInt32) throws -> [UInt8] {
        try wrap(caseKey.key, under: epochKey.key,
                 context: caseKeyContext(groupID: groupID, caseID: caseID, generation: generation, epoch: epoch))
    }

    static func unwrapCaseKey(_ wrapped: [UInt8], under epochKey: GroupEpochKey, groupID: ObjectID, caseID: ObjectID,
                              generation: UInt32, epoch: UInt32) throws -> CaseKey {
        CaseKey(try unwrap(wrapped, under: epochKey.key, what: "key of case \(caseID.hex)",
                           context: caseKeyContext(groupID: groupID, caseID: caseID, generation: generation, epoch: epoch)))
    }

    /// Unwraps a case key into `scratch` (32 bytes of reused secure memory) for
    /// the length of `body` only: many cases listed at the cost of the cipher,
    /// not of a guarded allocation each.
    static func withUnwrappedCaseKey<R>(_ wrapped: [UInt8], under epochKey: GroupEpochKey, groupID: ObjectID, caseID: ObjectID,
                                        generation: UInt32, epoch: UInt32, scratch: SecureBytes, _ body: (CaseKey) throws -> R) throws -> R {
        try AEAD.openKey(wrapped, associatedData: caseKeyContext(groupID: groupID, caseID: caseID, generation: generation, epoch: epoch),
                         key: epochKey.key, what: "key of case \(caseID.hex)", into: scratch) { try body(CaseKey($0)) }
    }

    // MARK: document key under case key

    static func documentKeyContext(caseID: ObjectID, documentID: ObjectID, version: UInt32, generation: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Array("evidencevault/document-key/v1".utf8))
        writer.id(caseID)
        writer.id(documentID)
        writer.u32(version)
        writer.u32(generation)
        return writer.bytes
    }

    static func wrapDocumentKey(_ documentKey: DocumentKey, under caseKey: CaseKey, caseID: ObjectID, documentID: ObjectID,
                                version: UInt32, generation: UInt32) throws -> [UInt8] {
        try wrap(documentKey.key, under: caseKey.key,
                 context: documentKeyContext(caseID: caseID, documentID: documentID, version: version, generation: generation))
    }

    static func unwrapDocumentKey(_ wrapped: [UInt8], under caseKey: CaseKey, caseID: ObjectID, documentID: ObjectID,
                                  version: UInt32, generation: UInt32) throws -> DocumentKey {
        DocumentKey(try unwrap(wrapped, under: caseKey.key, what: "key of document \(documentID.hex)",
                               context: documentKeyContext(caseID: caseID, documentID: documentID, version: version, generation: generation)))
    }

    /// A symmetric key AEAD-wrapped under another, its context bound as associated data.
    private static func wrap(_ key: SymmetricKey, under wrappingKey: SymmetricKey, context: [UInt8]) throws -> [UInt8] {
        try AEAD.seal(key.bytes, associatedData: context, key: wrappingKey)
    }

    private static func unwrap(_ box: [UInt8], under wrappingKey: SymmetricKey, what: String, context: [UInt8]) throws -> SymmetricKey {
        try SymmetricKey(bytes: AEAD.open(box, associatedData: context, key: wrappingKey, what: what))
    }

    // MARK: sealed fields under case key

    /// Associated data of a sealed field: label, case id, object id (case or document), version, field name.
    static func fieldContext(caseID: ObjectID, objectID: ObjectID, version: UInt32, field: String) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Array("evidencevault/sealed-field/v1".utf8))
        writer.id(caseID)
        writer.id(objectID)
        writer.u32(version)
        writer.string8(field)
        return writer.bytes
    }

    static func sealField(_ value: [UInt8], caseKey: CaseKey, caseID: ObjectID, objectID: ObjectID, version: UInt32, field: String) throws -> [UInt8] {
        try AEAD.seal(value, associatedData: fieldContext(caseID: caseID, objectID: objectID, version: version, field: field), key: caseKey.key)
    }

    static func openField(_ box: [UInt8], caseKey: CaseKey, caseID: ObjectID, objectID: ObjectID, version: UInt32, field: String) throws -> SecureBytes {
        try AEAD.open(box, associatedData: fieldContext(caseID: caseID, objectID: objectID, version: version, field: field),
                      key: caseKey.key, what: "\(field) of \(objectID.hex)")
    }

    /// Opens a sealed field into a reused secure buffer and passes its plaintext to `body` (the buffer is wiped after).
    static func openField<R>(_ box: [UInt8], caseKey: CaseKey, caseID: ObjectID, objectID: ObjectID, version: UInt32, field: String,
                             scratch: SecureBytes, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try AEAD.open(box, associatedData: fieldContext(caseID: caseID, objectID: objectID, version: version, field: field),
                      key: caseKey.key, what: "\(field) of \(objectID.hex)", into: scratch, body)
    }
}

/// Commitments to epoch and case keys (Docs/FORMAT.md §6.5), written in the
/// signed event that introduces each key and checked by every reader before the
/// key is used: one signed event then has one meaning for every reader, because
/// no second key matches a commitment (a custodian cannot seal one key to some
/// members and another to others, nor make a wrap that opens under two keys).
///
/// `C = BLAKE2b-256(key = K, message = label || ids || number(s) || C_previous)`;
/// keyed BLAKE2b is a PRF, so `C` reveals nothing of `K`; finding a second key
/// with the same `C` is a BLAKE2b collision.
enum KeyCommitment {
    /// The commitment before the first key, and after an uncommitted (version 1) one.
    static let none = [UInt8](repeating: 0, count: 32)

    /// `C_e` of a group's epoch `epoch`.
    static func epoch(_ key: GroupEpochKey, groupID: ObjectID, epoch: UInt32, previous: [UInt8]) throws -> [UInt8] {
        var message = ByteWriter()
        message.raw(Array("evidencevault/epoch-commitment/v1".utf8))
        message.id(groupID)
        message.u32(epoch)
        message.raw(previous)
        return try KeyedHash.blake2b(message.bytes, key: key.key.bytes)
    }

    /// `CC_g` of a case's key generation `generation`, made under epoch `epoch`.
    static func caseKey(_ key: CaseKey, groupID: ObjectID, caseID: ObjectID, generation: UInt32, epoch: UInt32,
                        previous: [UInt8]) throws -> [UInt8] {
        var message = ByteWriter()
        message.raw(Array("evidencevault/case-commitment/v1".utf8))
        message.id(groupID)
        message.id(caseID)
        message.u32(generation)
        message.u32(epoch)
        message.raw(previous)
        return try KeyedHash.blake2b(message.bytes, key: key.key.bytes)
    }

    /// Constant-time comparison of a computed commitment with the recorded one.
    static func matches(_ computed: [UInt8], _ recorded: [UInt8]) -> Bool { ConstantTime.equal(computed, recorded) }
}

extension KeyWrap {
    // MARK: previous epoch key under a subkey of the next (the prev chain)

    /// The key that wraps epoch `e - 1`'s key in epoch `e`'s rotation:
    /// `crypto_kdf_derive_from_key(32, 1, "EVprevEK", K_e)`.
    static func previousKeyWrappingKey(_ epochKey: GroupEpochKey) throws -> SymmetricKey {
        try epochKey.key.derive(subkeyID: 1, context: "EVprevEK")
    }

    static func previousKeyContext(groupID: ObjectID, previousEpoch: UInt32) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Array("evidencevault/previous-epoch-key/v1".utf8))
        writer.id(groupID)
        writer.u32(previousEpoch)
        return writer.bytes
    }

    /// Wraps `previous` (epoch `previousEpoch`) under a subkey of `next`.
    static func wrapPreviousKey(_ previous: GroupEpochKey, under next: GroupEpochKey, groupID: ObjectID, previousEpoch: UInt32) throws -> [UInt8] {
        try AEAD.seal(previous.key.bytes, associatedData: previousKeyContext(groupID: groupID, previousEpoch: previousEpoch),
                      key: previousKeyWrappingKey(next))
    }

    /// Opens the previous epoch's key from a rotation's wrap.
    static func unwrapPreviousKey(_ box: [UInt8], under next: GroupEpochKey, groupID: ObjectID, previousEpoch: UInt32) throws -> GroupEpochKey {
        GroupEpochKey(try SymmetricKey(bytes: AEAD.open(box, associatedData: previousKeyContext(groupID: groupID, previousEpoch: previousEpoch),
                                                        key: previousKeyWrappingKey(next), what: "epoch \(previousEpoch) key of group \(groupID.hex)")))
    }

    // MARK: reasons sealed for the group's readers

    /// Associated data of a sealed reason: label, group id, epoch the reason is
    /// sealed under, event type, and the removed member (32 zero bytes for a rotation).
    static func reasonContext(groupID: ObjectID, epoch: UInt32, typeCode: UInt8, member: Fingerprint?) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(Array("evidencevault/reason/v1".utf8))
        writer.id(groupID)
        writer.u32(epoch)
        writer.u8(typeCode)
        writer.raw(member?.rawValue ?? KeyCommitment.none)
        return writer.bytes
    }

    /// Seals a `--reason` text under the epoch key in effect after the event (empty text: empty field).
    static func sealReason(_ text: String, epochKey: GroupEpochKey, groupID: ObjectID, epoch: UInt32, typeCode: UInt8,
                           member: Fingerprint?) throws -> [UInt8] {
        guard !text.isEmpty else { return [] }
        return try AEAD.seal(Array(text.utf8), associatedData: reasonContext(groupID: groupID, epoch: epoch, typeCode: typeCode, member: member),
                             key: epochKey.key)
    }

    static func openReason(_ box: [UInt8], epochKey: GroupEpochKey, groupID: ObjectID, epoch: UInt32, typeCode: UInt8,
                           member: Fingerprint?) throws -> String {
        guard !box.isEmpty else { return "" }
        let bytes = try AEAD.open(box, associatedData: reasonContext(groupID: groupID, epoch: epoch, typeCode: typeCode, member: member),
                                  key: epochKey.key, what: "sealed reason")
        guard let text = bytes.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
            throw VaultError(.unreadable, "sealed reason is not UTF-8")
        }
        return text
    }
}
