import Foundation
import VaultCrypto

/// What `reencrypt` did.
public struct ReencryptionSummary: Sendable {
    /// Documents re-encrypted by this run.
    public let reencrypted: Int
    /// Documents that needed it when this run started, including those another run finished meanwhile.
    public let planned: Int
    /// Documents under older epochs left as they are (none after a complete run).
    public let remaining: Int
    /// The epoch below which content was written anew.
    public let beforeEpoch: UInt32
    /// Superseded blobs `clean` can now remove.
    public let superseded: Int
}

extension Vault {
    /// The epoch below which `reencrypt` writes documents anew: given, or one
    /// past the newest epoch any removed lawyer or custodian held (nil: none).
    static func reencryptionBound(for group: LedgerState.Group, beforeEpoch: UInt32?) throws -> UInt32? {
        if let beforeEpoch {
            guard beforeEpoch >= 2, beforeEpoch <= group.epoch else {
                throw VaultError(.invalidInput, "--before-epoch must be between 2 and the group's current epoch \(group.epoch)")
            }
            return beforeEpoch
        }
        return group.removals.filter { $0.role.canRead }.map(\.lastEpoch).max().map { $0 + 1 }
    }

    /// The documents of `group` (or of one case) whose current key is wrapped
    /// under a case-key generation made under an epoch below `bound`, in ledger order.
    static func reencryptionTargets(in state: LedgerState, group: LedgerState.Group, caseID: ObjectID?, bound: UInt32) throws -> [LedgerState.Document] {
        try state.cases(inGroup: group.id).filter { caseID == nil || $0.id == caseID }
            .flatMap { theCase in
                try state.documents(of: theCase).filter { (theCase.generation($0.generation)?.epoch ?? 0) < bound }
            }
            .sorted { $0.sequence < $1.sequence }
    }

    /// Writes every document that keys of a removed member could open (or, with
    /// `beforeEpoch`, that any key of an epoch before it opens) anew: a fresh
    /// document key, the case's generation under the current epoch, a new blob;
    /// one signed `document.reencrypt` per document naming the old and new blob
    /// and keeping the plaintext commitment. Custodians only.
    ///
    /// Resumable: the ledger is the checkpoint. Each document is one transaction
    /// after its new blob is durable; a run stopped anywhere leaves at most one
    /// orphan blob (`clean`), and a re-run skips what is done and ends in the same state.
    public func reencrypt(group groupName: String, caseText: String? = nil, beforeEpoch: UInt32? = nil, as actor: UnlockedIdentity,
                          progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> ReencryptionSummary {
        try requireWriteAccess()
        var state = try replay(for: actor)
        let group = try state.requireGroup(named: groupName)
        try state.requireCustodian(actor, of: group, to: "re-encrypt its documents")
        let caseID = try caseText.map { try state.resolveCase($0, keys: keyRing(for: actor, state: state)).id }
        if let caseID, try state.lookupCase(caseID)?.groupID != group.id {
            throw VaultError(.invalidInput, "the case given is not in group \(group.name)")
        }
        guard let bound = try Self.reencryptionBound(for: group, beforeEpoch: beforeEpoch) else {
            throw VaultError(.invalidInput, "no lawyer or custodian was ever removed from group \(group.name): nothing is exposed to a removed member",
                             hint: "after a rotation for a suspected compromise, give --before-epoch E to re-encrypt what epochs before E open")
        }
        let targets = try Self.reencryptionTargets(in: state, group: group, caseID: caseID, bound: bound)
        var done = 0
        for (index, target) in targets.enumerated() {
            progress?(index, targets.count)
            if try reencryptOne(target.documentID, bound: bound, state: &state, as: actor) { done += 1 }
        }
        progress?(targets.count, targets.count)
        let after = try state.requireGroup(named: groupName)
        let remaining = try Self.reencryptionTargets(in: state, group: after, caseID: caseID, bound: bound).count
        logger.info("documents re-encrypted", metadata: ["count": "\(done)"])
        let present = Set(((try? blobs.entries()) ?? []).map(\.name))
        return ReencryptionSummary(reencrypted: done, planned: targets.count, remaining: remaining, beforeEpoch: bound,
                                   superseded: state.supersededBlobs.keys.filter(present.contains).count)
    }

    /// Re-encrypts one document unless it is done already; `state` moves on to the committed ledger.
    private func reencryptOne(_ documentID: ObjectID, bound: UInt32, state: inout LedgerState, as actor: UnlockedIdentity) throws -> Bool {
        guard let document = try state.document(documentID), let theCase = try state.lookupCase(document.caseID),
              (theCase.generation(document.generation)?.epoch ?? 0) < bound else { return false }
        let keys = keyRing(for: actor, state: state)
        let (oldKey, metadata, record) = try keys.documentKeyAndMetadata(document, to: "re-encrypt documents")
        let newKey = try DocumentKey.random()
        let sink = try BlobEncryptingSink(documentID: documentID, version: document.version, key: newKey, plaintextSize: metadata.size, store: blobs)
        let newBlob: (hash: [UInt8], size: UInt64)
        do {
            // The old blob is authenticated chunk by chunk and against its plaintext
            // commitment; only then is the new blob given its name.
            try DocumentStream.decrypt(record: record, metadata: metadata, key: oldKey, store: blobs, outputFolder: nil, calls: calls,
                                       plaintextSink: sink)
            newBlob = try sink.finish()
        } catch let error as SystemCallError {
            throw VaultError(.io, "re-encrypting document \(documentID.hex) failed, nothing was recorded: \(error)")
        }
        var skipped = false
        do {
            let (_, committed) = try appendEvents(as: actor, state: state) { current in
                // Another run may have done this document since: then nothing is appended.
                guard let now = try current.document(documentID), now.blobHash == record.blobHash, let theCase = try current.lookupCase(now.caseID) else {
                    skipped = true
                    return []
                }
                let keys = keyRing(for: actor, state: current)
                let (caseKey, generation, rekey) = try currentCaseKey(theCase, keys: keys)
                let body = EventBody.documentReencrypted(Reencryption(
                    documentID: documentID, caseID: theCase.id, generation: generation,
                    wrappedKey: try KeyWrap.wrapDocumentKey(newKey, under: caseKey, caseID: theCase.id, documentID: documentID,
                                                            version: now.version, generation: generation),
                    oldBlobHash: record.blobHash, blobHash: newBlob.hash, blobSize: newBlob.size,
                    sealedMetadata: try KeyWrap.sealField(metadata.encoded(), caseKey: caseKey, caseID: theCase.id, objectID: documentID,
                                                          version: now.version, field: "metadata")))
                return (rekey.map { [$0] } ?? []) + [body]
            }
            state = committed
        } catch {
            blobs.remove(newBlob.hash)
            throw error
        }
        if skipped { blobs.remove(newBlob.hash) }
        return !skipped
    }
}
