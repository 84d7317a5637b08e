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
}
