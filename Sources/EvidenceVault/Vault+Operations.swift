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
}

/// What `case new/list` report; `reference` and `title` only for readers.
public struct CaseSummary: Sendable {
    public let id: ObjectID
    public let groupName: String
    public let reference: String?
    public let title: String?
    public let author: Fingerprint
    public let created: Date
    public let documentCount: Int
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
        let (_, state) = try append(as: actor) { state in
            guard state.group(named: name) == nil else { throw VaultError(.alreadyExists, "a group named \"\(name)\" already exists") }
            return .groupCreated(groupID: groupID, name: name, epoch: 1, custodianWrap: wrap)
        }
        return try summary(of: state.requireGroup(named: name), in: state)
    }

    /// Admits a member (custodians only). Lawyers and custodians receive the
    /// current epoch key, sealed to the X25519 key of the public identity given;
    /// auditors receive nothing.
    public func addMember(_ member: PublicIdentity, role: Role, toGroup groupName: String, as actor: UnlockedIdentity) throws {
        try append(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            try state.requireCustodian(actor, of: group, to: "admit members")
            guard group.members[member.fingerprint] == nil else {
                throw VaultError(.alreadyExists, "\(member.name) (\(member.fingerprint.readable)) is already a member of \(group.name)")
            }
            var wrap: [UInt8] = []
            if role.canRead {
                let epochKey = try state.epochKey(for: actor, in: group, to: "admit members")
                wrap = try KeyWrap.sealEpochKey(epochKey, groupID: group.id, epoch: group.epoch, to: member.encryptionKey)
            }
            return .memberAdded(groupID: group.id, member: member, role: role, epoch: group.epoch, wrap: wrap)
        }
    }

    /// Every group, with members.
    public func groups() throws -> [GroupSummary] {
        let state = try replay()
        return state.groups.values.sorted { $0.sequence < $1.sequence }.map { summary(of: $0, in: state) }
    }

    /// One group by name or id.
    public func group(_ name: String) throws -> GroupSummary {
        let state = try replay()
        return summary(of: try state.requireGroup(named: name), in: state)
    }

    func summary(of group: LedgerState.Group, in state: LedgerState) -> GroupSummary {
        GroupSummary(id: group.id, name: group.name, epoch: group.epoch,
                     members: group.members.values.sorted { $0.sequence < $1.sequence }.map {
                         .init(name: $0.identity.name, fingerprint: $0.identity.fingerprint, role: $0.role, epoch: $0.epoch,
                               addedBy: $0.addedBy, sequence: $0.sequence)
                     },
                     caseCount: state.cases.values.filter { $0.groupID == group.id }.count)
    }

    // MARK: cases

    /// Opens a case in a group: a random case key wrapped under the epoch key; reference and title sealed.
    public func createCase(inGroup groupName: String, reference: String, title: String = "", as actor: UnlockedIdentity) throws -> CaseSummary {
        guard !reference.isEmpty, reference.utf8.count <= 1024, title.utf8.count <= 4096 else {
            throw VaultError(.invalidInput, "a case reference is 1 to 1024 bytes and a title at most 4096")
        }
        let caseID = try ObjectID.random()
        let caseKey = try CaseKey.random()
        let (_, state) = try append(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            let epochKey = try state.epochKey(for: actor, in: group, to: "open cases in it")
            let lowered = reference.lowercased()
            let looksLikeID = lowered.count >= 4 && lowered.allSatisfy(\.isHexDigit)
                && state.cases.keys.contains { $0.hex.hasPrefix(lowered) }
            if looksLikeID {
                throw VaultError(.invalidInput, "this case reference is also the start of an existing case id; choose another reference")
            }
            if !state.cases(withReference: reference, readableBy: actor).isEmpty {
                throw VaultError(.alreadyExists, "a case with this reference already exists in a group you can read")
            }
            return .caseCreated(
                caseID: caseID, groupID: group.id, epoch: group.epoch, generation: 1,
                wrappedKey: try KeyWrap.wrapCaseKey(caseKey, under: epochKey, groupID: group.id, caseID: caseID, generation: 1, epoch: group.epoch),
                sealedReference: try KeyWrap.sealField(Array(reference.utf8), caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "reference"),
                sealedTitle: try KeyWrap.sealField(Array(title.utf8), caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "title"))
        }
        guard let created = state.cases[caseID] else { throw VaultError(.io, "case \(caseID.hex) was not recorded") }
        return try caseSummary(created, in: state, actor: actor)
    }

    /// Cases, optionally of one group; references and titles where the actor can read them.
    public func cases(inGroup groupName: String? = nil, as actor: UnlockedIdentity?) throws -> [CaseSummary] {
        let state = try replay()
        let groupID = try groupName.map { try state.requireGroup(named: $0).id }
        let keys = actor.map { KeyRing(actor: $0, state: state) }
        let counts = Dictionary(grouping: state.documents.values, by: \.record.caseID).mapValues(\.count)
        return try state.cases.values.filter { groupID == nil || $0.groupID == groupID }
            .sorted { $0.sequence < $1.sequence }
            .map { try caseSummary($0, in: state, keys: keys, documentCount: counts[$0.id] ?? 0) }
    }

    func caseSummary(_ theCase: LedgerState.Case, in state: LedgerState, actor: UnlockedIdentity?) throws -> CaseSummary {
        try caseSummary(theCase, in: state, keys: actor.map { KeyRing(actor: $0, state: state) },
                        documentCount: state.documents.values.filter { $0.record.caseID == theCase.id }.count)
    }

    private func caseSummary(_ theCase: LedgerState.Case, in state: LedgerState, keys: KeyRing?, documentCount: Int) throws -> CaseSummary {
        var reference: String?, title: String?
        if let keys, keys.canRead(theCase) {
            let key = try keys.caseKey(theCase, to: "read cases")
            reference = try openText(theCase.sealedReference, key: key, caseID: theCase.id, field: "reference")
            title = try openText(theCase.sealedTitle, key: key, caseID: theCase.id, field: "title")
        }
        return CaseSummary(id: theCase.id, groupName: state.groups[theCase.groupID]?.name ?? "?", reference: reference, title: title,
                           author: theCase.author, created: Date(timeIntervalSince1970: TimeInterval(theCase.time)),
                           documentCount: documentCount)
    }

    private func openText(_ box: [UInt8], key: CaseKey, caseID: ObjectID, field: String) throws -> String {
        let bytes = try KeyWrap.openField(box, caseKey: key, caseID: caseID, objectID: caseID, version: 1, field: field)
        return String(decoding: bytes.unprotectedCopy(), as: UTF8.self)
    }

    // MARK: documents

    /// Encrypts each file into a blob (durable before anything else), then
    /// records it with one signed event per document. Lawyers and custodians of
    /// the case's group only.
    public func addDocuments(_ files: [NewDocument], toCase caseText: String, as actor: UnlockedIdentity,
                             progress: ((String, UInt64, UInt64) -> Void)? = nil) throws -> [DocumentSummary] {
        var state = try replay()
        let theCase = try state.resolveCase(caseText, actor: actor)
        let caseKey = try state.caseKey(for: actor, theCase, to: "add documents to case \(theCase.id.hex)")
        var added: [DocumentSummary] = []
        for file in files {
            try DocumentMetadata.validate(fileName: file.path, title: file.title, tags: file.tags)
            let documentID = try ObjectID.random()
            let documentKey = try DocumentKey.random()
            let encrypted: EncryptedDocument
            do {
                encrypted = try DocumentStream.encrypt(inputPath: file.path, documentID: documentID, version: 1, key: documentKey,
                                                       store: blobs, progress: progress.map { report in { report(file.path, $0, $1) } })
            } catch let error as SystemCallError {
                throw VaultError(.io, "adding \(file.path) failed, nothing was recorded: \(error)")
            }
            let metadata = DocumentMetadata(fileName: (file.path as NSString).lastPathComponent, title: file.title, kind: file.kind,
                                            tags: file.tags, size: encrypted.plaintextSize, commitmentSalt: encrypted.commitmentSalt,
                                            plaintextCommitment: encrypted.plaintextCommitment)
            let record = DocumentRecord(
                documentID: documentID, caseID: theCase.id, version: 1, generation: theCase.generation,
                wrappedKey: try KeyWrap.wrapDocumentKey(documentKey, under: caseKey, caseID: theCase.id, documentID: documentID,
                                                        version: 1, generation: theCase.generation),
                blobHash: encrypted.blobHash, blobSize: encrypted.blobSize,
                sealedMetadata: try KeyWrap.sealField(metadata.encoded(), caseKey: caseKey, caseID: theCase.id, objectID: documentID,
                                                      version: 1, field: "metadata"))
            let event: Event, newState: LedgerState
            do {
                (event, newState) = try append(as: actor, state: state) { _ in .documentAdded(record) }
            } catch {
                // The blob is durable but no event names it: remove it rather than leave an orphan.
                blobs.remove(encrypted.blobHash)
                throw error
            }
            state = newState
            added.append(DocumentSummary(id: documentID, caseID: theCase.id, version: 1, blobHash: encrypted.blobHash,
                                         blobSize: encrypted.blobSize, author: actor.fingerprint, authorName: actor.publicIdentity.name,
                                         added: Date(timeIntervalSince1970: TimeInterval(event.time)), sequence: event.sequence,
                                         metadata: metadata))
        }
        return added
    }

    /// The documents of a case (metadata for readers).
    public func documents(inCase caseText: String, as actor: UnlockedIdentity?) throws -> [DocumentSummary] {
        let state = try replay()
        let theCase = try state.resolveCase(caseText, actor: actor)
        let keys = actor.map { KeyRing(actor: $0, state: state) }
        return try state.documents.values.filter { $0.record.caseID == theCase.id }
            .sorted { $0.sequence < $1.sequence }
            .map { try documentSummary($0, in: state, keys: keys) }
    }

    /// One document by id or prefix (metadata for readers).
    public func document(_ text: String, as actor: UnlockedIdentity?) throws -> DocumentSummary {
        let state = try replay()
        return try documentSummary(state.resolveDocument(text), in: state, actor: actor)
    }

    /// Decrypts a document to `path`. Readers only. Nothing is left at `path`
    /// unless every check passed; an existing file is replaced only with `force`.
    /// - Parameter allowVisibleTemporary: accept a destination file system without
    ///   `O_TMPFILE`, where an interrupted export could leave partial plaintext.
    public func export(_ documentText: String, to path: String, force: Bool = false, as actor: UnlockedIdentity,
                       allowVisibleTemporary: Bool = false, progress: ((UInt64, UInt64) -> Void)? = nil) throws -> DocumentSummary {
        let state = try replay()
        let document = try state.resolveDocument(documentText)
        guard let theCase = state.cases[document.record.caseID] else { throw VaultError(.integrity, "document names a missing case") }
        guard !path.hasSuffix("/"), !path.isEmpty else {
            throw VaultError(.invalidInput, "the destination \(path) names a folder; give a file name")
        }
        let parent = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        guard name != ".", name != ".." else { throw VaultError(.invalidInput, "the destination \(path) names a folder; give a file name") }
        let destination = try FolderHandle(path: parent.isEmpty ? "." : parent, followingLink: true, what: "destination folder")
        let existing = destination.entryType(name)
        if existing != .missing && force && !existing.isRegular && existing != .symbolicLink {
            throw VaultError(.invalidInput, "the destination \(path) exists and is \(existing), not a file; --force replaces only files")
        }
        if !force && existing != .missing {  // a dangling symbolic link counts as existing
            throw VaultError(.alreadyExists, "\(path) already exists; refusing to overwrite it", hint: "pass --force to replace it")
        }
        let (key, metadata) = try documentKeyAndMetadata(document, theCase: theCase, in: state, actor: actor, action: "export documents")
        let plaintext: DurableFile?
        do {
            plaintext = try DocumentStream.decrypt(record: document.record, metadata: metadata, key: key, store: blobs,
                                                   outputFolder: destination, calls: calls,
                                                   allowVisibleTemporary: allowVisibleTemporary, progress: progress)
        } catch let error as SystemCallError {
            throw VaultError(.io, "exporting document \(document.record.documentID.hex) failed, nothing was written: \(error)")
        }
        // The custody record (who was handed the plaintext) commits while the
        // verified plaintext is still an unnamed file: if recording fails, the file
        // is discarded and never appears; the plaintext appears only once recorded.
        try append(as: actor, state: state) { _ in .documentExported(documentID: document.record.documentID, caseID: theCase.id) }
        do {
            // Replacing plaintext: the old file is unlinked and the new one linked in its
            // place, so that no complete copy ever sits under a temporary name.
            try plaintext?.commit(to: name, replacing: force, atomicReplace: false)
        } catch {
            let reason = (error as? VaultError)?.message ?? "\(error)"
            throw VaultError(.io, "document \(document.record.documentID.hex): the export was recorded in the ledger, but the file could not be put in place: \(reason)")
        }
        logger.info("document exported", metadata: ["document": "\(document.record.documentID.hex)"])
        return try documentSummary(document, in: state, actor: actor)
    }

    func documentKeyAndMetadata(_ document: LedgerState.Document, theCase: LedgerState.Case, in state: LedgerState,
                                actor: UnlockedIdentity, action: String) throws -> (DocumentKey, DocumentMetadata) {
        try documentKeyAndMetadata(document, theCase: theCase, keys: KeyRing(actor: actor, state: state), action: action)
    }

    func documentKeyAndMetadata(_ document: LedgerState.Document, theCase: LedgerState.Case, keys: KeyRing,
                                action: String) throws -> (DocumentKey, DocumentMetadata) {
        let record = document.record
        let caseKey = try keys.caseKey(theCase, to: action)
        do {
            let key = try KeyWrap.unwrapDocumentKey(record.wrappedKey, under: caseKey, caseID: theCase.id, documentID: record.documentID,
                                                    version: record.version, generation: record.generation)
            let sealed = try KeyWrap.openField(record.sealedMetadata, caseKey: caseKey, caseID: theCase.id, objectID: record.documentID,
                                               version: record.version, field: "metadata")
            let metadata = try DocumentMetadata.decode(sealed.unprotectedCopy(), structure: "metadata of document \(record.documentID.hex)")
            return (key, metadata)
        } catch let error as VaultError {
            throw error
        } catch {
            throw VaultError(.authenticationFailed, "document \(record.documentID.hex): \(error)")
        }
    }

    func documentSummary(_ document: LedgerState.Document, in state: LedgerState, actor: UnlockedIdentity?) throws -> DocumentSummary {
        try documentSummary(document, in: state, keys: actor.map { KeyRing(actor: $0, state: state) })
    }

    private func documentSummary(_ document: LedgerState.Document, in state: LedgerState, keys: KeyRing?) throws -> DocumentSummary {
        var metadata: DocumentMetadata?
        if let keys, let theCase = state.cases[document.record.caseID], keys.canRead(theCase) {
            metadata = try documentKeyAndMetadata(document, theCase: theCase, keys: keys, action: "read documents").1
        }
        return DocumentSummary(id: document.record.documentID, caseID: document.record.caseID, version: document.record.version,
                               blobHash: document.record.blobHash, blobSize: document.record.blobSize, author: document.author,
                               authorName: state.identities[document.author]?.name ?? "?",
                               added: Date(timeIntervalSince1970: TimeInterval(document.time)), sequence: document.sequence,
                               metadata: metadata)
    }
}
