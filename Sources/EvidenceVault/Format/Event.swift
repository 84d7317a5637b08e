import VaultCrypto

/// The role of a working-group member.
public enum Role: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Adds documents to the group's cases, lists and reads them.
    case lawyer = 1
    /// Everything a lawyer may, plus admitting members (and, later, rotation).
    case custodian = 2
    /// Verifies integrity and custody; receives no keys, reads nothing.
    case auditor = 3

    /// Lawyers and custodians hold the group's epoch key.
    public var canRead: Bool { self != .auditor }

    public var description: String {
        switch self {
        case .lawyer: return "lawyer"
        case .custodian: return "custodian"
        case .auditor: return "auditor"
        }
    }

    /// Parses `lawyer`, `custodian` or `auditor`.
    public init?(name: String) {
        guard let role = Role.allCases.first(where: { $0.description == name }) else { return nil }
        self = role
    }
}

/// What an event says happened. Each kind has its own type code and signature
/// context (Docs/FORMAT.md §5), so a signature for one kind never verifies as another.
public enum EventBody: Sendable, Equatable {
    /// Event 0: the vault exists; names its id and its creator.
    case genesis(vaultID: ObjectID, creator: PublicIdentity)
    /// A working group is created; the actor becomes its first custodian and
    /// receives epoch 1's key sealed to them. `commitment` (version 2) commits to
    /// that key (`KeyCommitment`); groups made by version 1 have none.
    case groupCreated(groupID: ObjectID, name: String, epoch: UInt32, custodianWrap: [UInt8], commitment: [UInt8]?)
    /// A member is admitted with a role; readers receive the current epoch key sealed to them.
    case memberAdded(groupID: ObjectID, member: PublicIdentity, role: Role, epoch: UInt32, wrap: [UInt8])
    /// A case is opened in a group: its key wrapped under the epoch key, reference and title sealed.
    /// `commitment` (version 2) commits to the case key of generation 1.
    case caseCreated(caseID: ObjectID, groupID: ObjectID, epoch: UInt32, generation: UInt32,
                     wrappedKey: [UInt8], sealedReference: [UInt8], sealedTitle: [UInt8], commitment: [UInt8]?)
    /// A document is added to a case: its key wrapped under the case key, the
    /// ciphertext's SHA-256 and size, and its sealed metadata.
    case documentAdded(DocumentRecord)
    /// A reader exported (decrypted) a document: the custody record of who handled it.
    case documentExported(documentID: ObjectID, caseID: ObjectID)
    /// A member leaves a group (custodians only). Removing a lawyer or custodian
    /// carries the rotation to a new epoch in the same event; removing an auditor
    /// carries none. The reason is sealed for the group's readers (may be empty).
    case memberRemoved(groupID: ObjectID, member: Fingerprint, sealedReason: [UInt8], rotation: Rotation?)
    /// A new epoch with the same members (custodians only).
    case epochRotated(groupID: ObjectID, sealedReason: [UInt8], rotation: Rotation)
    /// A case's next key generation, made under the group's current epoch by a
    /// reader before the first document added to the case after a rotation.
    case caseRekeyed(caseID: ObjectID, groupID: ObjectID, epoch: UInt32, generation: UInt32, wrappedKey: [UInt8], commitment: [UInt8])
    /// A document's content written anew under a fresh key and the case's current
    /// generation (custodians only); the old blob is superseded.
    case documentReencrypted(Reencryption)
    /// A reader confirms having opened epoch `epoch`'s key and found it matches `commitment`.
    case epochConfirmed(groupID: ObjectID, epoch: UInt32, commitment: [UInt8])

    /// The type code written in the event.
    public var typeCode: UInt8 {
        switch self {
        case .genesis: return 1
        case .groupCreated: return 2
        case .memberAdded: return 3
        case .caseCreated: return 4
        case .documentAdded: return 5
        case .documentExported: return 6
        case .memberRemoved: return 7
        case .epochRotated: return 8
        case .caseRekeyed: return 9
        case .documentReencrypted: return 10
        case .epochConfirmed: return 11
        }
    }

    /// A short action name for logs and errors.
    public var action: String { Self.actionNames[typeCode] ?? "unknown" }

    static let actionNames: [UInt8: String] = [
        1: "vault.create", 2: "group.create", 3: "member.add", 4: "case.create", 5: "document.add", 6: "document.export",
        7: "member.remove", 8: "epoch.rotate", 9: "case.rekey", 10: "document.reencrypt", 11: "epoch.confirm",
    ]

    /// The first event version in which a type exists.
    static func firstVersion(typeCode: UInt8) -> UInt8 { typeCode <= 6 ? 1 : 2 }

    /// The signature context of an event type and version: `evidencevault/event/<action>/v<version>`.
    static func signatureContext(typeCode: UInt8, version: UInt8) -> SignatureContext? {
        guard version >= firstVersion(typeCode: typeCode) else { return nil }
        return actionNames[typeCode].map { SignatureContext("evidencevault/event/\($0)/v\(version)") }
    }
}

/// A group's move to a new epoch (in `member.remove` and `epoch.rotate`):
/// the new key sealed to each remaining reader, the commitment to it, and the
/// previous epoch's key wrapped under a key derived from it (the prev chain).
public struct Rotation: Sendable, Equatable {
    /// One reader's seal of the new epoch key.
    public struct Seal: Sendable, Equatable {
        public let member: Fingerprint
        public let wrap: [UInt8]
    }
    /// The new epoch: the group's current epoch plus one.
    public let epoch: UInt32
    /// `KeyCommitment.epoch` of the new key, chained to the previous epoch's.
    public let commitment: [UInt8]
    /// The previous epoch's key, AEAD-wrapped under `KeyWrap.previousKeyWrappingKey` of the new one.
    public let previousKeyWrap: [UInt8]
    /// Exactly one seal per remaining lawyer and custodian.
    public let seals: [Seal]
}

/// The fields of a `document.reencrypt` event.
public struct Reencryption: Sendable, Equatable {
    public let documentID: ObjectID
    public let caseID: ObjectID
    /// The case-key generation the new document key is wrapped under (the case's current one).
    public let generation: UInt32
    /// The new document key, wrapped under the case key of `generation`.
    public let wrappedKey: [UInt8]
    /// The blob this event supersedes (the document's blob before it).
    public let oldBlobHash: [UInt8]
    /// SHA-256 of the new blob.
    public let blobHash: [UInt8]
    public let blobSize: UInt64
    /// The metadata sealed anew under the new case key, with the same plaintext commitment.
    public let sealedMetadata: [UInt8]
}

/// The fields of a `document.add` event.
public struct DocumentRecord: Sendable, Equatable {
    /// The document's identifier.
    public let documentID: ObjectID
    /// The case it belongs to.
    public let caseID: ObjectID
    /// Version of the document (1 for a first addition).
    public let version: UInt32
    /// The case-key generation the document key is wrapped under.
    public let generation: UInt32
    /// The document key, AEAD-wrapped under the case key.
    public let wrappedKey: [UInt8]
    /// SHA-256 of the blob (its file name).
    public let blobHash: [UInt8]
    /// Size of the blob in bytes.
    public let blobSize: UInt64
    /// Sealed metadata (file name, title, kind, tags, size, plaintext commitment).
    public let sealedMetadata: [UInt8]
}

/// One signed, hash-chained ledger event (Docs/FORMAT.md §5).
public struct Event: Sendable, Equatable {
    /// Format version written by this code. Version 1 events (no key
    /// commitments, no rotation) are still read.
    public static let version: UInt8 = 2
    /// Largest body accepted when reading (the largest body evault ever wrote is under 64 KiB).
    static let maxBodyLength = 64 << 10
    /// Limits on sealed fields when reading (Docs/FORMAT.md §5.2): each is what evault
    /// ever wrote at most, with room for the AEAD overhead, and no more (THREATS.md 46).
    static let maxWrapLength = 512
    static let maxWrappedKeyLength = 256
    static let maxSealedReferenceLength = 1024 + 64
    static let maxSealedTitleLength = 4096 + 64
    static let maxSealedMetadataLength = 32 << 10
    static let maxSealedReasonLength = 1024 + 64
    /// Most seals one rotation carries (and so most readers a group may have).
    public static let maxSeals = 256

    /// Event format version (1 or 2).
    public let version: UInt8
    /// Position in the ledger, from 0 (genesis).
    public let sequence: UInt64
    /// SHA-256 of the previous event's encoding (32 zero bytes for genesis).
    public let previousHash: [UInt8]
    /// Seconds since 1970, as claimed by the actor.
    public let time: UInt64
    /// Fingerprint of the identity that signed the event.
    public let actor: Fingerprint
    /// What happened.
    public let body: EventBody
    /// Ed25519 signature over the encoding before it, under the type's context.
    public let signature: [UInt8]
    /// The canonical encoding, exactly as stored.
    public let encoded: [UInt8]

    /// SHA-256 of the encoding: what the next event's `previousHash` must be.
    /// Computed once, when the event is made or decoded.
    public let hash: [UInt8]

    /// Builds and signs an event (at the current version).
    init(sequence: UInt64, previousHash: [UInt8], time: UInt64, signer: UnlockedIdentity, body: EventBody) throws {
        try self.init(version: Self.version, sequence: sequence, previousHash: previousHash, time: time, signer: signer, body: body)
    }

    /// Builds and signs an event at `version` (older versions: fixtures and tests only).
    init(version: UInt8, sequence: UInt64, previousHash: [UInt8], time: UInt64, signer: UnlockedIdentity, body: EventBody) throws {
        let unsigned = try Self.encodeUnsigned(version: version, sequence: sequence, previousHash: previousHash, time: time,
                                               actor: signer.fingerprint, body: body)
        guard let context = EventBody.signatureContext(typeCode: body.typeCode, version: version) else {
            throw VaultError(.invalidInput, "event type \(body.typeCode) does not exist in event version \(version)")
        }
        let signature = try signer.signing.sign(unsigned, context: context)
        self.version = version
        self.sequence = sequence
        self.previousHash = previousHash
        self.time = time
        self.actor = signer.fingerprint
        self.body = body
        self.signature = signature
        self.encoded = unsigned + signature
        self.hash = SHA256Stream.hash(encoded)
    }

    /// The bytes the signature covers: everything but the final 64 bytes.
    public var signedPart: [UInt8] { Array(encoded.dropLast(64)) }

    /// Checks the signature with the actor's public key, under the type's context.
    public func hasValidSignature(by key: SigningPublicKey) -> Bool {
        guard let context = EventBody.signatureContext(typeCode: body.typeCode, version: version) else { return false }
        return key.isValidSignature(signature, for: signedPart, context: context)
    }

    /// Parses an event. Structure is checked here; signature, chain and
    /// authorisation are checked by the ledger replay.
    public static func decode(_ bytes: [UInt8], structure: String = "event") throws -> Event {
        var reader = ByteReader(bytes, structure: structure)
        let version = try reader.header(expecting: .event, supportedVersions: 1...Self.version)
        let sequence = try reader.u64("sequence number")
        let previousHash = try reader.raw(32, "previous hash")
        let time = try reader.u64("time")
        let actor = try reader.fingerprint("actor")
        let typeCode = try reader.u8("event type")
        let bodyBytes = try reader.bytes32("body", max: maxBodyLength)
        let signature = try reader.raw(64, "signature")
        try reader.expectEnd()
        let body = try decodeBody(typeCode: typeCode, version: version, bytes: bodyBytes, structure: structure)
        return Event(version: version, sequence: sequence, previousHash: previousHash, time: time, actor: actor, body: body,
                     signature: signature, encoded: bytes)
    }

    private init(version: UInt8, sequence: UInt64, previousHash: [UInt8], time: UInt64, actor: Fingerprint, body: EventBody,
                 signature: [UInt8], encoded: [UInt8]) {
        self.version = version
        self.sequence = sequence
        self.previousHash = previousHash
        self.time = time
        self.actor = actor
        self.body = body
        self.signature = signature
        self.encoded = encoded
        self.hash = SHA256Stream.hash(encoded)
    }

    static func encodeUnsigned(version: UInt8 = Event.version, sequence: UInt64, previousHash: [UInt8], time: UInt64, actor: Fingerprint,
                               body: EventBody) throws -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.event, version: version)
        writer.u64(sequence)
        writer.raw(previousHash)
        writer.u64(time)
        writer.fingerprint(actor)
        writer.u8(body.typeCode)
        writer.bytes32(try encodeBody(body, version: version))
        return writer.bytes
    }

    static func encodeBody(_ body: EventBody, version: UInt8) throws -> [UInt8] {
        guard version >= EventBody.firstVersion(typeCode: body.typeCode) else {
            throw VaultError(.invalidInput, "event type \(body.typeCode) does not exist in event version \(version)")
        }
        /// Version 2 carries a 32-byte commitment where version 1 carries none.
        func commitment(_ value: [UInt8]?, into writer: inout ByteWriter) throws {
            switch (version, value) {
            case (1, nil): break
            case (2..., .some(let bytes)) where bytes.count == 32: writer.raw(bytes)
            default: throw VaultError(.invalidInput, "a version-\(version) event \(version == 1 ? "has no" : "needs a 32-byte") key commitment")
            }
        }
        var writer = ByteWriter()
        switch body {
        case .genesis(let vaultID, let creator):
            writer.id(vaultID)
            writer.bytes16(creator.encoded())
        case .groupCreated(let groupID, let name, let epoch, let wrap, let groupCommitment):
            writer.id(groupID)
            writer.string8(name)
            writer.u32(epoch)
            writer.bytes16(wrap)
            try commitment(groupCommitment, into: &writer)
        case .memberAdded(let groupID, let member, let role, let epoch, let wrap):
            writer.id(groupID)
            writer.bytes16(member.encoded())
            writer.u8(role.rawValue)
            writer.u32(epoch)
            writer.bytes16(wrap)
        case .caseCreated(let caseID, let groupID, let epoch, let generation, let wrappedKey, let reference, let title, let caseCommitment):
            writer.id(caseID)
            writer.id(groupID)
            writer.u32(epoch)
            writer.u32(generation)
            writer.bytes16(wrappedKey)
            writer.bytes16(reference)
            writer.bytes16(title)
            try commitment(caseCommitment, into: &writer)
        case .documentAdded(let record):
            writer.id(record.documentID)
            writer.id(record.caseID)
            writer.u32(record.version)
            writer.u32(record.generation)
            writer.bytes16(record.wrappedKey)
            writer.raw(record.blobHash)
            writer.u64(record.blobSize)
            writer.bytes16(record.sealedMetadata)
        case .documentExported(let documentID, let caseID):
            writer.id(documentID)
            writer.id(caseID)
        case .memberRemoved(let groupID, let member, let reason, let rotation):
            writer.id(groupID)
            writer.fingerprint(member)
            writer.bytes16(reason)
            writer.u8(rotation == nil ? 0 : 1)
            if let rotation { encodeRotation(rotation, into: &writer) }
        case .epochRotated(let groupID, let reason, let rotation):
            writer.id(groupID)
            writer.bytes16(reason)
            encodeRotation(rotation, into: &writer)
        case .caseRekeyed(let caseID, let groupID, let epoch, let generation, let wrappedKey, let caseCommitment):
            writer.id(caseID)
            writer.id(groupID)
            writer.u32(epoch)
            writer.u32(generation)
            writer.bytes16(wrappedKey)
            try commitment(caseCommitment, into: &writer)
        case .documentReencrypted(let record):
            writer.id(record.documentID)
            writer.id(record.caseID)
            writer.u32(record.generation)
            writer.bytes16(record.wrappedKey)
            writer.raw(record.oldBlobHash)
            writer.raw(record.blobHash)
            writer.u64(record.blobSize)
            writer.bytes16(record.sealedMetadata)
        case .epochConfirmed(let groupID, let epoch, let epochCommitment):
            writer.id(groupID)
            writer.u32(epoch)
            try commitment(epochCommitment, into: &writer)
        }
        return writer.bytes
    }

    private static func encodeRotation(_ rotation: Rotation, into writer: inout ByteWriter) {
        writer.u32(rotation.epoch)
        writer.raw(rotation.commitment)
        writer.bytes16(rotation.previousKeyWrap)
        writer.u16(UInt16(rotation.seals.count))
        for seal in rotation.seals {
            writer.fingerprint(seal.member)
            writer.bytes16(seal.wrap)
        }
    }

    private static func decodeRotation(_ reader: inout ByteReader, structure: String) throws -> Rotation {
        let epoch = try reader.u32("new epoch")
        let commitment = try reader.raw(32, "epoch commitment")
        let previous = try reader.bytes16("previous epoch key wrap", max: maxWrappedKeyLength)
        let count = Int(try reader.u16("seal count"))
        guard count <= maxSeals else {
            throw FormatError.invalidField(structure: structure, field: "seal count", reason: "\(count) seals, at most \(maxSeals)")
        }
        var seals: [Rotation.Seal] = []
        for _ in 0..<count {
            seals.append(Rotation.Seal(member: try reader.fingerprint("sealed member"), wrap: try reader.bytes16("seal", max: maxWrapLength)))
        }
        return Rotation(epoch: epoch, commitment: commitment, previousKeyWrap: previous, seals: seals)
    }

    static func decodeBody(typeCode: UInt8, version: UInt8, bytes: [UInt8], structure: String) throws -> EventBody {
        var reader = ByteReader(bytes, structure: "\(structure) body")
        guard EventBody.actionNames[typeCode] != nil else {
            throw FormatError.invalidField(structure: structure, field: "event type", reason: "unknown type \(typeCode)")
        }
        guard version >= EventBody.firstVersion(typeCode: typeCode) else {
            throw FormatError.invalidField(structure: structure, field: "event type", reason: "type \(typeCode) does not exist in event version \(version)")
        }
        func commitment(_ field: String) throws -> [UInt8]? { version >= 2 ? try reader.raw(32, field) : nil }
        let body: EventBody
        switch typeCode {
        case 1:
            let vaultID = try reader.id("vault id")
            let creator = try PublicIdentity.decode(try reader.bytes16("creator", max: 512), structure: "\(structure) creator identity")
            body = .genesis(vaultID: vaultID, creator: creator)
        case 2:
            let groupID = try reader.id("group id")
            let name = try reader.string8("group name")
            try GroupName.validate(name)
            body = .groupCreated(groupID: groupID, name: name, epoch: try reader.u32("epoch"),
                                 custodianWrap: try reader.bytes16("custodian wrap", max: maxWrapLength),
                                 commitment: try commitment("epoch commitment"))
        case 3:
            let groupID = try reader.id("group id")
            let member = try PublicIdentity.decode(try reader.bytes16("member", max: 512), structure: "\(structure) member identity")
            let roleByte = try reader.u8("role")
            guard let role = Role(rawValue: roleByte) else {
                throw FormatError.invalidField(structure: structure, field: "role", reason: "unknown role \(roleByte)")
            }
            body = .memberAdded(groupID: groupID, member: member, role: role, epoch: try reader.u32("epoch"),
                                wrap: try reader.bytes16("wrap", max: maxWrapLength))
        case 4:
            body = .caseCreated(caseID: try reader.id("case id"), groupID: try reader.id("group id"),
                                epoch: try reader.u32("epoch"), generation: try reader.u32("generation"),
                                wrappedKey: try reader.bytes16("wrapped case key", max: maxWrappedKeyLength),
                                sealedReference: try reader.bytes16("sealed reference", max: maxSealedReferenceLength),
                                sealedTitle: try reader.bytes16("sealed title", max: maxSealedTitleLength),
                                commitment: try commitment("case commitment"))
        case 5:
            body = .documentAdded(DocumentRecord(
                documentID: try reader.id("document id"), caseID: try reader.id("case id"),
                version: try reader.u32("version"), generation: try reader.u32("generation"),
                wrappedKey: try reader.bytes16("wrapped document key", max: maxWrappedKeyLength),
                blobHash: try reader.raw(32, "blob hash"), blobSize: try reader.u64("blob size"),
                sealedMetadata: try reader.bytes16("sealed metadata", max: maxSealedMetadataLength)))
        case 6:
            body = .documentExported(documentID: try reader.id("document id"), caseID: try reader.id("case id"))
        case 7:
            let groupID = try reader.id("group id")
            let member = try reader.fingerprint("removed member")
            let reason = try reader.bytes16("sealed reason", max: maxSealedReasonLength)
            let flag = try reader.u8("rotation flag")
            guard flag <= 1 else { throw FormatError.invalidField(structure: structure, field: "rotation flag", reason: "must be 0 or 1, got \(flag)") }
            body = .memberRemoved(groupID: groupID, member: member, sealedReason: reason,
                                  rotation: flag == 1 ? try decodeRotation(&reader, structure: structure) : nil)
        case 8:
            body = .epochRotated(groupID: try reader.id("group id"), sealedReason: try reader.bytes16("sealed reason", max: maxSealedReasonLength),
                                 rotation: try decodeRotation(&reader, structure: structure))
        case 9:
            body = .caseRekeyed(caseID: try reader.id("case id"), groupID: try reader.id("group id"), epoch: try reader.u32("epoch"),
                                generation: try reader.u32("generation"),
                                wrappedKey: try reader.bytes16("wrapped case key", max: maxWrappedKeyLength),
                                commitment: try reader.raw(32, "case commitment"))
        case 10:
            body = .documentReencrypted(Reencryption(
                documentID: try reader.id("document id"), caseID: try reader.id("case id"), generation: try reader.u32("generation"),
                wrappedKey: try reader.bytes16("wrapped document key", max: maxWrappedKeyLength),
                oldBlobHash: try reader.raw(32, "old blob hash"), blobHash: try reader.raw(32, "blob hash"),
                blobSize: try reader.u64("blob size"),
                sealedMetadata: try reader.bytes16("sealed metadata", max: maxSealedMetadataLength)))
        default:  // 11
            body = .epochConfirmed(groupID: try reader.id("group id"), epoch: try reader.u32("epoch"),
                                   commitment: try reader.raw(32, "epoch commitment"))
        }
        try reader.expectEnd()
        return body
    }
}

/// Working-group names: 1...64 bytes of printable UTF-8 (not secret: auditors see them).
public enum GroupName {
    /// Throws unless `name` is acceptable.
    public static func validate(_ name: String) throws {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw VaultError(.invalidInput, "group name must be 1 to 64 bytes of UTF-8 without control characters")
        }
    }
}
