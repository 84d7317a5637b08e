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
        guard let group = groups[theCase.groupID] else { throw VaultError(.integrity, "case \(theCase.id.hex) names a missing group") }
        let epochKey = try epochKey(for: actor, in: group, to: action)
        do {
            return try KeyWrap.unwrapCaseKey(theCase.wrappedKey, under: epochKey, groupID: group.id, caseID: theCase.id,
                                             generation: theCase.generation, epoch: theCase.epoch)
        } catch {
            throw VaultError(.authenticationFailed, "key of case \(theCase.id.hex) does not unwrap: \(error)")
        }
    }

    /// Finds a case by id, unique id prefix, or (for cases the actor can read) its reference.
    func resolveCase(_ text: String, actor: UnlockedIdentity?) throws -> Case {
        if let id = ObjectID(hex: text), let found = cases[id] { return found }
        let lowered = text.lowercased()
        if lowered.count >= 4, lowered.allSatisfy(\.isHexDigit) {
            let matches = cases.values.filter { $0.id.hex.hasPrefix(lowered) }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw VaultError(.invalidInput, "case prefix \(text) is ambiguous: \(matches.count) cases match") }
        }
        if let actor {
            var matches: [Case] = []
            for theCase in cases.values {
                guard let group = groups[theCase.groupID], group.members[actor.fingerprint]?.role.canRead == true else { continue }
                let key = try caseKey(for: actor, theCase, to: "read case references")
                let reference = try KeyWrap.openField(theCase.sealedReference, caseKey: key, caseID: theCase.id, objectID: theCase.id,
                                                      version: 1, field: "reference")
                if reference.unprotectedCopy() == Array(text.utf8) { matches.append(theCase) }
            }
            if matches.count == 1 { return matches[0] }
            if matches.count > 1 { throw VaultError(.invalidInput, "case reference \(text) is ambiguous: use the case id") }
        }
        throw VaultError(.notFound, "no case \(text) in this vault" + (actor == nil ? " (references are sealed: give --identity to look one up)" : " that you can read"))
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
