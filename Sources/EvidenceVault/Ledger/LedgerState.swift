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

    /// A case, with its sealed fields.
    public struct Case: Sendable {
        public let id: ObjectID
        public let groupID: ObjectID
        public let epoch: UInt32
        public let generation: UInt32
        public let wrappedKey: [UInt8]
        public let sealedReference: [UInt8]
        public let sealedTitle: [UInt8]
        public let author: Fingerprint
        public let time: UInt64
        public let sequence: UInt64
    }

    /// A document, as its signed event recorded it.
    public struct Document: Sendable {
        public let record: DocumentRecord
        public let author: Fingerprint
        public let time: UInt64
        public let sequence: UInt64
    }

    public private(set) var vaultID: ObjectID?
    public private(set) var creator: Fingerprint?
    public private(set) var identities: [Fingerprint: PublicIdentity] = [:]
    public private(set) var groups: [ObjectID: Group] = [:]
    public private(set) var cases: [ObjectID: Case] = [:]
    public private(set) var documents: [ObjectID: Document] = [:]
    /// Hex names of every blob the ledger names.
    public private(set) var blobNames: Set<String> = []
    /// The hash of every event applied, by sequence number (to check a remembered head).
    public private(set) var eventHashes: [[UInt8]] = []
    /// Number of events applied.
    public var count: UInt64 { UInt64(eventHashes.count) }
    /// Hash of the last event applied (32 zero bytes before genesis).
    public var headHash: [UInt8] { eventHashes.last ?? [UInt8](repeating: 0, count: 32) }

    public init() {}

    /// The group with this name, if any.
    public func group(named name: String) -> Group? { groups.values.first { Array($0.name.utf8) == Array(name.utf8) } }

    /// Whether `actor` is a custodian of some group (may create groups).
    func isCustodianAnywhere(_ actor: Fingerprint) -> Bool {
        groups.values.contains { $0.members[actor]?.role == .custodian }
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
            identities[creator.fingerprint] = creator

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

        case .memberAdded(let groupID, let member, let role, let epoch, let wrap):
            guard var group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
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
            group.members[member.fingerprint] = Member(identity: member, role: role, epoch: epoch, wrap: wrap, addedBy: event.actor,
                                                       sequence: event.sequence)
            groups[groupID] = group
            if identities[member.fingerprint] == nil { identities[member.fingerprint] = member }

        case .caseCreated(let caseID, let groupID, let epoch, let generation, let wrappedKey, let reference, let title):
            guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
            guard group.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of group \(group.name): may not open cases in it")
            }
            guard cases[caseID] == nil else { throw violation("case \(caseID.hex) already exists") }
            guard !wrappedKey.isEmpty, !reference.isEmpty, !title.isEmpty else { throw violation("case \(caseID.hex) lacks its wrapped key or sealed fields") }
            guard epoch == group.epoch, generation == 1 else { throw violation("case key must be generation 1 under the current epoch") }
            cases[caseID] = Case(id: caseID, groupID: groupID, epoch: epoch, generation: generation, wrappedKey: wrappedKey,
                                 sealedReference: reference, sealedTitle: title, author: event.actor, time: event.time,
                                 sequence: event.sequence)

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
            documents[record.documentID] = Document(record: record, author: event.actor, time: event.time, sequence: event.sequence)
            blobNames.insert(blobName)

        case .documentExported(let documentID, let caseID):
            guard let document = documents[documentID], document.record.caseID == caseID, let theCase = cases[caseID] else {
                throw violation("export of document \(documentID.hex), which case \(caseID.hex) does not hold")
            }
            guard groups[theCase.groupID]?.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of the group of case \(caseID.hex): may not export from it")
            }
        }
        eventHashes.append(event.hash)
    }
}
