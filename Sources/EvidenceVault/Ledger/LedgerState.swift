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
///
/// Setters are internal, not private, for one reader only: `KeptStateCoding`,
/// which restores a state this machine verified and kept (Docs/FORMAT.md §11).
/// Everything else changes a state through `apply`.
public struct LedgerState: Sendable {
    /// A current member of a working group.
    public struct Member: Sendable, Equatable {
        public let identity: PublicIdentity
        public let role: Role
        /// The epoch of the newest key sealed to them (through the prev chain it opens every earlier one).
        public internal(set) var epoch: UInt32
        /// That seal.
        public internal(set) var wrap: [UInt8]
        public let addedBy: Fingerprint
        /// The `member.add` (or `group.create`) event that admitted them.
        public let sequence: UInt64
        /// The event holding `wrap`: the admission, or the latest rotation.
        public internal(set) var wrapSequence: UInt64
    }

    /// One epoch of a group: its commitment (nil for epoch 1 of a group made by
    /// version 1) and, from epoch 2 on, the previous epoch's key wrapped under it.
    public struct Epoch: Sendable {
        public let number: UInt32
        public let commitment: [UInt8]?
        public let previousKeyWrap: [UInt8]?
        /// The event that introduced it (`group.create`, `member.remove` or `epoch.rotate`).
        public let sequence: UInt64
        public let actor: Fingerprint
        /// Readers who signed `epoch.confirm` for it.
        public internal(set) var confirmedBy: Set<Fingerprint> = []
    }

    /// A member's removal from a group.
    public struct Removal: Sendable {
        public let member: Fingerprint
        public let role: Role
        /// The newest epoch whose key they held (0 for an auditor: none).
        public let lastEpoch: UInt32
        public let admittedAt: UInt64
        public let removedBy: Fingerprint
        public let sequence: UInt64
        public let time: UInt64
    }

    /// A working group.
    public struct Group: Sendable {
        public let id: ObjectID
        public let name: String
        public let creator: Fingerprint
        public let sequence: UInt64
        public var members: [Fingerprint: Member]
        /// Epochs 1, 2, ... in order (`epochs[e - 1]` is epoch `e`).
        public internal(set) var epochs: [Epoch]
        /// Removals, in ledger order.
        public internal(set) var removals: [Removal] = []
        /// The current epoch.
        public var epoch: UInt32 { UInt32(epochs.count) }
        /// Current lawyers and custodians.
        public var readers: [Fingerprint] { members.values.filter { $0.role.canRead }.map(\.identity.fingerprint) }
    }

    /// One key generation of a case: made under `epoch`, introduced by event `sequence`.
    public struct Generation: Sendable {
        public let number: UInt32
        public let epoch: UInt32
        /// nil for generation 1 of a case opened by version 1.
        public let commitment: [UInt8]?
        public let sequence: UInt64
        public let author: Fingerprint
    }

    /// A case; its sealed reference and title stay in event `sequence`, each generation's wrapped key in its event.
    public struct Case: Sendable {
        public let id: ObjectID
        public let groupID: ObjectID
        public let author: Fingerprint
        public let time: UInt64
        public let sequence: UInt64
        /// Generations 1, 2, ... in order.
        public internal(set) var generations: [Generation]
        /// The current generation.
        public var generation: UInt32 { UInt32(generations.count) }
        /// The epoch the current generation was made under.
        public var epoch: UInt32 { generations.last?.epoch ?? 0 }
        /// Generation `number`, if it exists.
        public func generation(_ number: UInt32) -> Generation? {
            number >= 1 && Int(number) <= generations.count ? generations[Int(number) - 1] : nil
        }
    }

    /// A document; its wrapped key and sealed metadata stay in event `recordSequence`.
    public struct Document: Sendable {
        public let documentID: ObjectID
        public let caseID: ObjectID
        public let version: UInt32
        /// The generation the current document key is wrapped under.
        public internal(set) var generation: UInt32
        public internal(set) var blobHash: [UInt8]
        public internal(set) var blobSize: UInt64
        public let author: Fingerprint
        public let time: UInt64
        /// The `document.add` event.
        public let sequence: UInt64
        /// The event holding the current key, blob and metadata: the add, or the latest `document.reencrypt`.
        public internal(set) var recordSequence: UInt64
    }

    public internal(set) var vaultID: ObjectID?
    public internal(set) var creator: Fingerprint?
    /// Every identity any event admitted, as first admitted (one name per fingerprint).
    public internal(set) var identities: [Fingerprint: PublicIdentity] = [:]
    public internal(set) var groups: [ObjectID: Group] = [:]
    var groupIDsByName: [String: ObjectID] = [:]
    /// Cases in memory: every case after a replay from genesis; after a kept
    /// state was loaded, only those created or changed since (the others stay in
    /// the kept case buckets, decoded when first asked). Read them through
    /// `lookupCase(_:)`, `allCases()` and `cases(inGroup:)`.
    var casesInMemory: [ObjectID: Case] = [:]
    /// Documents in memory: every document after a replay from genesis; after a
    /// kept state was loaded, only those added or changed since (the others are
    /// in `kept`). Read them through `document(_:)` and `documents(inCase:)`.
    public internal(set) var documents: [ObjectID: Document] = [:]
    /// Document ids of each case, in ledger order: all of them after a replay
    /// from genesis, those added since the kept state otherwise.
    public internal(set) var caseDocuments: [ObjectID: [ObjectID]] = [:]
    /// Sequence numbers of the events that name each case (its creation and
    /// rekeys, its documents' adds, exports and re-encryptions), in order: all
    /// of them after a replay from genesis, those since the kept state otherwise.
    public internal(set) var caseEvents: [ObjectID: [UInt64]] = [:]
    /// Hex names of blobs the ledger named (current and superseded): all of them
    /// after a replay from genesis, those named since the kept state otherwise
    /// (read through `isBlobNamed(_:)` and `allBlobNames()`).
    public internal(set) var blobNames: Set<String> = []
    /// Blobs superseded by `document.reencrypt`, with that event's sequence number: `clean` removes them.
    public internal(set) var supersededBlobs: [String: UInt64] = [:]
    /// Every key commitment recorded so far: one key, one commitment, never reused.
    var commitments: Set<[UInt8]> = []
    /// The highest event version applied: no older version may follow (no downgrade).
    public internal(set) var highestVersion: UInt8 = 0
    /// The vault creator was removed from a group: their vault-level right (creating groups) ends.
    public internal(set) var creatorRevoked = false
    /// The pages of the kept state this one was loaded from (nil after a replay from genesis).
    var kept: KeptPages?
    /// Events covered by `kept` (0 after a replay from genesis).
    private(set) var hashBase: UInt64 = 0
    /// Hashes of the events applied in memory, from `hashBase` on.
    private(set) var recentHashes: [[UInt8]] = []
    private var keptHead: [UInt8]?
    private var genesis: [UInt8]?
    /// Identities by the comparison key of their name (`MemberName.key`): more than one means a collision.
    var namesByKey: [String: [Fingerprint]] = [:]
    /// The comparison keys of each identity's name, computed once.
    var nameKeys: [Fingerprint: Set<String>] = [:]
    /// Number of events applied.
    public var count: UInt64 { hashBase + UInt64(recentHashes.count) }
    /// Hash of the last event applied (32 zero bytes before genesis).
    public var headHash: [UInt8] { recentHashes.last ?? keptHead ?? [UInt8](repeating: 0, count: 32) }
    /// Hash of event 0, once there is one.
    public var genesisHash: [UInt8]? { genesis ?? (hashBase == 0 ? recentHashes.first : nil) }
    /// Whether every document, blob name and event hash is in memory (a replay from genesis).
    public var isComplete: Bool { kept == nil }

    /// The hash of event `sequence` (< `count`), read from the kept pages if need be.
    public func eventHash(at sequence: UInt64) throws -> [UInt8] {
        if sequence >= hashBase { return recentHashes[Int(sequence - hashBase)] }
        guard let kept else { preconditionFailure("no kept pages below the hash base") }
        return try kept.eventHash(at: sequence)
    }

    /// Starts from a kept root: `count` events up to `head`.
    mutating func restoreHashes(count: UInt64, head: [UInt8], genesis: [UInt8]?) {
        hashBase = count
        keptHead = count > 0 ? head : nil
        self.genesis = genesis
        recentHashes = []
    }

    /// The case with this id, if the ledger has one.
    public func lookupCase(_ id: ObjectID) throws -> Case? {
        if let found = casesInMemory[id] { return found }
        return try kept?.keptCase(id)
    }

    /// Every case, in ledger order (every case bucket is read).
    public func allCases() throws -> [Case] {
        guard let kept else { return casesInMemory.values.sorted { $0.sequence < $1.sequence } }
        var all = casesInMemory
        for bucket in 0..<KeptPages.bucketCount {
            for (id, entry) in try kept.caseBucket(bucket) where all[id] == nil { all[id] = entry.theCase }
        }
        return all.values.sorted { $0.sequence < $1.sequence }
    }

    /// The cases of a group, in ledger order.
    public func cases(inGroup groupID: ObjectID) throws -> [Case] {
        try allCases().filter { $0.groupID == groupID }
    }

    /// Cases whose id starts with `prefix` (lowercase hex; 2 characters or more read one bucket).
    func cases(withIDPrefix prefix: String) throws -> [Case] {
        var found = casesInMemory.filter { $0.key.hex.hasPrefix(prefix) }
        if let kept {
            let buckets = Hex.decode(String(prefix.prefix(2))).map { [Int($0[0])] } ?? Array(0..<KeptPages.bucketCount)
            for bucket in buckets {
                for (id, entry) in try kept.caseBucket(bucket) where found[id] == nil && id.hex.hasPrefix(prefix) { found[id] = entry.theCase }
            }
        }
        return found.values.sorted { $0.sequence < $1.sequence }
    }

    /// The document with this id, if the ledger has one.
    public func document(_ id: ObjectID) throws -> Document? {
        if let found = documents[id] { return found }
        return try kept?.document(id)
    }

    /// The documents of a case, in ledger order.
    public func documents(inCase caseID: ObjectID) throws -> [Document] {
        let keptDocuments = try kept?.documents(inCase: caseID) ?? []
        let current = keptDocuments.map { documents[$0.documentID] ?? $0 }
        return current + (caseDocuments[caseID] ?? []).compactMap { documents[$0] }
    }

    /// The sequence numbers of the events that name a case, in order.
    public func events(inCase caseID: ObjectID) throws -> [UInt64] {
        (try kept?.events(inCase: caseID) ?? []) + (caseEvents[caseID] ?? [])
    }

    /// How many documents a case holds (read without loading them).
    public func documentCount(inCase caseID: ObjectID) throws -> Int {
        (try kept?.documentCount(inCase: caseID) ?? 0) + (caseDocuments[caseID]?.count ?? 0)
    }

    /// Whether any document, current or superseded, names the blob `name`.
    func isBlobNamed(_ name: String) throws -> Bool {
        if blobNames.contains(name) { return true }
        return try kept?.isBlobNamed(name) ?? false
    }

    /// Every document (all pages are read).
    public func allDocuments() throws -> [Document] {
        try allCases().map(\.id).sorted().flatMap { try documents(inCase: $0) }
    }

    /// Every blob name the ledger ever named (all pages are read).
    public func allBlobNames() throws -> Set<String> {
        guard let kept else { return blobNames }
        var names = blobNames
        names.formUnion(try kept.allBlobNames())
        return names
    }

    /// Documents whose id starts with `prefix` (lowercase hex, 2 characters or more read one bucket).
    func documents(withIDPrefix prefix: String) throws -> [Document] {
        let fresh = documents.values.filter { $0.documentID.hex.hasPrefix(prefix) }
        guard let kept else { return fresh }
        // Four hex characters name one bucket, two one directory of 256, fewer every bucket.
        let buckets: [Int]
        if let two = Hex.decode(String(prefix.prefix(4))), two.count == 2 {
            buckets = [KeptPages.bucket(of: two)]
        } else if let one = Hex.decode(String(prefix.prefix(2))), one.count == 1 {
            buckets = (0..<KeptPages.bucketCount).map { Int(one[0]) << 8 | $0 }
        } else {
            buckets = Array(0..<KeptPages.leafBucketCount)
        }
        var found: [ObjectID: Document] = Dictionary(uniqueKeysWithValues: fresh.map { ($0.documentID, $0) })
        for bucket in buckets {
            for (id, _) in try kept.documentBucket(bucket) where id.hex.hasPrefix(prefix) && found[id] == nil {
                if let document = try document(id) { found[id] = document }
            }
        }
        return Array(found.values)
    }

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
    ///
    /// A name with `[`, `]` or `~` (which evault uses to show fingerprints and
    /// these markers, and which an honest client refuses) is shown with them
    /// escaped and its fingerprint's first group, so that `amara [188P-2ZNT]` or
    /// `ines ~B0C6`, signed by a modified client, never reads as another member.
    public func displayName(of fingerprint: Fingerprint) -> String {
        guard let identity = identities[fingerprint] else { return "unknown identity \(fingerprint.readable)" }
        let marker = "~\(fingerprint.readable.prefix(4))"
        if identity.name.contains(where: { "[]~".contains($0) }) {
            let escaped = identity.name.unicodeScalars.map { "[]~".unicodeScalars.contains($0) ? TextEscaping.visible($0) : String($0) }.joined()
            return "\(escaped) \(marker)"
        }
        let keys = nameKeys[fingerprint] ?? MemberName.keys(identity.name)
        let owners = Set(keys.flatMap { namesByKey[$0] ?? [] })
        guard owners.count > 1 else { return identity.name }
        return "\(identity.name) \(marker)"
    }

    /// Current members of any group (and the vault's creator) whose name
    /// compares equal to `name`, other than `fingerprint` itself.
    func currentMembers(withNameLike name: String, other fingerprint: Fingerprint) -> [Fingerprint] {
        let candidates = Set(MemberName.keys(name).flatMap { namesByKey[$0] ?? [] })
        return candidates.sorted().filter { candidate in
            candidate != fingerprint && (candidate == creator || groups.values.contains { $0.members[candidate] != nil })
        }
    }

    mutating func admit(_ identity: PublicIdentity) {
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
        try apply(event, signatureAlreadyVerified: signatureAlreadyVerified, preVerified: nil)
    }

    /// Checks and applies `event`; its signature is not checked again when
    /// `preVerified` is the key the signer resolves to here, the key
    /// `SignatureBatch` verified it under.
    mutating func apply(_ event: Event, signatureAlreadyVerified: Bool, preVerified: SigningPublicKey?) throws {
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
        guard signatureAlreadyVerified || preVerified == signer.signingKey || event.hasValidSignature(by: signer.signingKey) else {
            throw violation("signature by \(signer.name) (\(event.actor.readable)) does not verify for a \(event.body.action) event")
        }

        guard event.version >= highestVersion else {
            throw violation("a version-\(event.version) event after version-\(highestVersion) events: older formats may not follow newer ones")
        }

        switch event.body {
        case .genesis(let vaultID, let creator):
            self.vaultID = vaultID
            self.creator = creator.fingerprint
            admit(creator)

        case .groupCreated(let groupID, let name, let epoch, let wrap, let commitment):
            guard (event.actor == creator && !creatorRevoked) || isCustodianAnywhere(event.actor) else {
                throw violation("\(signer.name) may not create groups: only the vault creator (unless removed from a group) or a custodian may")
            }
            guard groups[groupID] == nil else { throw violation("group \(groupID.hex) already exists") }
            guard group(named: name) == nil else { throw violation("a group named \"\(name)\" already exists") }
            guard epoch == 1 else { throw violation("a new group must start at epoch 1") }
            guard !wrap.isEmpty else { throw violation("the creating custodian received no epoch key") }
            if let commitment { try record(commitment, violation) }
            let founder = Member(identity: signer, role: .custodian, epoch: epoch, wrap: wrap, addedBy: event.actor, sequence: event.sequence,
                                 wrapSequence: event.sequence)
            groups[groupID] = Group(id: groupID, name: name, creator: event.actor, sequence: event.sequence,
                                    members: [event.actor: founder],
                                    epochs: [Epoch(number: 1, commitment: commitment, previousKeyWrap: nil, sequence: event.sequence, actor: event.actor)])
            groupIDsByName[name] = groupID

        case .memberAdded(let groupID, let member, let role, let epoch, let wrap):
            try checkMemberAdded(event, signer: signer, groupID: groupID, member: member, role: role, epoch: epoch, wrap: wrap)
            // In place: the group (and its member table) is never copied per event.
            groups[groupID]?.members[member.fingerprint] = Member(identity: identities[member.fingerprint] ?? member, role: role,
                                                                  epoch: epoch, wrap: wrap, addedBy: event.actor,
                                                                  sequence: event.sequence, wrapSequence: event.sequence)
            admit(member)

        case .caseCreated(let caseID, let groupID, let epoch, let generation, let wrappedKey, let reference, let title, let commitment):
            guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
            guard group.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of group \(group.name): may not open cases in it")
            }
            guard try lookupCase(caseID) == nil else { throw violation("case \(caseID.hex) already exists") }
            guard !wrappedKey.isEmpty, !reference.isEmpty, !title.isEmpty else { throw violation("case \(caseID.hex) lacks its wrapped key or sealed fields") }
            guard epoch == group.epoch, generation == 1 else { throw violation("case key must be generation 1 under the current epoch") }
            if let commitment { try record(commitment, violation) }
            casesInMemory[caseID] = Case(id: caseID, groupID: groupID, author: event.actor, time: event.time, sequence: event.sequence,
                                 generations: [Generation(number: 1, epoch: epoch, commitment: commitment, sequence: event.sequence, author: event.actor)])

        case .documentAdded(let record):
            guard let theCase = try lookupCase(record.caseID) else { throw violation("case \(record.caseID.hex) does not exist") }
            let group = groups[theCase.groupID]
            guard group?.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of the group of case \(record.caseID.hex): may not add to it")
            }
            guard try document(record.documentID) == nil else { throw violation("document \(record.documentID.hex) already exists") }
            guard record.version == 1 else { throw violation("document \(record.documentID.hex) has version \(record.version); only version 1 exists") }
            guard record.blobSize >= UInt64(BlobHeader.length + SecretStream.chunkOverhead), !record.wrappedKey.isEmpty,
                  !record.sealedMetadata.isEmpty else {
                throw violation("document \(record.documentID.hex) has an impossible blob size or lacks its key or metadata")
            }
            guard record.generation == theCase.generation else {
                throw violation("document key wrapped under generation \(record.generation), case is at \(theCase.generation)")
            }
            guard theCase.epoch == group?.epoch else {
                throw violation("case \(record.caseID.hex) is at generation \(theCase.generation), made under epoch \(theCase.epoch) before the group's rotation to epoch \(group?.epoch ?? 0): a stale generation (a case.rekey must come first)")
            }
            let blobName = Hex.encode(record.blobHash)
            guard !(try isBlobNamed(blobName)) else { throw violation("blob \(blobName) is already named by another document") }
            documents[record.documentID] = Document(documentID: record.documentID, caseID: record.caseID, version: record.version,
                                                    generation: record.generation, blobHash: record.blobHash, blobSize: record.blobSize,
                                                    author: event.actor, time: event.time, sequence: event.sequence,
                                                    recordSequence: event.sequence)
            caseDocuments[record.caseID, default: []].append(record.documentID)
            blobNames.insert(blobName)

        case .documentExported(let documentID, let caseID):
            guard let document = try self.document(documentID), document.caseID == caseID, let theCase = try lookupCase(caseID) else {
                throw violation("export of document \(documentID.hex), which case \(caseID.hex) does not hold")
            }
            guard groups[theCase.groupID]?.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of the group of case \(caseID.hex): may not export from it")
            }

        case .memberRemoved(let groupID, let fingerprint, _, let rotation):
            guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
            guard group.members[event.actor]?.role == .custodian else {
                throw violation("\(signer.name) is not a custodian of group \(group.name): only custodians remove members")
            }
            guard let removed = group.members[fingerprint] else {
                throw violation("\(fingerprint.readable) is not a member of group \(group.name)")
            }
            if removed.role == .custodian, !group.members.values.contains(where: { $0.role == .custodian && $0.identity.fingerprint != fingerprint }) {
                throw violation("\(displayName(of: fingerprint)) is the last custodian of group \(group.name) and cannot be removed")
            }
            if removed.role.canRead {
                guard let rotation else {
                    throw violation("removing the \(removed.role) \(displayName(of: fingerprint)) from group \(group.name) without a rotation: they hold the epoch key")
                }
                try checkRotation(rotation, of: group, readers: Set(group.readers).subtracting([fingerprint]), violation)
            } else if rotation != nil {
                throw violation("removing the auditor \(displayName(of: fingerprint)) carries a rotation: auditors hold no key")
            }
            groups[groupID]?.members[fingerprint] = nil
            groups[groupID]?.removals.append(Removal(member: fingerprint, role: removed.role, lastEpoch: removed.role.canRead ? removed.epoch : 0,
                                                     admittedAt: removed.sequence, removedBy: event.actor, sequence: event.sequence,
                                                     time: event.time))
            if let rotation { applyRotation(rotation, groupID: groupID, event: event) }
            if fingerprint == creator { creatorRevoked = true }

        case .epochRotated(let groupID, _, let rotation):
            guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
            guard group.members[event.actor]?.role == .custodian else {
                throw violation("\(signer.name) is not a custodian of group \(group.name): only custodians rotate its key")
            }
            try checkRotation(rotation, of: group, readers: Set(group.readers), violation)
            applyRotation(rotation, groupID: groupID, event: event)

        case .caseRekeyed(let caseID, let groupID, let epoch, let generation, let wrappedKey, let commitment):
            guard var theCase = try lookupCase(caseID), theCase.groupID == groupID, let group = groups[groupID] else {
                throw violation("case \(caseID.hex) does not exist in group \(groupID.hex)")
            }
            guard group.members[event.actor]?.role.canRead == true else {
                throw violation("\(signer.name) is not a lawyer or custodian of group \(group.name): may not make case keys")
            }
            guard theCase.epoch < group.epoch else {
                throw violation("case \(caseID.hex) already has a generation under the group's current epoch \(group.epoch)")
            }
            guard epoch == group.epoch, generation == theCase.generation + 1 else {
                throw violation("case key generation \(generation) under epoch \(epoch): expected generation \(theCase.generation + 1) under epoch \(group.epoch)")
            }
            guard !wrappedKey.isEmpty else { throw violation("case \(caseID.hex) generation \(generation) lacks its wrapped key") }
            try record(commitment, violation)
            theCase.generations.append(Generation(number: generation, epoch: epoch, commitment: commitment, sequence: event.sequence,
                                                  author: event.actor))
            casesInMemory[caseID] = theCase

        case .documentReencrypted(let record):
            guard var document = try self.document(record.documentID), document.caseID == record.caseID, let theCase = try lookupCase(record.caseID),
                  let group = groups[theCase.groupID] else {
                throw violation("re-encryption of document \(record.documentID.hex), which case \(record.caseID.hex) does not hold")
            }
            guard group.members[event.actor]?.role == .custodian else {
                throw violation("\(signer.name) is not a custodian of group \(group.name): only custodians re-encrypt")
            }
            guard theCase.epoch == group.epoch, record.generation == theCase.generation else {
                throw violation("document \(record.documentID.hex) re-encrypted under generation \(record.generation); the case's generation under the current epoch is needed")
            }
            guard let old = theCase.generation(document.generation), old.epoch < group.epoch else {
                throw violation("document \(record.documentID.hex) is already under a generation of the current epoch")
            }
            guard record.oldBlobHash == document.blobHash else {
                throw violation("document \(record.documentID.hex): the superseded blob named is not its current blob")
            }
            guard record.blobSize >= UInt64(BlobHeader.length + SecretStream.chunkOverhead), !record.wrappedKey.isEmpty,
                  !record.sealedMetadata.isEmpty else {
                throw violation("document \(record.documentID.hex) re-encryption has an impossible blob size or lacks its key or metadata")
            }
            // The same plaintext makes a blob of the same size (Docs/FORMAT.md §8): a re-encryption that
            // changes it changed the content (THREATS.md 63; readers also compare the sealed metadata).
            guard record.blobSize == document.blobSize else {
                throw violation("document \(record.documentID.hex) re-encrypted into a blob of \(record.blobSize) bytes, not the \(document.blobSize) of its content: re-encryption may change only keys")
            }
            let blobName = Hex.encode(record.blobHash)
            guard !(try isBlobNamed(blobName)) else { throw violation("blob \(blobName) is already named by another document") }
            document.generation = record.generation
            document.blobHash = record.blobHash
            document.blobSize = record.blobSize
            document.recordSequence = event.sequence
            documents[record.documentID] = document
            supersededBlobs[Hex.encode(record.oldBlobHash)] = event.sequence
            blobNames.insert(blobName)

        case .epochConfirmed(let groupID, let epoch, let commitment):
            guard let group = groups[groupID] else { throw violation("group \(groupID.hex) does not exist") }
            guard let member = group.members[event.actor], member.role.canRead else {
                throw violation("\(signer.name) is not a lawyer or custodian of group \(group.name): holds no key to confirm")
            }
            guard member.epoch == epoch, let recorded = group.epochs[Int(epoch) - 1].commitment, recorded == commitment else {
                throw violation("confirmation of epoch \(epoch) of group \(group.name) does not name the commitment of the key sealed to \(signer.name)")
            }
            guard !group.epochs[Int(epoch) - 1].confirmedBy.contains(event.actor) else {
                throw violation("\(signer.name) already confirmed epoch \(epoch) of group \(group.name)")
            }
            groups[groupID]?.epochs[Int(epoch) - 1].confirmedBy.insert(event.actor)
        }
        if let caseID = Self.caseNamed(by: event.body) { caseEvents[caseID, default: []].append(event.sequence) }
        highestVersion = max(highestVersion, event.version)
        recentHashes.append(event.hash)
    }

    /// The case an event is about, if any (`caseEvents`).
    static func caseNamed(by body: EventBody) -> ObjectID? {
        switch body {
        case .caseCreated(let caseID, _, _, _, _, _, _, _), .caseRekeyed(let caseID, _, _, _, _, _), .documentExported(_, let caseID):
            return caseID
        case .documentAdded(let record): return record.caseID
        case .documentReencrypted(let record): return record.caseID
        case .genesis, .groupCreated, .memberAdded, .memberRemoved, .epochRotated, .epochConfirmed: return nil
        }
    }

    /// Records a new key commitment; the same commitment twice means one key used twice.
    private mutating func record(_ commitment: [UInt8], _ violation: (String) -> LedgerViolation) throws {
        guard commitment != KeyCommitment.none, commitments.insert(commitment).inserted else {
            throw violation("key commitment \(Hex.encode(commitment)) is zero or was already recorded: one key, one commitment")
        }
    }

    /// The rules every rotation obeys: the next epoch, a fresh commitment, the
    /// previous key carried, and exactly one seal per remaining reader.
    private mutating func checkRotation(_ rotation: Rotation, of group: Group, readers: Set<Fingerprint>,
                                        _ violation: (String) -> LedgerViolation) throws {
        guard rotation.epoch == group.epoch + 1 else {
            throw violation("rotation to epoch \(rotation.epoch), group \(group.name) is at epoch \(group.epoch): an older or skipped epoch")
        }
        guard !rotation.previousKeyWrap.isEmpty else { throw violation("rotation of group \(group.name) does not carry the previous epoch key") }
        let sealed = rotation.seals.map(\.member)
        guard Set(sealed).count == sealed.count else { throw violation("rotation of group \(group.name) seals the key twice to one member") }
        guard Set(sealed) == readers else {
            let missing = readers.subtracting(sealed).map { displayName(of: $0) }.sorted()
            let extra = Set(sealed).subtracting(readers).map { displayName(of: $0) }.sorted()
            throw violation("the seal set of the rotation of group \(group.name) is not its reader set"
                            + (missing.isEmpty ? "" : "; not sealed to: \(missing.joined(separator: ", "))")
                            + (extra.isEmpty ? "" : "; sealed to non-readers: \(extra.joined(separator: ", "))"))
        }
        guard rotation.seals.allSatisfy({ !$0.wrap.isEmpty }) else { throw violation("rotation of group \(group.name) has an empty seal") }
        try record(rotation.commitment, violation)
    }

    /// Moves a group to the rotation's epoch, in place: every remaining reader now holds its seal.
    private mutating func applyRotation(_ rotation: Rotation, groupID: ObjectID, event: Event) {
        groups[groupID]?.epochs.append(Epoch(number: rotation.epoch, commitment: rotation.commitment, previousKeyWrap: rotation.previousKeyWrap,
                                             sequence: event.sequence, actor: event.actor))
        for seal in rotation.seals {
            groups[groupID]?.members[seal.member]?.epoch = rotation.epoch
            groups[groupID]?.members[seal.member]?.wrap = seal.wrap
            groups[groupID]?.members[seal.member]?.wrapSequence = event.sequence
        }
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
        guard !group.removals.contains(where: { $0.member == member.fingerprint }) else {
            throw violation("\(member.name) (\(member.fingerprint.readable)) was removed from \(group.name); a removed identity is never admitted again")
        }
        guard epoch == group.epoch else { throw violation("wrap is for epoch \(epoch), group \(group.name) is at epoch \(group.epoch)") }
        guard !role.canRead || group.readers.count < Event.maxSeals else {
            throw violation("group \(group.name) has \(Event.maxSeals) readers already, the most one rotation can seal to")
        }
        guard role.canRead != wrap.isEmpty else {
            throw violation(role.canRead ? "a \(role) must receive the epoch key" : "an auditor must not receive any key")
        }
        if let known = identities[member.fingerprint], known.signingKey != member.signingKey {
            throw violation("conflicting public identity for \(member.fingerprint.readable)")
        }
    }
}
