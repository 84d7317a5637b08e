import Foundation
import GRDB
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// One identity's verified copy of one vault's ledger state, kept on this
/// machine beside its remembered heads (outside the vault folder), so that a
/// command replays only the events after it instead of the whole history.
///
/// Authenticated, not trusted: a root and pages in one SQLite file (`KeptStore`,
/// Docs/FORMAT.md §11); the root carries a tag, keyed BLAKE2b under a key
/// derived from the identity's secret X25519 key, over a label, the identity's
/// fingerprint and the root's bytes, and names every page by its SHA-256.
/// Whoever can write the state folder or the vault folder but lacks the
/// identity cannot make a state this check accepts; a file that fails it is
/// never used (the state is rebuilt from the verified ledger and the failure
/// reported, THREATS.md 61). A kept state from before a rollback of the vault
/// is refused by the same anchor as a full replay (`KnownVaults`), and one the
/// ledger no longer holds the head of is dropped.
///
/// It holds public values only (what the ledger holds), never a key or plaintext.
struct KeptState {
    /// Why a kept state was not used.
    enum Outcome: Equatable, Sendable {
        /// None yet (first use by this identity on this machine).
        case absent
        /// Used: only events after `count` were replayed.
        case used(count: UInt64)
        /// Refused: its tag, encoding or head did not check; the ledger was replayed in full.
        case rejected(String)
    }

    static let label = Array("evidencevault/kept-state/v1".utf8) + [0]
    static let tagLength = 32

    let path: String
    /// The vault (hex id) this machine knows at the folder: a kept state of another vault is refused.
    let vaultID: String
    private let key: SymmetricKey
    private let owner: Fingerprint

    /// The kept state of `vaultID` for `actor`, in `stateFolder`.
    init(stateFolder: String, vaultID: String, actor: UnlockedIdentity) throws {
        path = "\(stateFolder)/kept/\(vaultID).\(actor.fingerprint.hex).sqlite"
        self.vaultID = vaultID
        key = try actor.keptStateKey()
        owner = actor.fingerprint
    }

    /// Reads and authenticates the kept root; `.absent` when there is none.
    /// The state it returns reads its documents, blob names and event hashes
    /// from the kept pages when asked (`KeptPages`).
    func load(attempt: Int = 0) -> (LedgerState?, Outcome) {
        let store: KeptStore
        let root: (tag: [UInt8], bytes: [UInt8])
        do {
            try Self.requireOwnFolder((path as NSString).deletingLastPathComponent)
            guard let opened = try KeptStore.openForReading(path) else { return (nil, .absent) }
            guard let found = try opened.root() else { return (nil, .rejected("has no root, or one that is not a BLOB of at most \(KeptStore.maxRecordLength >> 20) MiB")) }
            store = opened
            root = found
        } catch {
            return (nil, .rejected("cannot be read: \(error)"))
        }
        guard root.tag.count == Self.tagLength, let expected = try? tag(root.bytes), ConstantTime.equal(expected, root.tag) else {
            return (nil, .rejected("fails its authentication check (altered, or not written by this identity)"))
        }
        // Authentic, but of an older layout: rebuilt, and nothing to warn about.
        if root.bytes.count > 5, root.bytes[5] != KeptStateCoding.version { return (nil, .absent) }
        do {
            let decoded = try KeptStateCoding.decodeRoot(root.bytes)
            var state = decoded.state
            guard state.vaultID?.hex == vaultID else { return (nil, .rejected("is the state of another vault")) }
            state.kept = KeptPages(store: store, rootBytes: root.bytes, count: state.count, table: decoded.table)
            return (state, .used(count: state.count))
        } catch let superseded as KeptPageError where superseded.superseded && attempt < 3 {
            // Another process saved twice while this root was read: read its new root.
            return load(attempt: attempt + 1)
        } catch {
            return (nil, .rejected("does not decode: \(error)"))
        }
    }

    /// Keeps `state`: writes the pages that changed since the kept state it was
    /// loaded from (every page, for a state replayed from genesis) and a new root.
    /// `caseFields` reads a case's sealed fields from its verified event (for
    /// cases the kept state does not have yet).
    func save(_ state: LedgerState, caseFields: (LedgerState.Case) throws -> SealedFields.CaseFields) throws {
        try Self.requireOwnFolder((path as NSString).deletingLastPathComponent)
        var pages: [[UInt8]: [UInt8]] = [:]
        func page(_ bytes: [UInt8]) -> [UInt8] {
            let hash = SHA256Stream.hash(bytes)
            pages[hash] = bytes
            return hash
        }
        let kept = state.kept
        let buckets = 0..<KeptPages.bucketCount
        func bucket(of id: ObjectID) -> Int { Int(id.rawValue[0]) }

        // One page per case whose documents or events changed (every case, from genesis).
        let changedCases = kept == nil ? Set(state.casesInMemory.keys)
            : Set(state.documents.values.map(\.caseID)).union(state.caseDocuments.keys).union(state.caseEvents.keys)
        var changedEntries: [ObjectID: KeptPages.KeptCase] = [:]
        var droppedCasePages: [[UInt8]] = []
        for caseID in changedCases {
            guard let theCase = try state.lookupCase(caseID) else { throw VaultError(.integrity, "case \(caseID.hex) is named but does not exist") }
            let content = KeptStateCoding.CasePage(documents: try state.documents(inCase: caseID), events: try state.events(inCase: caseID))
            let entry = KeptPages.CaseEntry(documentCount: content.documents.count,
                                            page: content.events.isEmpty ? KeptStateCoding.emptyHash : page(KeptStateCoding.encodeCasePage(content)))
            changedEntries[caseID] = KeptPages.KeptCase(theCase: theCase, entry: entry)
            if let old = try kept?.caseEntry(caseID) { droppedCasePages.append(old.page) }
        }

        // The case buckets holding a changed case (the others are kept as they are).
        var caseBuckets = kept?.table.caseBuckets ?? Array(repeating: [], count: KeptPages.bucketCount)
        var caseFieldBuckets = kept?.table.caseFieldBuckets ?? Array(repeating: [], count: KeptPages.bucketCount)
        let changedByBucket = Dictionary(grouping: changedEntries.values) { bucket(of: $0.theCase.id) }
        var newBuckets: [Int: [ObjectID: KeptPages.KeptCase]] = [:]
        for index in kept == nil ? Set(buckets) : Set(changedByBucket.keys) {
            var entries = try kept?.caseBucket(index) ?? [:]
            for changed in changedByBucket[index] ?? [] { entries[changed.theCase.id] = changed }
            newBuckets[index] = entries
            caseBuckets[index] = page(KeptStateCoding.encodeCaseBucket(entries.values.map { ($0.theCase, $0.entry) }))
        }
        // The field buckets that gained a case (a new case is a changed one: its `case.create` names it).
        var newCasesByBucket: [Int: [LedgerState.Case]] = [:]
        for changed in changedEntries.values where try kept?.caseEntry(changed.theCase.id) == nil {
            newCasesByBucket[bucket(of: changed.theCase.id), default: []].append(changed.theCase)
        }
        for index in kept == nil ? Set(buckets) : Set(newCasesByBucket.keys) {
            var entries = try kept?.caseFieldBucket(index) ?? [:]
            for theCase in newCasesByBucket[index] ?? [] { entries[theCase.id] = try caseFields(theCase) }
            caseFieldBuckets[index] = page(KeptStateCoding.encodeCaseFieldBucket(entries))
        }

        // The buckets that gained document ids or blob names, and their directories.
        let newDocuments = state.caseDocuments.flatMap { caseID, ids in ids.map { ($0, caseID) } }
        let documentsByBucket = Dictionary(grouping: newDocuments) { KeptPages.bucket(of: $0.0.rawValue) }
        let namesByBucket = Dictionary(grouping: state.blobNames.compactMap { Hex.decode($0) }.filter { $0.count == 32 }) { KeptPages.bucket(of: $0) }
        var documentPages: [Int: [UInt8]] = [:]
        for (index, added) in documentsByBucket {
            var entries = try kept?.documentBucket(index) ?? [:]
            for (documentID, caseID) in added { entries[documentID] = caseID }
            documentPages[index] = page(KeptStateCoding.encodeDocumentBucket(entries))
        }
        var blobPages: [Int: [UInt8]] = [:]
        for (index, added) in namesByBucket {
            blobPages[index] = page(KeptStateCoding.encodeBlobBucket((try kept?.blobBucket(index) ?? KeptStateCoding.BlobNames([])).adding(added)))
        }
        let documents = try Self.updateDirectories(kind: .documentBucket, old: kept?.table.documentDirectories, buckets: documentPages,
                                                   oldDirectory: { try kept?.documentDirectory($0) }, page: page)
        let blobs = try Self.updateDirectories(kind: .blobBucket, old: kept?.table.blobDirectories, buckets: blobPages,
                                               oldDirectory: { try kept?.blobDirectory($0) }, page: page)

        // Event hashes from the first page that changed.
        var hashPages = kept?.hashPages ?? []
        let perPage = KeptPages.hashesPerPage
        let firstChanged = Int(kept?.count ?? 0) / perPage
        hashPages.removeSubrange(min(firstChanged, hashPages.count)...)
        var index = firstChanged
        while UInt64(index * perPage) < state.count {
            let range = UInt64(index * perPage)..<min(state.count, UInt64((index + 1) * perPage))
            hashPages.append(page(KeptStateCoding.encodeHashPage(ArraySlice(try range.map { try state.eventHash(at: $0) }))))
            index += 1
        }

        let table = KeptStateCoding.PageTable(hashPages: hashPages, documentDirectories: documents.directories, blobDirectories: blobs.directories,
                                              caseBuckets: caseBuckets, caseFieldBuckets: caseFieldBuckets)
        let root = KeptStateCoding.encodeRoot(state, table: table)
        // Pages the new root names that the old one may also have named: the
        // table, and the pages of the changed cases (the page of a case nobody
        // changed names that case's events, so no other slot holds it).
        let named = KeptStateCoding.tablePageHashes(table).union(changedEntries.values.map(\.entry.page))
            .union(documents.named).union(blobs.named)
        let replacing = kept.map { kept in
            (kept.rootBytes, KeptStateCoding.tablePageHashes(kept.table).union(droppedCasePages).union(documents.dropped).union(blobs.dropped)
                .subtracting(named))
        }
        // Every page the new root names, case pages included: needed only when
        // another process saved meanwhile (every case bucket is read then).
        let everyPage = { () throws -> Set<[UInt8]> in
            var all = named
            for index in buckets {
                let entries = try newBuckets[index] ?? kept?.caseBucket(index) ?? [:]
                all.formUnion(entries.values.map(\.entry.page))
                all.formUnion(try documents.changed[index] ?? kept?.documentDirectory(index) ?? [])
                all.formUnion(try blobs.changed[index] ?? kept?.blobDirectory(index) ?? [])
            }
            return all
        }
        try KeptStore.save(at: path, tag: try tag(root), root: root, pages: pages, referenced: everyPage, complete: kept == nil,
                           replacing: replacing)
    }

    /// What a save changed in one kind of two-level buckets (document ids or blob names).
    struct DirectoryUpdate {
        /// The 256 directory hashes of the new root.
        var directories: [[UInt8]]
        /// The bucket hashes of each directory that changed.
        var changed: [Int: [[UInt8]]] = [:]
        /// Bucket pages the new root names in place of `dropped`.
        var named: Set<[UInt8]> = []
        var dropped: Set<[UInt8]> = []
    }

    /// Puts rewritten buckets (`buckets`: bucket index → page hash) into their
    /// directories, and writes each directory that changed (`page`). A directory
    /// of empty buckets is named by `emptyHash`, with no page.
    static func updateDirectories(kind: KeptStateCoding.PageKind, old: [[UInt8]]?, buckets: [Int: [UInt8]],
                                  oldDirectory: (Int) throws -> [[UInt8]]?, page: ([UInt8]) -> [UInt8]) throws -> DirectoryUpdate {
        let empty = KeptStateCoding.emptyHash
        var update = DirectoryUpdate(directories: old ?? Array(repeating: empty, count: KeptPages.bucketCount))
        for (first, inDirectory) in Dictionary(grouping: buckets, by: { $0.key >> 8 }) {
            var hashes = try oldDirectory(first) ?? Array(repeating: empty, count: KeptPages.bucketCount)
            for (index, hash) in inDirectory {
                update.dropped.insert(hashes[index & 0xff])
                hashes[index & 0xff] = hash
                update.named.insert(hash)
            }
            update.changed[first] = hashes
            update.directories[first] = hashes.allSatisfy { $0 == empty } ? empty
                : page(KeptStateCoding.encodeDirectory(hashes, of: kind, first: first))
        }
        update.dropped.subtract(update.named)
        update.dropped.remove(empty)
        return update
    }

    /// Removes the kept store (after one of its pages failed its check): the next command rebuilds it.
    func discard() {
        KeptStore.remove(path)
    }

    /// Makes `kept/` if need be, and requires it to be a folder (not a link) of this
    /// user's, closed to others (mode 0700, set if it was wider).
    static func requireOwnFolder(_ folder: String) throws {
        var info = stat()
        if lstat(folder, &info) != 0 {
            guard mkdir(folder, 0o700) == 0 || errno == EEXIST else { throw SystemCallError(function: "mkdir", path: folder, errno: errno) }
            guard lstat(folder, &info) == 0 else { throw SystemCallError(function: "lstat", path: folder, errno: errno) }
        }
        guard info.st_mode & S_IFMT == S_IFDIR, info.st_uid == getuid() else {
            throw VaultError(.integrity, "\(folder) is not a folder of this user's (a link, a file, or another user's): the kept ledger state is not used")
        }
        if info.st_mode & 0o077 != 0 { _ = chmod(folder, 0o700) }
    }

    private func tag(_ body: [UInt8]) throws -> [UInt8] {
        try KeyedHash.blake2b(Self.label + owner.rawValue + body, key: key.bytes, outputLength: Self.tagLength)
    }

    /// Whether the ledger in `db` still holds `state`'s head: the event at its
    /// last sequence number hashes to its head hash (the stored bytes are hashed,
    /// not the hash column).
    static func ledgerHoldsHead(of state: LedgerState, _ db: Database) throws -> Bool {
        guard state.count > 0 else { return true }
        let stored = try Data.fetchOne(db, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(state.count - 1)])
        return stored.map { SHA256Stream.hash($0) } == state.headHash
    }
}

extension UnlockedIdentity {
    /// The key that authenticates this identity's kept states on this machine:
    /// `crypto_kdf_derive_from_key(subkey 1, context "EVkeptst")` keyed with the
    /// identity's X25519 secret key (Docs/FORMAT.md §11).
    func keptStateKey() throws -> SymmetricKey {
        try SymmetricKey(bytes: encryption.secretKey).derive(subkeyID: 1, context: "EVkeptst")
    }
}
