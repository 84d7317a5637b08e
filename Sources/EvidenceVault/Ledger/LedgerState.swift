import VaultCrypto

/// A ledger event breaks the rules: bad chain, bad signature, or an actor not
/// authorised for what the event does. Names the event's sequence number.
public struct LedgerViolation: Error, Sendable, CustomStringConvertible {
    /// Sequence number of the offending event.
    public let sequence: UInt64
    /// What is wrong.
    public let reason: String
    public var description: String { "ledger event \(sequence): \(reason)" }
}

/// The state the ledger implies, built by replaying every event from genesis
/// and checking each against the chain, its signature and the authorisation
/// rules (Docs/FORMAT.md §5.3). The index tables are a projection of this;
/// reads and writes rely on this replay, never on the tables alone.
///
/// The cost of applying one event is bounded whatever the history holds
/// (THREATS.md 46): groups are updated in place (never copied per event), and
/// sealed fields (wrapped case and document keys, sealed references, titles
/// and metadata) are not kept: cases and documents remember the sequence
/// number of the signed event that holds them, and `SealedFields` reads them
/// back, checked against the event's hash, only when a reader needs them.
public struct LedgerState: Sendable {
    /// A member of a working group.
    public struct Member: Sendable, Equatable {
        public let identity: PublicIdentity
        public let role: Role
        public let epoch: UInt32
        public let wrap: [UInt8]
        public let addedBy: Fingerprint
        public let sequence: UInt64
    }

    /// A working group.
    public struct Group: Sendable {
        public let id: ObjectID
        public let name: String
        public let epoch: UInt32
        public let creator: Fingerprint
        public let sequence: UInt64
        public var members: [Fingerprint: Member]
    }

    /// A case; its wrapped key and sealed fields stay in event `sequence`.
    public struct Case: Sendable {
        public let id: ObjectID
        public let groupID: ObjectID
        public let epoch: UInt32
        public let generation: UInt32
        public let author: Fingerprint
        public let time: UInt64
        public let sequence: UInt64
    }

    /// A document; its wrapped key and sealed metadata stay in event `sequence`.
    public struct Document: Sendable {
        public let documentID: ObjectID
        public let caseID: ObjectID
        public let version: UInt32
        public let generation: UInt32
        public let blobHash: [UInt8]
        public let blobSize: UInt64
        public let author: Fingerprint
        public let time: UInt64
        public let sequence: UInt64
    }

    public private(set) var vaultID: ObjectID?
    public private(set) var creator: Fingerprint?
    /// Every identity any event admitted, as first admitted (one name per fingerprint).
    public private(set) var identities: [Fingerprint: PublicIdentity] = [:]
    public private(set) var groups: [ObjectID: Group] = [:]
    private var groupIDsByName: [String: ObjectID] = [:]
    public private(set) var cases: [ObjectID: Case] = [:]
    public private(set) var documents: [ObjectID: Document] = [:]
    /// Document ids of each case, in ledger order.
    public private(set) var caseDocuments: [ObjectID: [ObjectID]] = [:]
    /// Hex names of every blob the ledger names.
    public private(set) var blobNames: Set<String> = []
    /// The hash of every event applied, by sequence number (to check a remembered head).
    public private(set) var eventHashes: [[UInt8]] = []
    /// Identities by the comparison key of their name (`MemberName.key`): more than one means a collision.
    private var namesByKey: [String: [Fingerprint]] = [:]
    /// The comparison keys of each identity's name, computed once.
    private var nameKeys: [Fingerprint: Set<String>] = [:]
    /// Number of events applied.
    public var count: UInt64 { UInt64(eventHashes.count) }
    /// Hash of the last event applied (32 zero bytes before genesis).
    public var headHash: [UInt8] { eventHashes.last ?? [UInt8](repeating: 0, count: 32) }

    public init() {}

    /// The group with this name, if any.
    public func group(named name: String) -> Group? { groupIDsByName[name].flatMap { groups[$0] } }

    /// Whether `actor` is a custodian of some group (may create groups).
    func isCustodianAnywhere(_ actor: Fingerprint) -> Bool {
        groups.values.contains { $0.members[actor]?.role == .custodian }
    }

    /// The one name shown for `fingerprint` in every view: the name it was first
    /// admitted with, followed by its fingerprint's first group when another
    /// identity of this vault has a name that compares equal (`MemberName.key`),
    /// so that two people never display alike (THREATS.md 43).
    public func displayName(of fingerprint: Fingerprint) -> String {
        guard let identity = identities[fingerprint] else { return "unknown identity \(fingerprint.readable)" }
        let keys = nameKeys[fingerprint] ?? MemberName.keys(identity.name)
        let owners = Set(keys.flatMap { namesByKey[$0] ?? [] })
        guard owners.count > 1 else { return identity.name }
        return "\(identity.name) ~\(fingerprint.readable.prefix(4))"
    }

    /// Current members of any group (and the vault's creator) whose name
    /// compares equal to `name`, other than `fingerprint` itself.
    func currentMembers(withNameLike name: String, other fingerprint: Fingerprint) -> [Fingerprint] {
        let candidates = Set(MemberName.keys(name).flatMap { namesByKey[$0] ?? [] })
        return candidates.sorted().filter { candidate in
            candidate != fingerprint && (candidate == creator || groups.values.contains { $0.members[candidate] != nil })
        }
    }

    private mutating func admit(_ identity: PublicIdentity) {
        guard identities[identity.fingerprint] == nil else { return }
        identities[identity.fingerprint] = identity
        let keys = MemberName.keys(identity.name)
        nameKeys[identity.fingerprint] = keys
        for key in keys { namesByKey[key, default: []].append(identity.fingerprint) }
    }

    /// Checks `event` against the chain, its signature and the rules, then applies it.
    public mutating func apply(_ event: Event) throws {
        try apply(event, signatureAlreadyVerified: false)
    }

    /// Checks `event` against the chain, its signature and the rules, then applies it.
    ///
    /// - Parameter signatureAlreadyVerified: true only for events up to a head that
    ///   this machine verified in full before and whose hash the caller checks
    ///   afterwards (`KnownVaults`): the hash chain then proves the prefix is
    ///   byte-identical to what was verified, so its signatures need not be
    ///   checked again. Every other rule is still applied.
    mutating func apply(_ event: Event, signatureAlreadyVerified: Bool) throws {
        func violation(_ reason: String) -> LedgerViolation { LedgerViolation(sequence: event.sequence, reason: reason) }
        guard event.sequence == count else {
            throw violation("sequence number out of order: expected \(count)")
        }
        guard event.previousHash == headHash else {
            throw violation("previous-hash does not match event \(count == 0 ? "(none)" : String(count - 1)): the chain is broken")
        }
        let signer: PublicIdentity
        if case .genesis(_, let creator) = event.body {
            guard count == 0 else { throw violation("a second genesis event") }
            guard creator.fingerprint == event.actor else { throw violation("genesis actor is not the creator it names") }
            signer = creator
        } else {
            guard count > 0 else { throw violation("the ledger does not start with a genesis event") }
            guard let known = identities[event.actor] else {
                throw violation("signed by \(event.actor.readable), an identity that no event of this vault admitted")
            }
            signer = known
        }
        guard signatureAlreadyVerified || event.hasValidSignature(by: signer.signingKey) else {
            throw violation("signature by \(signer.name) (\(event.actor.readable)) does not verify for a \(event.body.action) event")
        }

        switch event.body {
        case .genesis(let vaultID, let creator):
            self.vaultID = vaultID
            self.creator = creator.fingerprint
            admit(creator)

        case .groupCreated(let groupID, let name, let epoch, let wrap):
            guard event.actor == creator || isCustodianAnywhere(event.actor) else {
                throw violation("\(signer.name) may not create groups: only the vault creator or a custodian may")
            }
            guard groups[groupID] == nil else { throw violation("group \(groupID.hex) already exists") }
            guard group(named: name) == nil else { throw violation("a group named \"\(name)\" already exists") }
            guard epoch == 1 else { throw violation("a new group must start at epoch 1") }
            guard !wrap.isEmpty else { throw violation("the creating custodian received no epoch key") }
            let founder = Member(identity: signer, role: .custodian, epoch: epoch, wrap: wrap, addedBy: event.actor, sequence: event.sequence)
            groups[groupID] = Group(id: groupID, name: name, epoch: epoch, creator: event.actor, sequence: event.sequence,
                                    members: [event.actor: founder])
            groupIDsByName[name] = groupID

        case .memberAdded(let groupID, let member, let role, let epoch, let wrap):
            try checkMemberAdded(event, signer: signer, groupID: groupID, member: member, role: role, epoch: epoch, wrap: wrap)
            // In place: the group (and its member table) is never copied per event.
            groups[groupID]?.members[member.fingerprint] = Member(identity: identities[member.fingerprint] ?? member, role: role,
                                                                  epoch: epoch, wrap: wrap, addedBy: event.actor,
                                                                  sequence: event.sequence)
            admit(member)

        case .caseCreated(let caseID, let groupID, let epoch, let generation, let wrappedKey, let reference, let title):
            guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
            guard group.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of group \(group.name): may not open cases in it")
            }
            guard cases[caseID] == nil else { throw violation("case \(caseID.hex) already exists") }
            guard !wrappedKey.isEmpty, !reference.isEmpty, !title.isEmpty else { throw violation("case \(caseID.hex) lacks its wrapped key or sealed fields") }
            guard epoch == group.epoch, generation == 1 else { throw violation("case key must be generation 1 under the current epoch") }
            cases[caseID] = Case(id: caseID, groupID: groupID, epoch: epoch, generation: generation, author: event.actor,
                                 time: event.time, sequence: event.sequence)

        case .documentAdded(let record):
            guard let theCase = cases[record.caseID] else { throw violation("case \(record.caseID.hex) does not exist") }
            let group = groups[theCase.groupID]
            guard group?.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of the group of case \(record.caseID.hex): may not add to it")
            }
            guard documents[record.documentID] == nil else { throw violation("document \(record.documentID.hex) already exists") }
            guard record.version == 1 else { throw violation("document \(record.documentID.hex) has version \(record.version); only version 1 exists") }
            guard record.blobSize >= UInt64(BlobHeader.length + SecretStream.chunkOverhead), !record.wrappedKey.isEmpty,
                  !record.sealedMetadata.isEmpty else {
                throw violation("document \(record.documentID.hex) has an impossible blob size or lacks its key or metadata")
            }
            guard record.generation == theCase.generation else {
                throw violation("document key wrapped under generation \(record.generation), case is at \(theCase.generation)")
            }
            let blobName = Hex.encode(record.blobHash)
            guard !blobNames.contains(blobName) else { throw violation("blob \(blobName) is already named by another document") }
            documents[record.documentID] = Document(documentID: record.documentID, caseID: record.caseID, version: record.version,
                                                    generation: record.generation, blobHash: record.blobHash, blobSize: record.blobSize,
                                                    author: event.actor, time: event.time, sequence: event.sequence)
            caseDocuments[record.caseID, default: []].append(record.documentID)
            blobNames.insert(blobName)

        case .documentExported(let documentID, let caseID):
            guard let document = documents[documentID], document.caseID == caseID, let theCase = cases[caseID] else {
                throw violation("export of document \(documentID.hex), which case \(caseID.hex) does not hold")
            }
            guard groups[theCase.groupID]?.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of the group of case \(caseID.hex): may not export from it")
            }
        }
        eventHashes.append(event.hash)
    }
}

extension LedgerState {
    /// The rules of `member.add`, checked without holding a copy of the group
    /// while it is then updated in place.
    private func checkMemberAdded(_ event: Event, signer: PublicIdentity, groupID: ObjectID, member: PublicIdentity, role: Role,
                                  epoch: UInt32, wrap: [UInt8]) throws {
        func violation(_ reason: String) -> LedgerViolation { LedgerViolation(sequence: event.sequence, reason: reason) }
        guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
        guard group.members[event.actor]?.role == .custodian else {
            throw violation("\(signer.name) is not a custodian of group \(group.name): only custodians admit members")
        }
        guard group.members[member.fingerprint] == nil else {
            throw violation("\(member.name) (\(member.fingerprint.readable)) is already a member of \(group.name)")
        }
        guard epoch == group.epoch else { throw violation("wrap is for epoch \(epoch), group \(group.name) is at epoch \(group.epoch)") }
        guard role.canRead != wrap.isEmpty else {
            throw violation(role.canRead ? "a \(role) must receive the epoch key" : "an auditor must not receive any key")
        }
        if let known = identities[member.fingerprint], known.signingKey != member.signingKey {
            throw violation("conflicting public identity for \(member.fingerprint.readable)")
        }
    }
}
