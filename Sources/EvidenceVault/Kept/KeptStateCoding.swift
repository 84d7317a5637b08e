import VaultCrypto

/// The byte encoding of a `LedgerState` that this machine verified, for
/// `KeptState` (Docs/FORMAT.md §11). Deterministic: maps are written sorted by
/// key, so two equal states encode to equal bytes (the tests compare a kept
/// state with a full replay this way). Derived maps (group names, blob names,
/// name comparison keys) are rebuilt on decoding, not stored.
///
/// The decoder trusts what it reads only because `KeptState` checked the MAC
/// first; it still checks every length, count and key, so damage is an error.
enum KeptStateCoding {
    /// Version 1 of the encoding.
    static let version: UInt8 = 1
    /// Most entries of any one list (identities, members, cases, documents, hashes).
    static let maxCount = 1 << 26

    static func encode(_ state: LedgerState) -> [UInt8] {
        var w = ByteWriter()
        w.header(.keptState, version: version)
        w.u64(state.count)
        for hash in state.eventHashes { w.raw(hash) }
        if let vaultID = state.vaultID, let creator = state.creator {
            w.u8(1); w.id(vaultID); w.fingerprint(creator)
        } else {
            w.u8(0)
        }
        w.u8(state.highestVersion)
        w.u8(state.creatorRevoked ? 1 : 0)

        let identities = state.identities.values.sorted { $0.fingerprint < $1.fingerprint }
        w.u32(UInt32(identities.count))
        for identity in identities { w.bytes16(identity.encoded()) }

        let groups = state.groups.values.sorted { $0.id < $1.id }
        w.u32(UInt32(groups.count))
        for group in groups { encode(group, into: &w) }

        let cases = state.cases.values.sorted { $0.id < $1.id }
        w.u32(UInt32(cases.count))
        for theCase in cases {
            encode(theCase, into: &w)
            let documentIDs = state.caseDocuments[theCase.id] ?? []
            w.u32(UInt32(documentIDs.count))
            for documentID in documentIDs {
                // Every id in caseDocuments names a document (apply adds both together).
                encode(state.documents[documentID]!, into: &w)
            }
        }

        let superseded = state.supersededBlobs.sorted { $0.key < $1.key }
        w.u32(UInt32(superseded.count))
        for (name, sequence) in superseded { w.string8(name); w.u64(sequence) }

        let commitments = state.commitments.sorted { $0.lexicographicallyPrecedes($1) }
        w.u32(UInt32(commitments.count))
        for commitment in commitments { w.raw(commitment) }
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) throws -> LedgerState {
        var r = ByteReader(bytes, structure: "kept ledger state")
        _ = try r.header(expecting: .keptState, supportedVersions: version...version)
        var state = LedgerState()
        let count = try r.u64("event count")
        guard count <= UInt64(r.remaining / 32) else { throw FormatError.truncated(structure: r.structure, field: "event hashes") }
        state.eventHashes.reserveCapacity(Int(count))
        for _ in 0..<count { state.eventHashes.append(try r.raw(32, "event hash")) }
        switch try r.u8("vault flag") {
        case 0: break
        case 1:
            state.vaultID = try r.id("vault id")
            state.creator = try r.fingerprint("creator")
        default: throw FormatError.invalidField(structure: r.structure, field: "vault flag", reason: "not 0 or 1")
        }
        state.highestVersion = try r.u8("highest version")
        state.creatorRevoked = try flag(&r, "creator revoked")

        for _ in 0..<(try counted(&r, "identities")) {
            let identity = try PublicIdentity.decode(try r.bytes16("identity", max: 4096), structure: "kept identity",
                                                     checkingSelfSignature: false)
            state.admit(identity)
        }
        for _ in 0..<(try counted(&r, "groups")) {
            let group = try decodeGroup(&r, identities: state.identities)
            guard state.groups.updateValue(group, forKey: group.id) == nil else { throw duplicate(r, "group") }
            state.groupIDsByName[group.name] = group.id
        }
        for _ in 0..<(try counted(&r, "cases")) {
            let theCase = try decodeCase(&r)
            guard state.cases.updateValue(theCase, forKey: theCase.id) == nil else { throw duplicate(r, "case") }
            var documentIDs: [ObjectID] = []
            for _ in 0..<(try counted(&r, "documents")) {
                let document = try decodeDocument(&r, caseID: theCase.id)
                guard state.documents.updateValue(document, forKey: document.documentID) == nil else { throw duplicate(r, "document") }
                documentIDs.append(document.documentID)
                state.blobNames.insert(Hex.encode(document.blobHash))
            }
            if !documentIDs.isEmpty { state.caseDocuments[theCase.id] = documentIDs }
        }
        for _ in 0..<(try counted(&r, "superseded blobs")) {
            let name = try r.string8("superseded blob")
            state.supersededBlobs[name] = try r.u64("superseded at")
            state.blobNames.insert(name)
        }
        for _ in 0..<(try counted(&r, "commitments")) {
            state.commitments.insert(try r.raw(32, "commitment"))
        }
        try r.expectEnd()
        return state
    }

    // MARK: - Groups

    private static func encode(_ group: LedgerState.Group, into w: inout ByteWriter) {
        w.id(group.id); w.string8(group.name); w.fingerprint(group.creator); w.u64(group.sequence)
        let members = group.members.values.sorted { $0.identity.fingerprint < $1.identity.fingerprint }
        w.u32(UInt32(members.count))
        for member in members {
            w.fingerprint(member.identity.fingerprint); w.u8(member.role.rawValue); w.u32(member.epoch); w.bytes16(member.wrap)
            w.fingerprint(member.addedBy); w.u64(member.sequence); w.u64(member.wrapSequence)
        }
        w.u32(UInt32(group.epochs.count))
        for epoch in group.epochs {
            w.u32(epoch.number); optional(epoch.commitment, into: &w); optional(epoch.previousKeyWrap, into: &w)
            w.u64(epoch.sequence); w.fingerprint(epoch.actor)
            let confirmed = epoch.confirmedBy.sorted()
            w.u32(UInt32(confirmed.count))
            for fingerprint in confirmed { w.fingerprint(fingerprint) }
        }
        w.u32(UInt32(group.removals.count))
        for removal in group.removals {
            w.fingerprint(removal.member); w.u8(removal.role.rawValue); w.u32(removal.lastEpoch); w.u64(removal.admittedAt)
            w.fingerprint(removal.removedBy); w.u64(removal.sequence); w.u64(removal.time)
        }
    }

    private static func decodeGroup(_ r: inout ByteReader, identities: [Fingerprint: PublicIdentity]) throws -> LedgerState.Group {
        let id = try r.id("group id")
        let name = try r.string8("group name")
        let creator = try r.fingerprint("group creator")
        let sequence = try r.u64("group event")
        var members: [Fingerprint: LedgerState.Member] = [:]
        for _ in 0..<(try counted(&r, "members")) {
            let fingerprint = try r.fingerprint("member")
            guard let identity = identities[fingerprint] else {
                throw FormatError.invalidField(structure: r.structure, field: "member", reason: "names no kept identity")
            }
            let member = LedgerState.Member(identity: identity, role: try role(&r), epoch: try r.u32("member epoch"),
                                            wrap: try r.bytes16("member wrap", max: 4096), addedBy: try r.fingerprint("added by"),
                                            sequence: try r.u64("admission event"), wrapSequence: try r.u64("wrap event"))
            guard members.updateValue(member, forKey: fingerprint) == nil else { throw duplicate(r, "member") }
        }
        var epochs: [LedgerState.Epoch] = []
        for _ in 0..<(try counted(&r, "epochs")) {
            var epoch = LedgerState.Epoch(number: try r.u32("epoch"), commitment: try optional(&r, "epoch commitment"),
                                          previousKeyWrap: try optional(&r, "previous key wrap"),
                                          sequence: try r.u64("epoch event"), actor: try r.fingerprint("epoch actor"))
            guard epoch.number == UInt32(epochs.count + 1) else {
                throw FormatError.invalidField(structure: r.structure, field: "epoch", reason: "epochs out of order")
            }
            for _ in 0..<(try counted(&r, "confirmations")) { epoch.confirmedBy.insert(try r.fingerprint("confirmed by")) }
            epochs.append(epoch)
        }
        var removals: [LedgerState.Removal] = []
        for _ in 0..<(try counted(&r, "removals")) {
            removals.append(LedgerState.Removal(member: try r.fingerprint("removed"), role: try role(&r), lastEpoch: try r.u32("last epoch"),
                                                admittedAt: try r.u64("admitted at"), removedBy: try r.fingerprint("removed by"),
                                                sequence: try r.u64("removal event"), time: try r.u64("removal time")))
        }
        return LedgerState.Group(id: id, name: name, creator: creator, sequence: sequence, members: members, epochs: epochs, removals: removals)
    }

    // MARK: - Cases and documents

    private static func encode(_ theCase: LedgerState.Case, into w: inout ByteWriter) {
        w.id(theCase.id); w.id(theCase.groupID); w.fingerprint(theCase.author); w.u64(theCase.time); w.u64(theCase.sequence)
        w.u32(UInt32(theCase.generations.count))
        for generation in theCase.generations {
            w.u32(generation.number); w.u32(generation.epoch); optional(generation.commitment, into: &w)
            w.u64(generation.sequence); w.fingerprint(generation.author)
        }
    }

    private static func decodeCase(_ r: inout ByteReader) throws -> LedgerState.Case {
        let id = try r.id("case id")
        let groupID = try r.id("case group")
        let author = try r.fingerprint("case author")
        let time = try r.u64("case time")
        let sequence = try r.u64("case event")
        var generations: [LedgerState.Generation] = []
        for _ in 0..<(try counted(&r, "generations")) {
            let generation = LedgerState.Generation(number: try r.u32("generation"), epoch: try r.u32("generation epoch"),
                                                    commitment: try optional(&r, "generation commitment"),
                                                    sequence: try r.u64("generation event"), author: try r.fingerprint("generation author"))
            guard generation.number == UInt32(generations.count + 1) else {
                throw FormatError.invalidField(structure: r.structure, field: "generation", reason: "generations out of order")
            }
            generations.append(generation)
        }
        return LedgerState.Case(id: id, groupID: groupID, author: author, time: time, sequence: sequence, generations: generations)
    }

    private static func encode(_ document: LedgerState.Document, into w: inout ByteWriter) {
        w.id(document.documentID); w.u32(document.version); w.u32(document.generation); w.raw(document.blobHash)
        w.u64(document.blobSize); w.fingerprint(document.author); w.u64(document.time); w.u64(document.sequence)
        w.u64(document.recordSequence)
    }

    private static func decodeDocument(_ r: inout ByteReader, caseID: ObjectID) throws -> LedgerState.Document {
        LedgerState.Document(documentID: try r.id("document id"), caseID: caseID, version: try r.u32("document version"),
                             generation: try r.u32("document generation"), blobHash: try r.raw(32, "blob hash"),
                             blobSize: try r.u64("blob size"), author: try r.fingerprint("document author"),
                             time: try r.u64("document time"), sequence: try r.u64("document event"),
                             recordSequence: try r.u64("record event"))
    }

    // MARK: - Small pieces

    private static func optional(_ value: [UInt8]?, into w: inout ByteWriter) {
        if let value { w.u8(1); w.bytes16(value) } else { w.u8(0) }
    }

    private static func optional(_ r: inout ByteReader, _ field: String) throws -> [UInt8]? {
        try flag(&r, field + " flag") ? try r.bytes16(field, max: 4096) : nil
    }

    private static func flag(_ r: inout ByteReader, _ field: String) throws -> Bool {
        switch try r.u8(field) {
        case 0: return false
        case 1: return true
        default: throw FormatError.invalidField(structure: r.structure, field: field, reason: "not 0 or 1")
        }
    }

    private static func role(_ r: inout ByteReader) throws -> Role {
        let byte = try r.u8("role")
        guard let role = Role(rawValue: byte) else { throw FormatError.invalidField(structure: r.structure, field: "role", reason: "unknown role \(byte)") }
        return role
    }

    private static func counted(_ r: inout ByteReader, _ field: String) throws -> Int {
        let count = Int(try r.u32(field + " count"))
        guard count <= maxCount, count <= r.remaining else {
            throw FormatError.invalidField(structure: r.structure, field: field, reason: "count \(count) exceeds what remains")
        }
        return count
    }

    private static func duplicate(_ r: ByteReader, _ what: String) -> FormatError {
        FormatError.invalidField(structure: r.structure, field: what, reason: "the same \(what) twice")
    }
}
