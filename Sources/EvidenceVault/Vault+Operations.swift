import Foundation
import VaultCrypto

/// What `group list/show` report.
public struct GroupSummary: Sendable {
    public struct MemberSummary: Sendable {
        public let name: String
        public let fingerprint: Fingerprint
        public let role: Role
        public let epoch: UInt32
        public let addedBy: Fingerprint
        public let sequence: UInt64
    }
    public let id: ObjectID
    public let name: String
    public let epoch: UInt32
    public let members: [MemberSummary]
    public let caseCount: Int
    /// Names of the readers who confirmed the current epoch's committed key (`epoch.confirm`).
    public let confirmedBy: [String]
    /// Whether the current epoch has a commitment (false only for epoch 1 of a group made by version 1).
    public let committed: Bool
}

/// What `case new/list` report; `reference` and `title` only for readers.
public struct CaseSummary: Sendable {
    public let id: ObjectID
    public let groupName: String
    public let reference: String?
    public let title: String?
    public let author: Fingerprint
    public let authorName: String
    public let created: Date
    public let sequence: UInt64
    public let documentCount: Int
    /// Why a reader could not open this case's sealed fields (the listing goes on; THREATS.md 45).
    public let problem: String?
}

/// What `add/list/show` report; `metadata` only for readers.
public struct DocumentSummary: Sendable {
    public let id: ObjectID
    public let caseID: ObjectID
    public let version: UInt32
    public let blobHash: [UInt8]
    public let blobSize: UInt64
    public let author: Fingerprint
    public let authorName: String
    public let added: Date
    public let sequence: UInt64
    public let metadata: DocumentMetadata?
    /// Why a reader could not open this document's key or metadata (the listing goes on; THREATS.md 45).
    public let problem: String?
    /// After an export: the SHA-256 of the file written (of the plaintext), what
    /// a court expert compares with `sha256sum`; nil otherwise.
    public var exportedSHA256: [UInt8]? = nil
}

/// What to add: the file and its description.
public struct NewDocument: Sendable {
    public let path: String
    public let kind: DocumentKind
    public let title: String
    public let tags: [String]

    public init(path: String, kind: DocumentKind, title: String = "", tags: [String] = []) {
        self.path = path
        self.kind = kind
        self.title = title
        self.tags = tags
    }
}

extension Vault {
    // MARK: groups

    /// Creates a working group; the actor becomes its first custodian, holding epoch 1's key.
    @discardableResult
    public func createGroup(named name: String, as actor: UnlockedIdentity) throws -> GroupSummary {
        try GroupName.validate(name)
        let groupID = try ObjectID.random()
        let epochKey = try GroupEpochKey.random()
        let wrap = try KeyWrap.sealEpochKey(epochKey, groupID: groupID, epoch: 1, to: actor.publicIdentity.encryptionKey)
        let commitment = try KeyCommitment.epoch(epochKey, groupID: groupID, epoch: 1, previous: KeyCommitment.none)
        let (_, state) = try append(as: actor) { state in
            guard state.group(named: name) == nil else { throw VaultError(.alreadyExists, "a group named \"\(name)\" already exists") }
            // Group names are shown to everyone: two that cannot be told apart are refused (THREATS.md 43).
            if let existing = state.groups.values.first(where: { MemberName.collide($0.name, name) }) {
                throw VaultError(.alreadyExists, "the group name \"\(name)\" cannot be told apart from the existing group \"\(existing.name)\" (\(existing.id.hex)): refused")
            }
            return .groupCreated(groupID: groupID, name: name, epoch: 1, custodianWrap: wrap, commitment: commitment)
        }
        return try summary(of: state.requireGroup(named: name), in: state)
    }

    /// Admits a member (custodians only). Lawyers and custodians receive the
    /// current epoch key, sealed to the X25519 key of the public identity given;
    /// auditors receive nothing. A name that compares equal to a current
    /// member's (`MemberName`) is refused, naming that member (THREATS.md 43).
    public func addMember(_ member: PublicIdentity, role: Role, toGroup groupName: String, as actor: UnlockedIdentity) throws {
        try append(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            try state.requireCustodian(actor, of: group, to: "admit members")
            guard group.members[member.fingerprint] == nil else {
                throw VaultError(.alreadyExists, "\(member.name) (\(member.fingerprint.readable)) is already a member of \(group.name)")
            }
            if group.removals.contains(where: { $0.member == member.fingerprint }) {
                throw VaultError(.notPermitted, "\(state.displayName(of: member.fingerprint)) (\(member.fingerprint.readable)) was removed from \(group.name); a removed identity is never admitted again",
                                 hint: "the returning member creates a new identity ('evault identity new') and you admit that one")
            }
            if let existing = state.currentMembers(withNameLike: member.name, other: member.fingerprint).first {
                throw VaultError(.alreadyExists, "the name \"\(member.name)\" cannot be told apart from that of \(state.displayName(of: existing)) (\(existing.readable)), already a member of this vault: refused",
                                 hint: "ask the new member to create their identity under a name that is clearly their own")
            }
            // An input rule for what this vault records (the defence is escaping on output).
            try TextRules.requirePrintable(member.name, what: "the member's name")
            try TextRules.requireNotFingerprintLike(member.name, among: Array(state.identities.keys) + [member.fingerprint])
            guard !role.canRead || group.readers.count < Event.maxSeals else {
                throw VaultError(.invalidInput, "group \(group.name) has \(Event.maxSeals) lawyers and custodians, the most one rotation can reach; admit readers to another group")
            }
            var wrap: [UInt8] = []
            if role.canRead {
                let epochKey = try keyRing(for: actor, state: state).epochKey(in: group, to: "admit members")
                wrap = try KeyWrap.sealEpochKey(epochKey, groupID: group.id, epoch: group.epoch, to: member.encryptionKey)
            }
            return .memberAdded(groupID: group.id, member: member, role: role, epoch: group.epoch, wrap: wrap)
        }
    }

    /// The keys `actor` can open in `state`, read through this vault's ledger.
    func keyRing(for actor: UnlockedIdentity, state: LedgerState) -> KeyRing {
        KeyRing(actor: actor, state: state, fields: sealedFields(state))
    }

    /// The sealed parts of `state`'s cases and documents, read from this vault's ledger.
    func sealedFields(_ state: LedgerState) -> SealedFields { SealedFields(database: database, state: state, folder: folder) }

    /// Every group, with members.
    public func groups() throws -> [GroupSummary] {
        let state = try replay()
        return try state.groups.values.sorted { $0.sequence < $1.sequence }.map { try summary(of: $0, in: state) }
    }

    /// One group by name or id.
    public func group(_ name: String) throws -> GroupSummary {
        let state = try replay()
        return try summary(of: try state.requireGroup(named: name), in: state)
    }

    func summary(of group: LedgerState.Group, in state: LedgerState) throws -> GroupSummary {
        try GroupSummary(id: group.id, name: group.name, epoch: group.epoch,
                     members: group.members.values.sorted { $0.sequence < $1.sequence }.map {
                         .init(name: state.displayName(of: $0.identity.fingerprint), fingerprint: $0.identity.fingerprint, role: $0.role, epoch: $0.epoch,
                               addedBy: $0.addedBy, sequence: $0.sequence)
                     },
                     caseCount: try state.cases(inGroup: group.id).count,
                     confirmedBy: (group.epochs.last?.confirmedBy ?? []).map { state.displayName(of: $0) }.sorted(),
                     committed: group.epochs.last?.commitment != nil)
    }

    // MARK: cases

    /// Longest case reference accepted when opening a case, in UTF-8 bytes.
    public static let maxReferenceLength = 256
    /// Longest case title accepted when opening a case, in UTF-8 bytes.
    public static let maxCaseTitleLength = 1024

    /// Opens a case in a group: a random case key wrapped under the epoch key; reference and title sealed.
    public func createCase(inGroup groupName: String, reference: String, title: String = "", as actor: UnlockedIdentity) throws -> CaseSummary {
        guard let created = try createCases(inGroup: groupName, [(reference, title)], as: actor).first else {
            throw VaultError(.io, "the case was not recorded")
        }
        return created
    }

    /// A case argument as lookups read it for ids and id prefixes: compatibility
    /// forms folded (full-width digits are digits) and white space around it dropped.
    static func lookupForm(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Opens several cases in one transaction (all or none), e.g. when a group
    /// imports its case list: the references already in use are read once, not
    /// once per new case.
    public func createCases(inGroup groupName: String, _ cases: [(reference: String, title: String)], as actor: UnlockedIdentity) throws -> [CaseSummary] {
        for (reference, title) in cases {
            guard !reference.isEmpty, reference.utf8.count <= Self.maxReferenceLength, title.utf8.count <= Self.maxCaseTitleLength else {
                throw VaultError(.invalidInput, "a case reference is 1 to \(Self.maxReferenceLength) bytes and a title at most \(Self.maxCaseTitleLength)")
            }
            try TextRules.requirePrintable(reference, what: "the case reference")
            // White space around a reference is invisible in every listing (and a lookup ignores it).
            guard reference.trimmingCharacters(in: .whitespacesAndNewlines) == reference else {
                throw VaultError(.invalidInput, "a case reference may not begin or end with white space")
            }
            // A full case id always names that case (`resolveCase`): a reference may not look like one.
            guard ObjectID(hex: Self.lookupForm(reference)) == nil else {
                throw VaultError(.invalidInput, "a case reference may not be 32 hexadecimal characters (it would read as a case id)")
            }
            try TextRules.requirePrintable(title, what: "the case title")
        }
        let made = try cases.map { _ in (try ObjectID.random(), try CaseKey.random()) }
        let (_, state) = try appendEvents(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            let keys = keyRing(for: actor, state: state)
            let epochKey = try keys.epochKey(in: group, to: "open cases in it")
            // References are compared as member names are (`MemberName`): one that cannot be
            // told apart from a reference in use is refused, as that reference itself is.
            var inUse = Set(try state.allCases().filter(keys.canRead).compactMap { try keys.readableReference(of: $0) }.flatMap(MemberName.keys))
            return try zip(cases, made).map { item, ids in
                let (reference, title) = item
                let (caseID, caseKey) = ids
                if !(try state.casesWithIDPrefix(Self.lookupForm(reference))).isEmpty {
                    throw VaultError(.invalidInput, "this case reference is also the start of an existing case id; choose another reference")
                }
                let referenceKeys = MemberName.keys(reference)
                guard inUse.isDisjoint(with: referenceKeys) else {
                    throw VaultError(.alreadyExists, "a case with this reference, or one that cannot be told apart from it, already exists in a group you can read")
                }
                inUse.formUnion(referenceKeys)
                return .caseCreated(
                    caseID: caseID, groupID: group.id, epoch: group.epoch, generation: 1,
                    wrappedKey: try KeyWrap.wrapCaseKey(caseKey, under: epochKey, groupID: group.id, caseID: caseID, generation: 1, epoch: group.epoch),
                    sealedReference: try KeyWrap.sealField(Array(reference.utf8), caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "reference"),
                    sealedTitle: try KeyWrap.sealField(Array(title.utf8), caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "title"),
                    commitment: try KeyCommitment.caseKey(caseKey, groupID: group.id, caseID: caseID, generation: 1, epoch: group.epoch,
                                                          previous: KeyCommitment.none))
            }
        }
        let keys = keyRing(for: actor, state: state)
        return try made.map { caseID, _ in
            guard let created = try state.lookupCase(caseID) else { throw VaultError(.io, "case \(caseID.hex) was not recorded") }
            return try caseSummary(created, in: state, keys: keys)
        }
    }

    /// Cases, optionally of one group; references and titles where the actor
    /// can read them. A case whose sealed fields do not open is listed with its
    /// problem, and the listing goes on.
    public func cases(inGroup groupName: String? = nil, as actor: UnlockedIdentity?) throws -> [CaseSummary] {
        try withVerifiedState(for: actor) { state in
            let groupID = try groupName.map { try state.requireGroup(named: $0).id }
            let keys = actor.map { keyRing(for: $0, state: state) }
            return try state.allCases().filter { groupID == nil || $0.groupID == groupID }
                .map { try caseSummary($0, in: state, keys: keys) }
        }
    }

    func caseSummary(_ theCase: LedgerState.Case, in state: LedgerState, keys: KeyRing?) throws -> CaseSummary {
        var reference: String?, title: String?, problem: String?
        if let keys, keys.canRead(theCase) {
            do {
                (reference, title) = try keys.caseTexts(theCase, to: "read cases")
            } catch let damaged as KeptPageError {
                throw damaged  // the kept state, not the case: `withVerifiedState` replays in full
            } catch {
                reference = nil
                title = nil
                problem = (error as? VaultError)?.message ?? "\(error)"
            }
        }
        return CaseSummary(id: theCase.id, groupName: state.groups[theCase.groupID]?.name ?? "?", reference: reference, title: title,
                           author: theCase.author, authorName: state.displayName(of: theCase.author),
                           created: Date(timeIntervalSince1970: TimeInterval(theCase.time)), sequence: theCase.sequence,
                           documentCount: try state.documentCount(inCase: theCase.id), problem: problem)
    }

    // MARK: documents

    /// Checks what can be checked before the passphrase is asked (THREATS.md 50):
    /// the vault is trusted and replays (`precheckState`: signatures are left to the add itself), every input is a regular file that
    /// opens, and its metadata fits; a case given by id must exist.
    public func checkBeforeAdding(_ files: [NewDocument], toCase caseText: String) throws {
        let state = try precheckState()
        if try ObjectID(hex: caseText) != nil || !state.casesWithIDPrefix(caseText).isEmpty {
            _ = try state.resolveCase(caseText, keys: nil)
        }
        try Self.checkInputs(files)
    }

    private static func checkInputs(_ files: [NewDocument]) throws {
        guard !files.isEmpty else { throw VaultError(.invalidInput, "no file to add") }
        for file in files {
            try DocumentMetadata.validate(fileName: (file.path as NSString).lastPathComponent, title: file.title, tags: file.tags)
            _ = try ReadableFile(userPath: file.path, what: "input file")
        }
    }

    /// Encrypts every file into a blob (durable before anything else), then
    /// records them all in one transaction, one signed event per document: all
    /// are added or none is, and a failure removes the blobs already written
    /// (THREATS.md 50). Lawyers and custodians of the case's group only.
    public func addDocuments(_ files: [NewDocument], toCase caseText: String, as actor: UnlockedIdentity,
                             progress: ((String, UInt64, UInt64) -> Void)? = nil) throws -> [DocumentSummary] {
        try requireWriteAccess()
        try Self.checkInputs(files)
        return try withVerifiedState(for: actor) { state in try addDocuments(files, toCase: caseText, as: actor, state: state, progress: progress) }
    }

    private func addDocuments(_ files: [NewDocument], toCase caseText: String, as actor: UnlockedIdentity, state: LedgerState,
                              progress: ((String, UInt64, UInt64) -> Void)?) throws -> [DocumentSummary] {
        let keys = keyRing(for: actor, state: state)
        let theCase = try state.resolveCase(caseText, keys: keys)
        _ = try state.requireReader(actor, of: state.group(of: theCase), to: "add documents to case \(theCase.id.hex)")
        // The key the documents will be wrapped under opens (and matches its commitment) before any blob is written.
        _ = try currentCaseKey(theCase, keys: keys)
        var written: [[UInt8]] = []
        var encryptedFiles: [(DocumentKey, DocumentMetadata, ObjectID, EncryptedDocument)] = []
        do {
            for file in files {
                let documentID = try ObjectID.random()
                let documentKey = try DocumentKey.random()
                let encrypted: EncryptedDocument
                do {
                    encrypted = try DocumentStream.encrypt(inputPath: file.path, documentID: documentID, version: 1, key: documentKey,
                                                           store: blobs, progress: progress.map { report in { report(file.path, $0, $1) } })
                } catch let error as SystemCallError {
                    throw VaultError(.io, "adding \(file.path) failed: \(error)")
                }
                written.append(encrypted.blobHash)
                let metadata = DocumentMetadata(fileName: (file.path as NSString).lastPathComponent, title: file.title, kind: file.kind,
                                                tags: file.tags, size: encrypted.plaintextSize, commitmentSalt: encrypted.commitmentSalt,
                                                plaintextCommitment: encrypted.plaintextCommitment)
                encryptedFiles.append((documentKey, metadata, documentID, encrypted))
            }
            // The document keys are wrapped inside the transaction, against the ledger as it
            // is then: if a rotation landed since the blobs were written, they are wrapped
            // under a new generation of the case key made under the new epoch (the blobs,
            // encrypted under their own document keys, need no change).
            var records: [DocumentRecord] = []
            let (events, committed) = try appendEvents(as: actor, state: state) { current in
                guard let now = try current.lookupCase(theCase.id) else { throw VaultError(.integrity, "case \(theCase.id.hex) vanished") }
                let keys = keyRing(for: actor, state: current)
                _ = try current.requireReader(actor, of: current.group(of: now), to: "add documents to case \(now.id.hex)")
                var bodies: [EventBody] = []
                let (caseKey, generation, rekey) = try currentCaseKey(now, keys: keys)
                if let rekey { bodies.append(rekey) }
                records = try encryptedFiles.map { documentKey, metadata, documentID, encrypted in
                    DocumentRecord(
                        documentID: documentID, caseID: now.id, version: 1, generation: generation,
                        wrappedKey: try KeyWrap.wrapDocumentKey(documentKey, under: caseKey, caseID: now.id, documentID: documentID,
                                                                version: 1, generation: generation),
                        blobHash: encrypted.blobHash, blobSize: encrypted.blobSize,
                        sealedMetadata: try KeyWrap.sealField(metadata.encoded(), caseKey: caseKey, caseID: now.id, objectID: documentID,
                                                              version: 1, field: "metadata"))
                }
                return bodies + records.map { .documentAdded($0) }
            }
            let added = events.filter { if case .documentAdded = $0.body { return true } else { return false } }
            return zip(added, zip(records, encryptedFiles)).map { event, item in
                DocumentSummary(id: item.0.documentID, caseID: theCase.id, version: 1, blobHash: item.0.blobHash,
                                blobSize: item.0.blobSize, author: actor.fingerprint, authorName: committed.displayName(of: actor.fingerprint),
                                added: Date(timeIntervalSince1970: TimeInterval(event.time)), sequence: event.sequence,
                                metadata: item.1.1, problem: nil)
            }
        } catch {
            // Blobs are durable but no event names them: remove them rather than leave orphans.
            for hash in written { blobs.remove(hash) }
            let reason = (error as? VaultError).map { SafeText("\($0.text)") } ?? "\(error)"
            throw VaultError((error as? VaultError)?.kind ?? .io,
                             files.count > 1 ? "\(reason); none of the \(files.count) files was added" : "\(reason); nothing was recorded",
                             hint: (error as? VaultError)?.hintText)
        }
    }

    /// The key new documents of `theCase` are wrapped under: its current
    /// generation if that was made under the group's current epoch; otherwise a
    /// new generation, returned with the `case.rekey` event that records it
    /// (to be appended in the same transaction, before the documents).
    func currentCaseKey(_ theCase: LedgerState.Case, keys: KeyRing) throws -> (CaseKey, UInt32, EventBody?) {
        let group = try keys.state.group(of: theCase)
        if theCase.epoch == group.epoch {
            return (try keys.caseKey(theCase, to: "add documents to case \(theCase.id.hex)"), theCase.generation, nil)
        }
        let epochKey = try keys.epochKey(in: group, to: "add documents to case \(theCase.id.hex)")
        let caseKey = try CaseKey.random()
        let generation = theCase.generation + 1
        let previous = theCase.generations.last?.commitment ?? KeyCommitment.none
        let body = EventBody.caseRekeyed(
            caseID: theCase.id, groupID: group.id, epoch: group.epoch, generation: generation,
            wrappedKey: try KeyWrap.wrapCaseKey(caseKey, under: epochKey, groupID: group.id, caseID: theCase.id, generation: generation, epoch: group.epoch),
            commitment: try KeyCommitment.caseKey(caseKey, groupID: group.id, caseID: theCase.id, generation: generation, epoch: group.epoch,
                                                  previous: previous))
        return (caseKey, generation, body)
    }

    /// The documents of a case (metadata for readers). A document whose key or
    /// metadata does not open is listed with its problem; the listing goes on.
    public func documents(inCase caseText: String, as actor: UnlockedIdentity?) throws -> [DocumentSummary] {
        try withVerifiedState(for: actor) { state in
            let keys = actor.map { keyRing(for: $0, state: state) }
            let theCase = try state.resolveCase(caseText, keys: keys)
            return try state.documents(of: theCase).map { try documentSummary($0, in: state, keys: keys) }
        }
    }

    /// One document by id or prefix (metadata for readers).
    public func document(_ text: String, as actor: UnlockedIdentity?) throws -> DocumentSummary {
        try withVerifiedState(for: actor) { state in
            try documentSummary(try state.resolveDocument(text), in: state, keys: actor.map { keyRing(for: $0, state: state) })
        }
    }

    /// Checks an export destination before the passphrase is asked (THREATS.md 50).
    public func checkBeforeExporting(_ documentText: String, to path: String, force: Bool) throws {
        let state = try precheckState()
        _ = try state.resolveDocument(documentText)
        _ = try ExportDestination(path: path, force: force)
    }

    /// Decrypts a document to `path`. Readers only. Nothing is left at `path`
    /// unless every check passed; an existing file is replaced only with `force`.
    /// - Parameter allowVisibleTemporary: accept a destination file system without
    ///   `O_TMPFILE`, where an interrupted export could leave partial plaintext.
    public func export(_ documentText: String, to path: String, force: Bool = false, as actor: UnlockedIdentity,
                       allowVisibleTemporary: Bool = false, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> DocumentSummary {
        try withVerifiedState(for: actor) { state in
            try export(documentText, to: path, force: force, as: actor, state: state, allowVisibleTemporary: allowVisibleTemporary, progress: progress)
        }
    }

    private func export(_ documentText: String, to path: String, force: Bool, as actor: UnlockedIdentity, state: LedgerState,
                        allowVisibleTemporary: Bool, progress: ((UInt64, UInt64) -> Void)?) throws -> DocumentSummary {
        let document = try state.resolveDocument(documentText)
        guard let theCase = try state.lookupCase(document.caseID) else { throw VaultError(.integrity, "document names a missing case") }
        let destination = try ExportDestination(path: path, force: force)
        let keys = keyRing(for: actor, state: state)
        _ = try state.requireReader(actor, of: state.group(of: theCase), to: "export documents")
        let (key, metadata, record) = try keys.documentKeyAndMetadata(document, to: "export documents")
        let plaintext: DurableFile?
        let plaintextSHA256: [UInt8]
        do {
            let decrypted = try DocumentStream.decrypt(record: record, metadata: metadata, key: key, store: blobs,
                                                       outputFolder: destination.folder, calls: calls,
                                                       allowVisibleTemporary: allowVisibleTemporary, progress: progress)
            (plaintext, plaintextSHA256) = (decrypted.output, decrypted.plaintextSHA256)
        } catch let error as SystemCallError {
            throw VaultError(.io, "exporting document \(document.documentID.hex) failed, nothing was written: \(error)")
        }
        // The custody record (who was handed the plaintext) commits while the
        // verified plaintext is still an unnamed file: if recording fails, the file
        // is discarded and never appears; the plaintext appears only once recorded.
        try append(as: actor, state: state) { _ in .documentExported(documentID: document.documentID, caseID: theCase.id) }
        do {
            // Replacing plaintext: the old file is unlinked and the new one linked in its
            // place, so that no complete copy ever sits under a temporary name.
            try plaintext?.commit(to: destination.name, replacing: force, atomicReplace: false)
        } catch {
            let reason = (error as? VaultError).map { SafeText("\($0.text)") } ?? "\(error)"
            throw VaultError(.io, "document \(document.documentID.hex): the export was recorded in the ledger, but the file could not be put in place: \(reason)")
        }
        logger.info("document exported", metadata: ["document": "\(document.documentID.hex)"])
        var summary = documentSummary(document, in: state, metadata: metadata, problem: nil)
        summary.exportedSHA256 = plaintextSHA256
        return summary
    }

    func documentSummary(_ document: LedgerState.Document, in state: LedgerState, keys: KeyRing?) throws -> DocumentSummary {
        var metadata: DocumentMetadata?, problem: String?
        if let keys, let theCase = try state.lookupCase(document.caseID), keys.canRead(theCase) {
            do { metadata = try keys.documentKeyAndMetadata(document, to: "read documents").1 } catch let damaged as KeptPageError {
                throw damaged
            } catch {
                problem = (error as? VaultError)?.message ?? "\(error)"
            }
        }
        return documentSummary(document, in: state, metadata: metadata, problem: problem)
    }

    private func documentSummary(_ document: LedgerState.Document, in state: LedgerState, metadata: DocumentMetadata?,
                                 problem: String?) -> DocumentSummary {
        DocumentSummary(id: document.documentID, caseID: document.caseID, version: document.version,
                               blobHash: document.blobHash, blobSize: document.blobSize, author: document.author,
                               authorName: state.displayName(of: document.author),
                               added: Date(timeIntervalSince1970: TimeInterval(document.time)), sequence: document.sequence,
                               metadata: metadata, problem: problem)
    }
}

/// Where an export goes: the destination's folder (opened once) and the file
/// name in it, checked before anything is decrypted.
struct ExportDestination {
    let folder: FolderHandle
    let name: String

    init(path: String, force: Bool) throws {
        guard !path.hasSuffix("/"), !path.isEmpty else {
            throw VaultError(.invalidInput, "the destination \(path) names a folder; give a file name")
        }
        let parent = (path as NSString).deletingLastPathComponent
        name = (path as NSString).lastPathComponent
        guard name != ".", name != ".." else { throw VaultError(.invalidInput, "the destination \(path) names a folder; give a file name") }
        folder = try FolderHandle(path: parent.isEmpty ? "." : parent, followingLink: true, what: "destination folder")
        let existing = folder.entryType(name)
        if existing != .missing && force && !existing.isRegular && existing != .symbolicLink {
            throw VaultError(.invalidInput, "the destination \(path) exists and is \(existing), not a file; --force replaces only files")
        }
        if !force && existing != .missing {  // a dangling symbolic link counts as existing
            throw VaultError(.alreadyExists, "\(path) already exists; refusing to overwrite it", hint: "pass --force to replace it")
        }
    }
}
