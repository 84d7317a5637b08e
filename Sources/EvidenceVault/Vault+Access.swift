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
    func documents(of theCase: Case) -> [Document] {
        (caseDocuments[theCase.id] ?? []).compactMap { documents[$0] }
    }

    /// Finds a case by full id, by reference (among cases `keys` can read), or
    /// by unique id prefix. A text that matches a reference and also another
    /// case's id prefix is refused as ambiguous, so nobody can capture a lookup
    /// by choosing a case id that looks like someone else's reference. Errors
    /// never repeat the text: it may be a sealed case reference.
    func resolveCase(_ text: String, keys: KeyRing?) throws -> Case {
        let byID = ObjectID(hex: text).flatMap { cases[$0] }.map { [$0] } ?? []
        let byReference = keys.map { $0.cases(withReference: text) } ?? []
        let byPrefix = casesWithIDPrefix(text)
        let candidates = Set(byReference.map(\.id)).union(byPrefix.map(\.id)).union(byID.map(\.id))
        guard candidates.count <= 1 else {
            throw VaultError(.invalidInput, "the case given matches \(candidates.count) cases (by reference or id prefix)",
                             hint: "give the full 32-character case id")
        }
        guard let id = candidates.first, let found = cases[id] else {
            throw VaultError(.notFound, "no case matches the case given" + (keys == nil
                ? " (references are sealed: give --identity to look one up)" : " among the cases you can read"))
        }
        return found
    }

    /// Cases whose id starts with `text` (4 or more hex characters).
    func casesWithIDPrefix(_ text: String) -> [Case] {
        let lowered = text.lowercased()
        guard lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) else { return [] }
        return cases.values.filter { $0.id.hex.hasPrefix(lowered) }
    }

    /// Finds a document by id or unique id prefix.
    func resolveDocument(_ text: String) throws -> Document {
        if let id = ObjectID(hex: text), let found = documents[id] { return found }
        let lowered = text.lowercased()
        guard lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) else {
            throw VaultError(.invalidInput, "document \(text) is not an id or an id prefix of at least 4 hex characters")
        }
        let matches = documents.values.filter { $0.documentID.hex.hasPrefix(lowered) }
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
final class KeyRing {
    let actor: UnlockedIdentity
    let state: LedgerState
    let fields: SealedFields
    private var epochKeys: [ObjectID: GroupEpochKey] = [:]
    private var caseKeys: [ObjectID: CaseKey] = [:]
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

    /// Opens the actor's wrap of the group's current epoch key.
    func epochKey(in group: LedgerState.Group, to action: String) throws -> GroupEpochKey {
        if let key = epochKeys[group.id] { return key }
        let member = try state.requireReader(actor, of: group, to: action)
        let key: GroupEpochKey
        do {
            key = try KeyWrap.openEpochKey(member.wrap, groupID: group.id, epoch: member.epoch, with: actor)
        } catch {
            throw VaultError(.unreadable, "the epoch key of group \(group.name) sealed to you in ledger event \(member.sequence) by \(state.displayName(of: member.addedBy)) does not open: \(error)")
        }
        epochKeys[group.id] = key
        return key
    }

    /// A case's wrapped key and sealed fields, read from its event once.
    private func sealed(_ theCase: LedgerState.Case) throws -> SealedFields.CaseFields {
        if let found = caseFields[theCase.id] { return found }
        let found = try fields.fields(of: theCase)
        caseFields[theCase.id] = found
        return found
    }

    /// Unwraps a case's key under its group's epoch key.
    func caseKey(_ theCase: LedgerState.Case, to action: String) throws -> CaseKey {
        if let key = caseKeys[theCase.id] { return key }
        let group = try state.group(of: theCase)
        let epochKey = try epochKey(in: group, to: action)
        let wrapped = try sealed(theCase).wrappedKey
        let key: CaseKey
        do {
            key = try KeyWrap.unwrapCaseKey(wrapped, under: epochKey, groupID: group.id, caseID: theCase.id,
                                            generation: theCase.generation, epoch: theCase.epoch)
        } catch {
            throw VaultError(.unreadable, "case \(theCase.id.hex) (ledger event \(theCase.sequence) by \(state.displayName(of: theCase.author))): its key does not unwrap: \(error)")
        }
        caseKeys[theCase.id] = key
        return key
    }

    /// A case's sealed reference or title, as strict UTF-8.
    func caseText(_ theCase: LedgerState.Case, field: String, to action: String) throws -> String {
        let key = try caseKey(theCase, to: action)
        let box = try sealed(theCase)
        do {
            let bytes = try KeyWrap.openField(field == "reference" ? box.sealedReference : box.sealedTitle, caseKey: key,
                                              caseID: theCase.id, objectID: theCase.id, version: 1, field: field)
            guard let text = bytes.withUnsafeBytes({ String(validating: $0, as: UTF8.self) }) else {
                throw VaultError(.unreadable, "is not UTF-8")
            }
            return text
        } catch {
            throw VaultError(.unreadable, "case \(theCase.id.hex) (ledger event \(theCase.sequence) by \(state.displayName(of: theCase.author))): its sealed \(field) does not open: \(error)")
        }
    }

    /// The cases the actor can read whose sealed reference is exactly `reference`.
    func cases(withReference reference: String) -> [LedgerState.Case] {
        state.cases.values.filter { theCase in
            // A case whose keys do not open is reported by its own commands, not here.
            canRead(theCase) && (try? caseText(theCase, field: "reference", to: "read case references")) == reference
        }
    }

    /// A document's key and metadata.
    func documentKeyAndMetadata(_ document: LedgerState.Document, to action: String) throws -> (DocumentKey, DocumentMetadata, DocumentRecord) {
        guard let theCase = state.cases[document.caseID] else { throw VaultError(.integrity, "document names a missing case") }
        let caseKey = try caseKey(theCase, to: action)
        let record = try fields.record(of: document)
        do {
            let key = try KeyWrap.unwrapDocumentKey(record.wrappedKey, under: caseKey, caseID: theCase.id, documentID: record.documentID,
                                                    version: record.version, generation: record.generation)
            let sealed = try KeyWrap.openField(record.sealedMetadata, caseKey: caseKey, caseID: theCase.id, objectID: record.documentID,
                                               version: record.version, field: "metadata")
            let metadata = try DocumentMetadata.decode(sealed.unprotectedCopy(), structure: "metadata")
            return (key, metadata, record)
        } catch {
            throw VaultError(.unreadable, "document \(record.documentID.hex) (ledger event \(document.sequence) by \(state.displayName(of: document.author))): its key or metadata does not open: \(error)")
        }
    }
}
