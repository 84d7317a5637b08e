import VaultCrypto

/// Who may do what, and the keys that follow from membership.
extension LedgerState {
    /// The group named `name`, or a clear error.
    func requireGroup(named name: String) throws -> Group {
        guard let group = group(named: name) ?? ObjectID(hex: name).flatMap({ groups[$0] }) else {
            throw VaultError(.notFound, "no working group named \"\(name)\" in this vault")
        }
        return group
    }

    /// The actor's membership of `group`, required to be a reader (lawyer or custodian).
    func requireReader(_ actor: UnlockedIdentity, of group: Group, to action: String) throws -> Member {
        guard let member = group.members[actor.fingerprint] else {
            throw VaultError(.notPermitted, "\(actor.publicIdentity.name) (\(actor.fingerprint.readable)) is not a member of group \(group.name): may not \(action)")
        }
        guard member.role.canRead else {
            throw VaultError(.notPermitted, "\(actor.publicIdentity.name) is an auditor of group \(group.name): auditors hold no keys and may not \(action)")
        }
        return member
    }

    /// The actor's membership of `group`, required to be a custodian.
    func requireCustodian(_ actor: UnlockedIdentity, of group: Group, to action: String) throws {
        guard group.members[actor.fingerprint]?.role == .custodian else {
            throw VaultError(.notPermitted, "\(actor.publicIdentity.name) (\(actor.fingerprint.readable)) is not a custodian of group \(group.name): may not \(action)")
        }
    }

    /// Opens the actor's wrap of the group's current epoch key.
    func epochKey(for actor: UnlockedIdentity, in group: Group, to action: String) throws -> GroupEpochKey {
        let member = try requireReader(actor, of: group, to: action)
        do {
            return try KeyWrap.openEpochKey(member.wrap, groupID: group.id, epoch: member.epoch, with: actor)
        } catch {
            throw VaultError(.authenticationFailed, "the epoch key of group \(group.name) sealed to \(actor.publicIdentity.name) does not open: \(error)")
        }
    }

    /// Unwraps a case's key for the actor.
    func caseKey(for actor: UnlockedIdentity, _ theCase: Case, to action: String) throws -> CaseKey {
        try KeyRing(actor: actor, state: self).caseKey(theCase, to: action)
    }

    /// The group a case belongs to.
    func group(of theCase: Case) throws -> Group {
        guard let group = groups[theCase.groupID] else { throw VaultError(.integrity, "case \(theCase.id.hex) names a missing group") }
        return group
    }

    /// Unwraps a case's key under its group's epoch key.
    func caseKey(_ theCase: Case, under epochKey: GroupEpochKey) throws -> CaseKey {
        let group = try group(of: theCase)
        do {
            return try KeyWrap.unwrapCaseKey(theCase.wrappedKey, under: epochKey, groupID: group.id, caseID: theCase.id,
                                             generation: theCase.generation, epoch: theCase.epoch)
        } catch {
            throw VaultError(.authenticationFailed, "key of case \(theCase.id.hex) does not unwrap: \(error)")
        }
    }

    /// Finds a case by full id, by reference (among cases the actor can read), or
    /// by unique id prefix. A text that matches a reference and also another
    /// case's id prefix is refused as ambiguous, so nobody can capture a lookup
    /// by choosing a case id that looks like someone else's reference. Errors
    /// never repeat the text: it may be a sealed case reference.
    func resolveCase(_ text: String, actor: UnlockedIdentity?) throws -> Case {
        let byID = ObjectID(hex: text).flatMap { cases[$0] }.map { [$0] } ?? []
        let byReference = actor.map { cases(withReference: text, readableBy: $0) } ?? []
        let lowered = text.lowercased()
        var byPrefix: [Case] = []
        if lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) {
            byPrefix = cases.values.filter { $0.id.hex.hasPrefix(lowered) }
        }
        let candidates = Set(byReference.map(\.id)).union(byPrefix.map(\.id)).union(byID.map(\.id))
        guard candidates.count <= 1 else {
            throw VaultError(.invalidInput, "the case given matches \(candidates.count) cases (by reference or id prefix)",
                             hint: "give the full 32-character case id")
        }
        guard let id = candidates.first, let found = cases[id] else {
            throw VaultError(.notFound, "no case matches the case given" + (actor == nil
                ? " (references are sealed: give --identity to look one up)" : " among the cases you can read"))
        }
        return found
    }

    /// The cases `actor` can read whose sealed reference is exactly `reference`.
    func cases(withReference reference: String, readableBy actor: UnlockedIdentity) -> [Case] {
        let keys = KeyRing(actor: actor, state: self)
        return cases.values.filter { theCase in
            guard let group = groups[theCase.groupID], group.members[actor.fingerprint]?.role.canRead == true,
                  let key = try? keys.caseKey(theCase, to: "read case references"),
                  let sealed = try? KeyWrap.openField(theCase.sealedReference, caseKey: key, caseID: theCase.id,
                                                      objectID: theCase.id, version: 1, field: "reference")
            else { return false }  // a case whose keys do not open is reported by its own commands, not here
            return sealed.unprotectedCopy() == Array(reference.utf8)
        }
    }

    /// Finds a document by id or unique id prefix.
    func resolveDocument(_ text: String) throws -> Document {
        if let id = ObjectID(hex: text), let found = documents[id] { return found }
        let lowered = text.lowercased()
        guard lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) else {
            throw VaultError(.invalidInput, "document \(text) is not an id or an id prefix of at least 4 hex characters")
        }
        let matches = documents.values.filter { $0.record.documentID.hex.hasPrefix(lowered) }
        guard matches.count == 1 else {
            throw matches.isEmpty ? VaultError(.notFound, "no document \(text) in this vault")
                : VaultError(.invalidInput, "document prefix \(text) is ambiguous: \(matches.count) documents match")
        }
        return matches[0]
    }
}

/// The keys one operation opens for one actor, each opened once: listing a
/// thousand documents opens the group's epoch key (a sealed box) and the case
/// key once, not once per row.
final class KeyRing {
    let actor: UnlockedIdentity
    let state: LedgerState
    private var epochKeys: [ObjectID: GroupEpochKey] = [:]
    private var caseKeys: [ObjectID: CaseKey] = [:]

    init(actor: UnlockedIdentity, state: LedgerState) {
        self.actor = actor
        self.state = state
    }

    /// Whether the actor is a lawyer or custodian of the case's group.
    func canRead(_ theCase: LedgerState.Case) -> Bool {
        state.groups[theCase.groupID]?.members[actor.fingerprint]?.role.canRead == true
    }

    func epochKey(in group: LedgerState.Group, to action: String) throws -> GroupEpochKey {
        if let key = epochKeys[group.id] { return key }
        let key = try state.epochKey(for: actor, in: group, to: action)
        epochKeys[group.id] = key
        return key
    }

    func caseKey(_ theCase: LedgerState.Case, to action: String) throws -> CaseKey {
        if let key = caseKeys[theCase.id] { return key }
        let key = try state.caseKey(theCase, under: epochKey(in: state.group(of: theCase), to: action))
        caseKeys[theCase.id] = key
        return key
    }
}
