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
    /// receives epoch 1's key sealed to them.
    case groupCreated(groupID: ObjectID, name: String, epoch: UInt32, custodianWrap: [UInt8])
    /// A member is admitted with a role; readers receive the current epoch key sealed to them.
    case memberAdded(groupID: ObjectID, member: PublicIdentity, role: Role, epoch: UInt32, wrap: [UInt8])
    /// A case is opened in a group: its key wrapped under the epoch key, reference and title sealed.
    case caseCreated(caseID: ObjectID, groupID: ObjectID, epoch: UInt32, generation: UInt32,
                     wrappedKey: [UInt8], sealedReference: [UInt8], sealedTitle: [UInt8])
    /// A document is added to a case: its key wrapped under the case key, the
    /// ciphertext's SHA-256 and size, and its sealed metadata.
    case documentAdded(DocumentRecord)
    /// A reader exported (decrypted) a document: the custody record of who handled it.
    case documentExported(documentID: ObjectID, caseID: ObjectID)

    /// The type code written in the event.
    public var typeCode: UInt8 {
        switch self {
        case .genesis: return 1
        case .groupCreated: return 2
        case .memberAdded: return 3
        case .caseCreated: return 4
        case .documentAdded: return 5
        case .documentExported: return 6
        }
    }

    /// A short action name for logs and errors.
    public var action: String { Self.actionNames[typeCode] ?? "unknown" }

    static let actionNames: [UInt8: String] = [
        1: "vault.create", 2: "group.create", 3: "member.add", 4: "case.create", 5: "document.add", 6: "document.export",
    ]

    /// The signature context of an event type: `evidencevault/event/<action>/v1`.
    static func signatureContext(typeCode: UInt8) -> SignatureContext? {
        actionNames[typeCode].map { SignatureContext("evidencevault/event/\($0)/v1") }
    }
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
    /// Format version written by this code.
    public static let version: UInt8 = 1
    /// Largest body accepted when reading (the largest body evault ever wrote is under 40 KiB).
    static let maxBodyLength = 64 << 10
    /// Limits on sealed fields when reading (Docs/FORMAT.md §5.2): each is what evault
    /// ever wrote at most, with room for the AEAD overhead, and no more (THREATS.md 46).
    static let maxWrapLength = 512
    static let maxWrappedKeyLength = 256
    static let maxSealedReferenceLength = 1024 + 64
    static let maxSealedTitleLength = 4096 + 64
    static let maxSealedMetadataLength = 32 << 10

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

    /// Builds and signs an event.
    init(sequence: UInt64, previousHash: [UInt8], time: UInt64, signer: UnlockedIdentity, body: EventBody) throws {
        let unsigned = Self.encodeUnsigned(sequence: sequence, previousHash: previousHash, time: time,
                                           actor: signer.fingerprint, body: body)
        guard let context = EventBody.signatureContext(typeCode: body.typeCode) else {
            throw VaultError(.invalidInput, "unknown event type \(body.typeCode)")
        }
        let signature = try signer.signing.sign(unsigned, context: context)
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
        guard let context = EventBody.signatureContext(typeCode: body.typeCode) else { return false }
        return key.isValidSignature(signature, for: signedPart, context: context)
    }

    /// Parses an event. Structure is checked here; signature, chain and
    /// authorisation are checked by the ledger replay.
    public static func decode(_ bytes: [UInt8], structure: String = "event") throws -> Event {
        var reader = ByteReader(bytes, structure: structure)
        _ = try reader.header(expecting: .event, supportedVersions: version...version)
        let sequence = try reader.u64("sequence number")
        let previousHash = try reader.raw(32, "previous hash")
        let time = try reader.u64("time")
        let actor = try reader.fingerprint("actor")
        let typeCode = try reader.u8("event type")
        let bodyBytes = try reader.bytes32("body", max: maxBodyLength)
        let signature = try reader.raw(64, "signature")
        try reader.expectEnd()
        let body = try decodeBody(typeCode: typeCode, bytes: bodyBytes, structure: structure)
        return Event(sequence: sequence, previousHash: previousHash, time: time, actor: actor, body: body,
                     signature: signature, encoded: bytes)
    }

    private init(sequence: UInt64, previousHash: [UInt8], time: UInt64, actor: Fingerprint, body: EventBody,
                 signature: [UInt8], encoded: [UInt8]) {
        self.sequence = sequence
        self.previousHash = previousHash
        self.time = time
        self.actor = actor
        self.body = body
        self.signature = signature
        self.encoded = encoded
        self.hash = SHA256Stream.hash(encoded)
    }

    static func encodeUnsigned(sequence: UInt64, previousHash: [UInt8], time: UInt64, actor: Fingerprint, body: EventBody) -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.event, version: version)
        writer.u64(sequence)
        writer.raw(previousHash)
        writer.u64(time)
        writer.fingerprint(actor)
        writer.u8(body.typeCode)
        writer.bytes32(encodeBody(body))
        return writer.bytes
    }

    static func encodeBody(_ body: EventBody) -> [UInt8] {
        var writer = ByteWriter()
        switch body {
        case .genesis(let vaultID, let creator):
            writer.id(vaultID)
            writer.bytes16(creator.encoded())
        case .groupCreated(let groupID, let name, let epoch, let wrap):
            writer.id(groupID)
            writer.string8(name)
            writer.u32(epoch)
            writer.bytes16(wrap)
        case .memberAdded(let groupID, let member, let role, let epoch, let wrap):
            writer.id(groupID)
            writer.bytes16(member.encoded())
            writer.u8(role.rawValue)
            writer.u32(epoch)
            writer.bytes16(wrap)
        case .caseCreated(let caseID, let groupID, let epoch, let generation, let wrappedKey, let reference, let title):
            writer.id(caseID)
            writer.id(groupID)
            writer.u32(epoch)
            writer.u32(generation)
            writer.bytes16(wrappedKey)
            writer.bytes16(reference)
            writer.bytes16(title)
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
        }
        return writer.bytes
    }

    static func decodeBody(typeCode: UInt8, bytes: [UInt8], structure: String) throws -> EventBody {
        var reader = ByteReader(bytes, structure: "\(structure) body")
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
                                 custodianWrap: try reader.bytes16("custodian wrap", max: maxWrapLength))
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
                                sealedTitle: try reader.bytes16("sealed title", max: maxSealedTitleLength))
        case 5:
            body = .documentAdded(DocumentRecord(
                documentID: try reader.id("document id"), caseID: try reader.id("case id"),
                version: try reader.u32("version"), generation: try reader.u32("generation"),
                wrappedKey: try reader.bytes16("wrapped document key", max: maxWrappedKeyLength),
                blobHash: try reader.raw(32, "blob hash"), blobSize: try reader.u64("blob size"),
                sealedMetadata: try reader.bytes16("sealed metadata", max: maxSealedMetadataLength)))
        case 6:
            body = .documentExported(documentID: try reader.id("document id"), caseID: try reader.id("case id"))
        default:
            throw FormatError.invalidField(structure: structure, field: "event type", reason: "unknown type \(typeCode)")
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
