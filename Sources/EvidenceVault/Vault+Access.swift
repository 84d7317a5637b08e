import VaultCrypto

/// Who may do what, and how objects are found.
extension LedgerState {
    /// The group named `name` (or with this id), or a clear error.
    func requireGroup(named name: String) throws -> Group {
        guard let group = group(named: name) ?? ObjectID(hex: name).flatMap({ groups[$0] }) else {
            throw VaultError(.notFound, "no working group named \"\(name)\" in this vault")
        }
        return group
    }

    /// The actor's membership of `group`, required to be a reader (lawyer or custodian).
    func requireReader(_ actor: UnlockedIdentity, of group: Group, to action: String) throws -> Member {
        guard let member = group.members[actor.fingerprint] else {
            throw VaultError(.notPermitted, "\(displayName(of: actor.fingerprint)) (\(actor.fingerprint.readable)) is not a member of group \(group.name): may not \(action)")
        }
        guard member.role.canRead else {
            throw VaultError(.notPermitted, "\(displayName(of: actor.fingerprint)) is an auditor of group \(group.name): auditors hold no keys and may not \(action)")
        }
        return member
    }

    /// The actor's membership of `group`, required to be a custodian.
    func requireCustodian(_ actor: UnlockedIdentity, of group: Group, to action: String) throws {
        guard group.members[actor.fingerprint]?.role == .custodian else {
            throw VaultError(.notPermitted, "\(actor.publicIdentity.name) (\(actor.fingerprint.readable)) is not a custodian of group \(group.name): may not \(action)")
        }
    }

    /// The group a case belongs to.
    func group(of theCase: Case) throws -> Group {
        guard let group = groups[theCase.groupID] else { throw VaultError(.integrity, "case \(theCase.id.hex) names a missing group") }
        return group
    }

    /// The documents of a case, in ledger order.
    func documents(of theCase: Case) throws -> [Document] {
        try documents(inCase: theCase.id)
    }

    /// Finds a case by full id, by reference (among cases `keys` can read), or
    /// by unique id prefix. A text that matches a reference and also another
    /// case's id prefix is refused as ambiguous, so nobody can capture a lookup
    /// by choosing a case id that looks like someone else's reference. Errors
    /// never repeat the text: it may be a sealed case reference.
    func resolveCase(_ text: String, keys: KeyRing?) throws -> Case {
        // A full case id names that case: no reference can be 32 hex characters
        // (`Vault.createCases` refuses them), so none is looked up.
        // White space around an id, or full-width digits, do not make it another text.
        let idForm = Vault.lookupForm(text)
        if let id = ObjectID(hex: idForm), let found = try lookupCase(id) { return found }
        let byReference = try keys.map { try $0.cases(withReferenceLike: text) } ?? []
        let byPrefix = try casesWithIDPrefix(idForm)
        let candidates = Set(byReference.map(\.id)).union(byPrefix.map(\.id))
        guard candidates.count <= 1 else {
            throw VaultError(.invalidInput, "the case given matches \(candidates.count) cases (by reference or id prefix)",
                             hint: "give the full 32-character case id")
        }
        guard let id = candidates.first, let found = try lookupCase(id) else {
            throw VaultError(.notFound, "no case matches the case given" + (keys == nil
                ? " (references are sealed: give --identity to look one up)" : " among the cases you can read"))
        }
        return found
    }

    /// Cases whose id starts with `text` (4 or more hex characters).
    func casesWithIDPrefix(_ text: String) throws -> [Case] {
        let lowered = text.lowercased()
        guard lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) else { return [] }
        return try cases(withIDPrefix: lowered)
    }

    /// Finds a document by id or unique id prefix.
    func resolveDocument(_ text: String) throws -> Document {
        if let id = ObjectID(hex: text), let found = try document(id) { return found }
        let lowered = text.lowercased()
        guard lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) else {
            throw VaultError(.invalidInput, "document \(text) is not an id or an id prefix of at least 4 hex characters")
        }
        let matches = try documents(withIDPrefix: lowered)
        guard matches.count == 1 else {
            throw matches.isEmpty ? VaultError(.notFound, "no document \(text) in this vault")
                : VaultError(.invalidInput, "document prefix \(text) is ambiguous: \(matches.count) documents match")
        }
        return matches[0]
    }
}

/// The keys one operation opens for one actor, each opened once: listing a
/// thousand documents opens the group's epoch key (a sealed box) and the case
/// key once, not once per row. Wrapped keys and sealed fields are read from
/// their events through `SealedFields`.
///
/// Every epoch and case key is checked against the commitment recorded in the
/// signed event that introduced it before it is used (Docs/FORMAT.md §6.5):
/// a key sealed to this reader that differs from the one committed to, or a
/// case wrap that opens to another key, is an integrity error naming the event.
final class KeyRing {
    let actor: UnlockedIdentity
    let state: LedgerState
    let fields: SealedFields
    private struct EpochName: Hashable { let group: ObjectID; let epoch: UInt32 }
    private struct GenerationName: Hashable { let theCase: ObjectID; let generation: UInt32 }
    private var epochKeys: [EpochName: GroupEpochKey] = [:]
    /// Unwrapped case keys, at most `maxCaseKeys` at once: each lives in guarded
    /// memory (`sodium_malloc`: its own pages and guard pages), of which a process
    /// has a few tens of thousands, so a listing of 20,000 cases must not hold them all.
    private var caseKeys: [GenerationName: CaseKey] = [:]
    static let maxCaseKeys = 256
    private var caseFields: [ObjectID: SealedFields.CaseFields] = [:]

    init(actor: UnlockedIdentity, state: LedgerState, fields: SealedFields) {
        self.actor = actor
        self.state = state
        self.fields = fields
    }

    /// Whether the actor is a lawyer or custodian of the case's group.
    func canRead(_ theCase: LedgerState.Case) -> Bool {
        state.groups[theCase.groupID]?.members[actor.fingerprint]?.role.canRead == true
    }

    /// The group's current epoch key, from the actor's newest seal.
    func epochKey(in group: LedgerState.Group, to action: String) throws -> GroupEpochKey {
        try epochKey(in: group, epoch: group.epoch, to: action)
    }

    /// The key of epoch `epoch`: the actor's newest seal opened and checked
    /// against its commitment, then the prev chain followed down, each step
    /// checked against its own commitment where one is recorded.
    func epochKey(in group: LedgerState.Group, epoch: UInt32, to action: String) throws -> GroupEpochKey {
        if let key = epochKeys[EpochName(group: group.id, epoch: epoch)] { return key }
        let member = try state.requireReader(actor, of: group, to: action)
        guard epoch >= 1, epoch <= member.epoch else {
            throw VaultError(.unreadable, "epoch \(epoch) of group \(group.name) is not reachable from the key sealed to you (epoch \(member.epoch))")
        }
        var current: GroupEpochKey
        var number = member.epoch
        if let known = epochKeys[EpochName(group: group.id, epoch: number)] {
            current = known
        } else {
            do {
                current = try KeyWrap.openEpochKey(member.wrap, groupID: group.id, epoch: member.epoch, with: actor)
            } catch {
                throw VaultError(.unreadable, "the epoch \(member.epoch) key of group \(group.name) sealed to you in ledger event \(member.wrapSequence) by \(state.displayName(of: Self.sealer(of: member, in: group))) does not open: \(error)")
            }
            try check(current, group: group, epoch: number,
                      problem: "the epoch \(number) key of group \(group.name) sealed to \(state.displayName(of: actor.fingerprint)) in ledger event \(member.wrapSequence) by \(state.displayName(of: Self.sealer(of: member, in: group)))")
            epochKeys[EpochName(group: group.id, epoch: number)] = current
        }
        while number > epoch {
            let step = group.epochs[Int(number) - 1]
            if let known = epochKeys[EpochName(group: group.id, epoch: number - 1)] {
                current = known
            } else {
                guard let wrap = step.previousKeyWrap else { throw VaultError(.integrity, "epoch \(number) of group \(group.name) carries no previous key") }
                do {
                    current = try KeyWrap.unwrapPreviousKey(wrap, under: current, groupID: group.id, previousEpoch: number - 1)
                } catch {
                    throw VaultError(.integrity, "the epoch \(number - 1) key of group \(group.name) carried in ledger event \(step.sequence) does not open under epoch \(number)'s key: \(error)")
                }
                try check(current, group: group, epoch: number - 1,
                          problem: "the epoch \(number - 1) key of group \(group.name) carried in ledger event \(step.sequence) by \(state.displayName(of: step.actor))")
                epochKeys[EpochName(group: group.id, epoch: number - 1)] = current
            }
            number -= 1
        }
        return current
    }

    /// Who sealed a member's current wrap (the actor of that event).
    private static func sealer(of member: LedgerState.Member, in group: LedgerState.Group) -> Fingerprint {
        group.epochs.first { $0.sequence == member.wrapSequence }?.actor ?? member.addedBy
    }

    /// Refuses an epoch key that does not match the commitment of its epoch.
    private func check(_ key: GroupEpochKey, group: LedgerState.Group, epoch: UInt32, problem: String) throws {
        let record = group.epochs[Int(epoch) - 1]
        guard let recorded = record.commitment else { return }  // epoch 1 of a version-1 group: nothing committed
        let previous = epoch > 1 ? group.epochs[Int(epoch) - 2].commitment ?? KeyCommitment.none : KeyCommitment.none
        guard KeyCommitment.matches(try KeyCommitment.epoch(key, groupID: group.id, epoch: epoch, previous: previous), recorded) else {
            throw VaultError(.integrity, "\(problem) does not match the key committed to in ledger event \(record.sequence): a custodian gave different members different keys (the group may have been split); refused",
                             hint: "do not add evidence to this group; tell its custodians and run 'evault verify --identity'")
        }
    }

    /// The commitment a custodian records for a new epoch key (chained to the current one).
    func commitment(forNext key: GroupEpochKey, of group: LedgerState.Group) throws -> [UInt8] {
        try KeyCommitment.epoch(key, groupID: group.id, epoch: group.epoch + 1,
                                previous: group.epochs.last?.commitment ?? KeyCommitment.none)
    }

    /// One secure buffer that sealed case fields open into (one allocation per
    /// ring instead of one per field: `case list` opens two per case).
    private var scratch: SecureBytes?
    private func fieldScratch() throws -> SecureBytes {
        if let scratch { return scratch }
        let made = try SecureBytes(zeroedCount: Event.maxSealedTitleLength)
        scratch = made
        return made
    }

    /// A case's wrapped key and sealed fields, read from its event once.
    private func sealed(_ theCase: LedgerState.Case) throws -> SealedFields.CaseFields {
        if let found = caseFields[theCase.id] { return found }
        // A kept case's fields come from its authenticated kept page, a newer case's from its event.
        let found = try state.kept?.caseFields(theCase.id) ?? fields.fields(of: theCase)
        caseFields[theCase.id] = found
        return found
    }

    /// The case key of the case's current generation.
    func caseKey(_ theCase: LedgerState.Case, to action: String) throws -> CaseKey {
        try caseKey(theCase, generation: theCase.generation, to: action)
    }

    /// Unwraps a case key generation under the epoch key it was made under,
    /// checking it against its commitment, and keeps it (at most `maxCaseKeys`).
    func caseKey(_ theCase: LedgerState.Case, generation number: UInt32, to action: String) throws -> CaseKey {
        if let key = caseKeys[GenerationName(theCase: theCase.id, generation: number)] { return key }
        let key = try unwrapCaseKey(theCase, generation: number, to: action, scratch: nil) { $0 }
        if caseKeys.count >= Self.maxCaseKeys { caseKeys.removeAll() }
        caseKeys[GenerationName(theCase: theCase.id, generation: number)] = key
        return key
    }

    /// Runs `body` with a case key generation, checked as `caseKey` checks it: a
    /// key this ring keeps, or one unwrapped into a reused secure buffer for the
    /// call only (a listing of many cases allocates no guarded memory per case).
    func withCaseKey<R>(_ theCase: LedgerState.Case, generation number: UInt32, to action: String, _ body: (CaseKey) throws -> R) throws -> R {
        if let key = caseKeys[GenerationName(theCase: theCase.id, generation: number)] { return try body(key) }
        return try unwrapCaseKey(theCase, generation: number, to: action, scratch: try keyScratch(), body)
    }

    /// Unwraps generation `number` of a case key (into `scratch` for the call
    /// only, or into guarded memory of its own), checks it against its
    /// commitment, and passes it to `use`.
    private func unwrapCaseKey<R>(_ theCase: LedgerState.Case, generation number: UInt32, to action: String, scratch: SecureBytes?,
                                  _ use: (CaseKey) throws -> R) throws -> R {
        guard let generation = theCase.generation(number) else {
            throw VaultError(.integrity, "case \(theCase.id.hex) has no key generation \(number)")
        }
        let group = try state.group(of: theCase)
        let epochKey = try epochKey(in: group, epoch: generation.epoch, to: action)
        let wrapped = number == 1 ? try sealed(theCase).wrappedKey : try fields.wrappedKey(of: theCase, generation: generation)
        func unreadable(_ error: Error) -> VaultError {
            VaultError(.unreadable, "case \(theCase.id.hex) (ledger event \(generation.sequence) by \(state.displayName(of: generation.author))): its generation \(number) key does not unwrap: \(error)")
        }
        guard let scratch else {
            let key: CaseKey
            do {
                key = try KeyWrap.unwrapCaseKey(wrapped, under: epochKey, groupID: group.id, caseID: theCase.id, generation: number, epoch: generation.epoch)
            } catch {
                throw unreadable(error)
            }
            try checkCommitment(key, of: theCase, generation: generation, group: group)
            return try use(key)
        }
        // The key lives only inside the unwrap's call: checked and used there; `use`'s own errors are its own.
        var outcome: Result<R, Error>?
        do {
            try KeyWrap.withUnwrappedCaseKey(wrapped, under: epochKey, groupID: group.id, caseID: theCase.id, generation: number,
                                             epoch: generation.epoch, scratch: scratch) { key in
                outcome = Result {
                    try checkCommitment(key, of: theCase, generation: generation, group: group)
                    return try use(key)
                }
            }
        } catch {
            throw unreadable(error)
        }
        guard let outcome else { preconditionFailure("the unwrap returned without running its body") }
        return try outcome.get()
    }

    /// Refuses a case key that does not match the commitment its generation recorded.
    private func checkCommitment(_ key: CaseKey, of theCase: LedgerState.Case, generation: LedgerState.Generation, group: LedgerState.Group) throws {
        guard let recorded = generation.commitment else { return }
        let number = generation.number
        let previous = number > 1 ? theCase.generations[Int(number) - 2].commitment ?? KeyCommitment.none : KeyCommitment.none
        let computed = try KeyCommitment.caseKey(key, groupID: group.id, caseID: theCase.id, generation: number,
                                                 epoch: generation.epoch, previous: previous)
        guard KeyCommitment.matches(computed, recorded) else {
            throw VaultError(.integrity, "case \(theCase.id.hex): the generation \(number) key wrapped in ledger event \(generation.sequence) by \(state.displayName(of: generation.author)) does not match the key committed to there (a wrap that opens to different keys for different readers); refused")
        }
    }

    /// One secure buffer of a key's size that `withCaseKey` unwraps into.
    private var scratchKey: SecureBytes?
    private func keyScratch() throws -> SecureBytes {
        if let scratchKey { return scratchKey }
        let made = try SecureBytes(zeroedCount: SymmetricKey.length)
        scratchKey = made
        return made
    }

    /// A case's sealed reference or title, as strict UTF-8 within the limits a writer enforces.
    func caseText(_ theCase: LedgerState.Case, field: String, to action: String) throws -> String {
        try withCaseKey(theCase, generation: 1, to: action) { key in try caseText(theCase, field: field, key: key) }
    }

    /// A case's sealed reference and title, opened under one unwrap of its key.
    func caseTexts(_ theCase: LedgerState.Case, to action: String) throws -> (reference: String, title: String) {
        try withCaseKey(theCase, generation: 1, to: action) { key in
            (try caseText(theCase, field: "reference", key: key), try caseText(theCase, field: "title", key: key))
        }
    }

    private func caseText(_ theCase: LedgerState.Case, field: String, key: CaseKey) throws -> String {
        let box = try sealed(theCase)
        do {
            let text = try KeyWrap.openField(field == "reference" ? box.sealedReference : box.sealedTitle, caseKey: key,
                                             caseID: theCase.id, objectID: theCase.id, version: 1, field: field,
                                             scratch: try fieldScratch()) { String(validating: $0, as: UTF8.self) }
            guard let text else { throw VaultError(.unreadable, "is not UTF-8") }
            guard field != "reference" || !text.isEmpty else { throw VaultError(.unreadable, "is empty") }
            return text
        } catch {
            throw VaultError(.unreadable, "case \(theCase.id.hex) (ledger event \(theCase.sequence) by \(state.displayName(of: theCase.author))): its sealed \(field) does not open: \(error)")
        }
    }

    /// The readable cases whose reference cannot be told apart from `reference`
    /// (`MemberName`): a ledger may hold look-alikes (written before they were
    /// refused, or by another client), and a lookup that meets two is ambiguous.
    func cases(withReferenceLike reference: String) throws -> [LedgerState.Case] {
        let wanted = MemberName.keys(reference)
        return try state.allCases().filter { theCase in
            guard try canRead(theCase), let stored = try readableReference(of: theCase) else { return false }
            return stored == reference || !MemberName.keys(stored).isDisjoint(with: wanted)
        }
    }

    /// A case's reference, or nil if its keys or sealed reference do not open (a
    /// case whose keys do not open is reported by its own commands). Damage to
    /// the kept state is thrown, never taken for an unreadable case: the command
    /// then verifies the ledger in full (`Vault.withVerifiedState`).
    func readableReference(of theCase: LedgerState.Case) throws -> String? {
        do { return try caseText(theCase, field: "reference", to: "read case references") } catch let damaged as KeptPageError {
            throw damaged
        } catch {
            return nil
        }
    }

    /// A document's key and metadata, from its current record.
    ///
    /// A re-encrypted document's metadata must be exactly what its `document.add`
    /// sealed (file name, title, kind, tags, size, salt and plaintext commitment):
    /// re-encryption changes keys, never content. So a custodian who writes a
    /// `document.reencrypt` with other content under the same id is caught by
    /// every reader (THREATS.md 63): its metadata differs, or, kept the same, the
    /// content fails the original plaintext commitment when it is exported or verified.
    func documentKeyAndMetadata(_ document: LedgerState.Document, to action: String) throws -> (DocumentKey, DocumentMetadata, DocumentRecord) {
        guard let theCase = try state.lookupCase(document.caseID) else { throw VaultError(.integrity, "document names a missing case") }
        let record = try fields.record(of: document)
        let (key, metadata) = try open(record, of: document, in: theCase, at: document.recordSequence, to: action)
        if document.recordSequence != document.sequence {
            let added = try open(try fields.addedRecord(of: document), of: document, in: theCase, at: document.sequence, to: action).metadata
            let changed = DocumentMetadata.differingFields(added, metadata)
            guard changed.isEmpty else {
                throw VaultError(.integrity, "document \(record.documentID.hex): its re-encryption (ledger event \(document.recordSequence)) changed its \(changed.joined(separator: ", ")) from what \(state.displayName(of: document.author)) added in ledger event \(document.sequence): re-encryption may change only keys, so this is another content under the same id; refused",
                                 hint: "a custodian's re-encryption replaced the evidence: keep this vault as it is and compare with a backup or another member's export")
            }
        }
        return (key, metadata, record)
    }

    /// Opens one record's document key and metadata.
    private func open(_ record: DocumentRecord, of document: LedgerState.Document, in theCase: LedgerState.Case, at sequence: UInt64,
                      to action: String) throws -> (key: DocumentKey, metadata: DocumentMetadata) {
        let caseKey = try caseKey(theCase, generation: record.generation, to: action)
        do {
            let key = try KeyWrap.unwrapDocumentKey(record.wrappedKey, under: caseKey, caseID: theCase.id, documentID: record.documentID,
                                                    version: record.version, generation: record.generation)
            let sealed = try KeyWrap.openField(record.sealedMetadata, caseKey: caseKey, caseID: theCase.id, objectID: record.documentID,
                                               version: record.version, field: "metadata")
            return (key, try DocumentMetadata.decode(sealed.unprotectedCopy(), structure: "metadata"))
        } catch {
            throw VaultError(.unreadable, "document \(record.documentID.hex) (ledger event \(sequence) by \(state.displayName(of: document.author))): its key or metadata does not open: \(error)")
        }
    }

    /// The reason sealed in a removal or rotation event, opened under the epoch it was sealed for.
    func reason(at sequence: UInt64, group: LedgerState.Group, epoch: UInt32, typeCode: UInt8, member: Fingerprint?) throws -> String {
        let box = try fields.sealedReason(at: sequence)
        guard !box.isEmpty else { return "" }
        let key = try epochKey(in: group, epoch: epoch, to: "read reasons")
        return try KeyWrap.openReason(box, epochKey: key, groupID: group.id, epoch: epoch, typeCode: typeCode, member: member)
    }
}
