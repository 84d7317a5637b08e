import VaultCrypto

/// The byte encodings of a kept ledger state (Docs/FORMAT.md §11): the root,
/// which holds identities, groups, commitments and the page table, and the
/// pages (one per case with its documents, 256 buckets each of cases, cases'
/// sealed fields, document ids and blob names, event hashes 4096 to a page),
/// each named in the root by its SHA-256. Deterministic: maps are written sorted by key.
///
/// The decoder trusts what it reads only because `KeptState` checked the root's
/// tag and `KeptPages` each page's hash first; it still checks every length,
/// count and key, so damage is an error, never a trap.
enum KeptStateCoding {
    /// Version 4 of the root (version 1 kept the whole state in one body,
    /// version 2 every case in the root, version 3 document ids and blob names
    /// in 256 buckets each; an older file is rebuilt, not read).
    static let version: UInt8 = 4
    /// Most entries of any one list (identities, members, cases, documents, hashes).
    static let maxCount = 1 << 26

    /// The page kinds (first byte of every page).
    enum PageKind: UInt8 {
        case documentsOfCase = 1, documentBucket = 2, blobBucket = 3, eventHashes = 4, caseBucket = 5, caseFieldBucket = 6, directory = 7
    }

    /// The page table of a root: the SHA-256 of every page.
    struct PageTable {
        var hashPages: [[UInt8]]
        /// 256 directories of document buckets (by the ids' first byte), each naming 256 buckets (by the second).
        var documentDirectories: [[UInt8]]
        /// 256 directories of blob-name buckets, likewise.
        var blobDirectories: [[UInt8]]
        var caseBuckets: [[UInt8]]
        var caseFieldBuckets: [[UInt8]]
    }

    /// A decoded root: the state's core (no cases, documents, blob names or
    /// event hashes in memory) and where its pages are.
    struct Root {
        var state: LedgerState
        var table: PageTable
    }

    /// Every page a root names itself (the case pages are named by its case buckets).
    static func tablePageHashes(_ table: PageTable) -> Set<[UInt8]> {
        Set(table.hashPages + table.documentDirectories + table.blobDirectories + table.caseBuckets + table.caseFieldBuckets)
    }

    // MARK: - Root

    static func encodeRoot(_ state: LedgerState, table: PageTable) -> [UInt8] {
        var w = ByteWriter()
        w.header(.keptState, version: version)
        w.u64(state.count)
        w.raw(state.headHash)
        w.raw(state.genesisHash ?? [UInt8](repeating: 0, count: 32))
        if let vaultID = state.vaultID, let creator = state.creator {
            w.u8(1); w.id(vaultID); w.fingerprint(creator)
        } else {
            w.u8(0)
        }
        w.u8(state.highestVersion)
        w.u8(state.creatorRevoked ? 1 : 0)

        let identities = state.identities.values.sorted { $0.fingerprint < $1.fingerprint }
        w.u32(UInt32(identities.count))
        for identity in identities { w.bytes16(identity.encoded()) }

        let groups = state.groups.values.sorted { $0.id < $1.id }
        w.u32(UInt32(groups.count))
        for group in groups { encode(group, into: &w) }

        let superseded = state.supersededBlobs.sorted { $0.key < $1.key }
        w.u32(UInt32(superseded.count))
        for (name, sequence) in superseded { w.string8(name); w.u64(sequence) }

        let commitments = state.commitments.sorted { $0.lexicographicallyPrecedes($1) }
        w.u32(UInt32(commitments.count))
        for commitment in commitments { w.raw(commitment) }

        w.u32(UInt32(table.hashPages.count))
        for hash in table.hashPages { w.raw(hash) }
        for hash in table.documentDirectories + table.blobDirectories + table.caseBuckets + table.caseFieldBuckets { w.raw(hash) }
        return w.bytes
    }

    /// Decodes a root into a state with no cases, documents, blob names or
    /// event hashes in memory (they stay in the pages), and the page table.
    static func decodeRoot(_ bytes: [UInt8]) throws -> Root {
        var r = ByteReader(bytes, structure: "kept ledger state")
        _ = try r.header(expecting: .keptState, supportedVersions: version...version)
        var state = LedgerState()
        let count = try r.u64("event count")
        let head = try r.raw(32, "head hash")
        let genesis = try r.raw(32, "genesis hash")
        state.restoreHashes(count: count, head: head, genesis: count > 0 ? genesis : nil)
        switch try r.u8("vault flag") {
        case 0: break
        case 1:
            state.vaultID = try r.id("vault id")
            state.creator = try r.fingerprint("creator")
        default: throw FormatError.invalidField(structure: r.structure, field: "vault flag", reason: "not 0 or 1")
        }
        state.highestVersion = try r.u8("highest version")
        state.creatorRevoked = try flag(&r, "creator revoked")

        for _ in 0..<(try counted(&r, "identities")) {
            let identity = try PublicIdentity.decode(try r.bytes16("identity", max: 4096), structure: "kept identity",
                                                     checkingSelfSignature: false)
            state.admit(identity)
        }
        for _ in 0..<(try counted(&r, "groups")) {
            let group = try decodeGroup(&r, identities: state.identities)
            guard state.groups.updateValue(group, forKey: group.id) == nil else { throw duplicate(r, "group") }
            state.groupIDsByName[group.name] = group.id
        }
        for _ in 0..<(try counted(&r, "superseded blobs")) {
            let name = try r.string8("superseded blob")
            state.supersededBlobs[name] = try r.u64("superseded at")
        }
        for _ in 0..<(try counted(&r, "commitments")) {
            state.commitments.insert(try r.raw(32, "commitment"))
        }
        let hashPageCount = try counted(&r, "event hash pages")
        guard hashPageCount == (Int(count) + KeptPages.hashesPerPage - 1) / KeptPages.hashesPerPage else {
            throw FormatError.invalidField(structure: r.structure, field: "event hash pages", reason: "do not cover \(count) events")
        }
        let hashPages = try (0..<hashPageCount).map { _ in try r.raw(32, "event hash page") }
        func buckets(_ name: String) throws -> [[UInt8]] { try (0..<KeptPages.bucketCount).map { _ in try r.raw(32, name) } }
        let table = PageTable(hashPages: hashPages, documentDirectories: try buckets("document directory"), blobDirectories: try buckets("blob directory"),
                              caseBuckets: try buckets("case bucket"), caseFieldBuckets: try buckets("case field bucket"))
        try r.expectEnd()
        return Root(state: state, table: table)
    }

    /// The SHA-256 of the empty byte string, named for a case with no documents (no page).
    static let emptyHash = SHA256Stream.hash([UInt8]())

    // MARK: - Pages

    /// What a case's page holds: its documents and the events that name it.
    struct CasePage: Sendable {
        let documents: [LedgerState.Document]
        let events: [UInt64]
    }

    static func encodeCasePage(_ page: CasePage) -> [UInt8] {
        var w = ByteWriter()
        w.u8(PageKind.documentsOfCase.rawValue)
        w.u32(UInt32(page.documents.count))
        for document in page.documents { encode(document, into: &w) }
        w.u32(UInt32(page.events.count))
        for sequence in page.events { w.u64(sequence) }
        return w.bytes
    }

    static func decodeCasePage(_ bytes: [UInt8], caseID: ObjectID) throws -> CasePage {
        var r = try page(bytes, .documentsOfCase, "documents of case \(caseID.hex)")
        let documents = try (0..<(try counted(&r, "documents"))).map { _ in try decodeDocument(&r, caseID: caseID) }
        let events = try (0..<(try counted(&r, "events"))).map { _ in try r.u64("event") }
        guard zip(events, events.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw FormatError.invalidField(structure: r.structure, field: "events", reason: "not in ledger order")
        }
        try r.expectEnd()
        return CasePage(documents: documents, events: events)
    }

    static func encodeDocumentBucket(_ entries: [ObjectID: ObjectID]) -> [UInt8] {
        var w = ByteWriter()
        w.u8(PageKind.documentBucket.rawValue)
        w.u32(UInt32(entries.count))
        for (documentID, caseID) in entries.sorted(by: { $0.key < $1.key }) { w.id(documentID); w.id(caseID) }
        return w.bytes
    }

    /// Decodes the document bucket of the ids whose first two bytes are `bucket` (0 to 65,535).
    static func decodeDocumentBucket(_ bytes: [UInt8], bucket: Int) throws -> [ObjectID: ObjectID] {
        var r = try page(bytes, .documentBucket, "document bucket \(bucket)")
        var entries: [ObjectID: ObjectID] = [:]
        for _ in 0..<(try counted(&r, "documents")) {
            let documentID = try r.id("document id")
            guard KeptPages.bucket(of: documentID.rawValue) == bucket else { throw FormatError.invalidField(structure: r.structure, field: "document id", reason: "in the wrong bucket") }
            guard entries.updateValue(try r.id("case id"), forKey: documentID) == nil else { throw duplicate(r, "document") }
        }
        try r.expectEnd()
        return entries
    }

    /// Blob names of one bucket: 32-byte hashes, sorted and distinct, in one flat
    /// buffer (no string or allocation per name: an add looks names up by
    /// binary search, and merges new ones in).
    struct BlobNames: Sendable {
        /// `count` hashes of 32 bytes, ascending.
        let sorted: [UInt8]
        var count: Int { sorted.count / 32 }

        /// Sorts and dedupes `names` (raw 32-byte hashes).
        init(_ names: [[UInt8]]) {
            sorted = Array(Set(names).sorted { $0.lexicographicallyPrecedes($1) }.joined())
        }

        fileprivate init(checkedSorted: [UInt8]) { sorted = checkedSorted }

        func name(_ index: Int) -> ArraySlice<UInt8> { sorted[index * 32..<(index + 1) * 32] }

        func contains(_ hash: [UInt8]) -> Bool {
            var low = 0, high = count
            while low < high {
                let middle = (low + high) / 2
                let candidate = name(middle)
                if candidate.elementsEqual(hash) { return true }
                if candidate.lexicographicallyPrecedes(hash) { low = middle + 1 } else { high = middle }
            }
            return false
        }

        /// These names and `more`: a merge of two sorted runs into one buffer.
        func adding(_ more: [[UInt8]]) -> BlobNames {
            let added = BlobNames(more)
            var merged: [UInt8] = []
            merged.reserveCapacity(sorted.count + added.sorted.count)
            var mine = 0, theirs = 0
            while mine < count || theirs < added.count {
                if theirs == added.count || (mine < count && name(mine).lexicographicallyPrecedes(added.name(theirs))) {
                    merged += name(mine); mine += 1
                } else {
                    if mine < count && name(mine).elementsEqual(added.name(theirs)) { mine += 1 }  // the same name once
                    merged += added.name(theirs); theirs += 1
                }
            }
            return BlobNames(checkedSorted: merged)
        }

        var hexNames: [String] { (0..<count).map { Hex.encode(Array(name($0))) } }
    }

    static func encodeBlobBucket(_ names: BlobNames) -> [UInt8] {
        var w = ByteWriter()
        w.u8(PageKind.blobBucket.rawValue)
        w.u32(UInt32(names.count))
        w.raw(names.sorted)
        return w.bytes
    }

    /// Decodes the bucket of the blob names whose first two bytes are `bucket` (0 to 65,535).
    static func decodeBlobBucket(_ bytes: [UInt8], bucket: Int) throws -> BlobNames {
        var r = try page(bytes, .blobBucket, "blob bucket \(bucket)")
        let count = try counted(&r, "blob names")
        let names = BlobNames(checkedSorted: try r.raw(count * 32, "blob names"))
        try r.expectEnd()
        for index in 0..<names.count {
            guard Int(names.sorted[index * 32]) << 8 | Int(names.sorted[index * 32 + 1]) == bucket else {
                throw FormatError.invalidField(structure: r.structure, field: "blob name", reason: "in the wrong bucket")
            }
            guard index == 0 || names.name(index - 1).lexicographicallyPrecedes(names.name(index)) else {
                throw FormatError.invalidField(structure: r.structure, field: "blob names", reason: "not in order, or twice")
            }
        }
        return names
    }

    /// A directory: the SHA-256 of the 256 buckets (of `kind`, document ids or
    /// blob names) whose first byte is `first`, by second byte; an empty bucket
    /// is named by `emptyHash` and has no page.
    static func encodeDirectory(_ buckets: [[UInt8]], of kind: PageKind, first: Int) -> [UInt8] {
        precondition(buckets.count == KeptPages.bucketCount)
        var w = ByteWriter()
        w.u8(PageKind.directory.rawValue)
        w.u8(kind.rawValue)
        w.u8(UInt8(first))
        for hash in buckets { w.raw(hash) }
        return w.bytes
    }

    static func decodeDirectory(_ bytes: [UInt8], of kind: PageKind, first: Int) throws -> [[UInt8]] {
        var r = try page(bytes, .directory, "directory \(first) of \(kind)")
        guard try r.u8("bucket kind") == kind.rawValue, try r.u8("first byte") == first else {
            throw FormatError.invalidField(structure: r.structure, field: "directory", reason: "is another directory's")
        }
        let hashes = try (0..<KeptPages.bucketCount).map { _ in try r.raw(32, "bucket hash") }
        try r.expectEnd()
        return hashes
    }

    /// The cases whose id's first byte is one bucket's, each with its document count and page.
    static func encodeCaseBucket(_ entries: [(LedgerState.Case, KeptPages.CaseEntry)]) -> [UInt8] {
        var w = ByteWriter()
        w.u8(PageKind.caseBucket.rawValue)
        w.u32(UInt32(entries.count))
        for (theCase, entry) in entries.sorted(by: { $0.0.id < $1.0.id }) {
            encode(theCase, into: &w)
            w.u32(UInt32(entry.documentCount))
            w.raw(entry.page)
        }
        return w.bytes
    }

    static func decodeCaseBucket(_ bytes: [UInt8], bucket: Int) throws -> [(LedgerState.Case, KeptPages.CaseEntry)] {
        var r = try page(bytes, .caseBucket, "case bucket \(bucket)")
        var entries: [(LedgerState.Case, KeptPages.CaseEntry)] = []
        for _ in 0..<(try counted(&r, "cases")) {
            let theCase = try decodeCase(&r)
            guard Int(theCase.id.rawValue[0]) == bucket else { throw FormatError.invalidField(structure: r.structure, field: "case id", reason: "in the wrong bucket") }
            guard entries.last.map({ $0.0.id < theCase.id }) ?? true else { throw FormatError.invalidField(structure: r.structure, field: "case id", reason: "not in order, or twice") }
            entries.append((theCase, KeptPages.CaseEntry(documentCount: Int(try r.u32("document count")), page: try r.raw(32, "case page"))))
        }
        try r.expectEnd()
        return entries
    }

    /// The sealed fields of `case.create` (public ciphertext, as in the ledger) of one bucket's cases.
    static func encodeCaseFieldBucket(_ entries: [ObjectID: SealedFields.CaseFields]) -> [UInt8] {
        var w = ByteWriter()
        w.u8(PageKind.caseFieldBucket.rawValue)
        w.u32(UInt32(entries.count))
        for (caseID, fields) in entries.sorted(by: { $0.key < $1.key }) {
            w.id(caseID); w.bytes16(fields.wrappedKey); w.bytes16(fields.sealedReference); w.bytes16(fields.sealedTitle)
        }
        return w.bytes
    }

    static func decodeCaseFieldBucket(_ bytes: [UInt8], bucket: Int) throws -> [ObjectID: SealedFields.CaseFields] {
        var r = try page(bytes, .caseFieldBucket, "case field bucket \(bucket)")
        var entries: [ObjectID: SealedFields.CaseFields] = [:]
        for _ in 0..<(try counted(&r, "cases")) {
            let caseID = try r.id("case id")
            guard Int(caseID.rawValue[0]) == bucket else { throw FormatError.invalidField(structure: r.structure, field: "case id", reason: "in the wrong bucket") }
            let fields = SealedFields.CaseFields(wrappedKey: try r.bytes16("wrapped key", max: 4096),
                                                 sealedReference: try r.bytes16("sealed reference", max: 4096),
                                                 sealedTitle: try r.bytes16("sealed title", max: 8192))
            guard entries.updateValue(fields, forKey: caseID) == nil else { throw duplicate(r, "case") }
        }
        try r.expectEnd()
        return entries
    }

    static func encodeHashPage(_ hashes: ArraySlice<[UInt8]>) -> [UInt8] {
        var w = ByteWriter()
        w.u8(PageKind.eventHashes.rawValue)
        w.u32(UInt32(hashes.count))
        for hash in hashes { w.raw(hash) }
        return w.bytes
    }

    static func decodeHashPage(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var r = try page(bytes, .eventHashes, "event hashes")
        let hashes = try (0..<(try counted(&r, "hashes"))).map { _ in try r.raw(32, "event hash") }
        try r.expectEnd()
        return hashes
    }

    private static func page(_ bytes: [UInt8], _ kind: PageKind, _ structure: String) throws -> ByteReader {
        var r = ByteReader(bytes, structure: "kept page (\(structure))")
        guard try r.u8("page kind") == kind.rawValue else { throw FormatError.invalidField(structure: r.structure, field: "page kind", reason: "not \(kind)") }
        return r
    }

    // MARK: - The whole state, for comparison

    /// Every part of a state, loaded from its pages where need be, in one
    /// canonical byte string: two states are equal exactly when these are (the
    /// tests compare a kept state with a full replay this way).
    static func canonical(_ state: LedgerState) throws -> [UInt8] {
        var w = ByteWriter()
        let root = encodeRoot(state, table: PageTable(hashPages: [], documentDirectories: [], blobDirectories: [], caseBuckets: [], caseFieldBuckets: []))
        w.bytes32(root)
        for index in 0..<state.count { w.raw(try state.eventHash(at: index)) }
        for theCase in try state.allCases().sorted(by: { $0.id < $1.id }) {
            encode(theCase, into: &w)
            for document in try state.documents(inCase: theCase.id) { encode(document, into: &w) }
            for sequence in try state.events(inCase: theCase.id) { w.u64(sequence) }
        }
        for name in try state.allBlobNames().sorted() { w.string8(name) }
        return w.bytes
    }

    // MARK: - Groups

    private static func encode(_ group: LedgerState.Group, into w: inout ByteWriter) {
        w.id(group.id); w.string8(group.name); w.fingerprint(group.creator); w.u64(group.sequence)
        let members = group.members.values.sorted { $0.identity.fingerprint < $1.identity.fingerprint }
        w.u32(UInt32(members.count))
        for member in members {
            w.fingerprint(member.identity.fingerprint); w.u8(member.role.rawValue); w.u32(member.epoch); w.bytes16(member.wrap)
            w.fingerprint(member.addedBy); w.u64(member.sequence); w.u64(member.wrapSequence)
        }
        w.u32(UInt32(group.epochs.count))
        for epoch in group.epochs {
            w.u32(epoch.number); optional(epoch.commitment, into: &w); optional(epoch.previousKeyWrap, into: &w)
            w.u64(epoch.sequence); w.fingerprint(epoch.actor)
            let confirmed = epoch.confirmedBy.sorted()
            w.u32(UInt32(confirmed.count))
            for fingerprint in confirmed { w.fingerprint(fingerprint) }
        }
        w.u32(UInt32(group.removals.count))
        for removal in group.removals {
            w.fingerprint(removal.member); w.u8(removal.role.rawValue); w.u32(removal.lastEpoch); w.u64(removal.admittedAt)
            w.fingerprint(removal.removedBy); w.u64(removal.sequence); w.u64(removal.time)
        }
    }

    private static func decodeGroup(_ r: inout ByteReader, identities: [Fingerprint: PublicIdentity]) throws -> LedgerState.Group {
        let id = try r.id("group id")
        let name = try r.string8("group name")
        let creator = try r.fingerprint("group creator")
        let sequence = try r.u64("group event")
        var members: [Fingerprint: LedgerState.Member] = [:]
        for _ in 0..<(try counted(&r, "members")) {
            let fingerprint = try r.fingerprint("member")
            guard let identity = identities[fingerprint] else {
                throw FormatError.invalidField(structure: r.structure, field: "member", reason: "names no kept identity")
            }
            let member = LedgerState.Member(identity: identity, role: try role(&r), epoch: try r.u32("member epoch"),
                                            wrap: try r.bytes16("member wrap", max: 4096), addedBy: try r.fingerprint("added by"),
                                            sequence: try r.u64("admission event"), wrapSequence: try r.u64("wrap event"))
            guard members.updateValue(member, forKey: fingerprint) == nil else { throw duplicate(r, "member") }
        }
        var epochs: [LedgerState.Epoch] = []
        for _ in 0..<(try counted(&r, "epochs")) {
            var epoch = LedgerState.Epoch(number: try r.u32("epoch"), commitment: try optional(&r, "epoch commitment"),
                                          previousKeyWrap: try optional(&r, "previous key wrap"),
                                          sequence: try r.u64("epoch event"), actor: try r.fingerprint("epoch actor"))
            guard epoch.number == UInt32(epochs.count + 1) else {
                throw FormatError.invalidField(structure: r.structure, field: "epoch", reason: "epochs out of order")
            }
            for _ in 0..<(try counted(&r, "confirmations")) { epoch.confirmedBy.insert(try r.fingerprint("confirmed by")) }
            epochs.append(epoch)
        }
        var removals: [LedgerState.Removal] = []
        for _ in 0..<(try counted(&r, "removals")) {
            removals.append(LedgerState.Removal(member: try r.fingerprint("removed"), role: try role(&r), lastEpoch: try r.u32("last epoch"),
                                                admittedAt: try r.u64("admitted at"), removedBy: try r.fingerprint("removed by"),
                                                sequence: try r.u64("removal event"), time: try r.u64("removal time")))
        }
        return LedgerState.Group(id: id, name: name, creator: creator, sequence: sequence, members: members, epochs: epochs, removals: removals)
    }

    // MARK: - Cases and documents

    private static func encode(_ theCase: LedgerState.Case, into w: inout ByteWriter) {
        w.id(theCase.id); w.id(theCase.groupID); w.fingerprint(theCase.author); w.u64(theCase.time); w.u64(theCase.sequence)
        w.u32(UInt32(theCase.generations.count))
        for generation in theCase.generations {
            w.u32(generation.number); w.u32(generation.epoch); optional(generation.commitment, into: &w)
            w.u64(generation.sequence); w.fingerprint(generation.author)
        }
    }

    private static func decodeCase(_ r: inout ByteReader) throws -> LedgerState.Case {
        let id = try r.id("case id")
        let groupID = try r.id("case group")
        let author = try r.fingerprint("case author")
        let time = try r.u64("case time")
        let sequence = try r.u64("case event")
        var generations: [LedgerState.Generation] = []
        for _ in 0..<(try counted(&r, "generations")) {
            let generation = LedgerState.Generation(number: try r.u32("generation"), epoch: try r.u32("generation epoch"),
                                                    commitment: try optional(&r, "generation commitment"),
                                                    sequence: try r.u64("generation event"), author: try r.fingerprint("generation author"))
            guard generation.number == UInt32(generations.count + 1) else {
                throw FormatError.invalidField(structure: r.structure, field: "generation", reason: "generations out of order")
            }
            generations.append(generation)
        }
        return LedgerState.Case(id: id, groupID: groupID, author: author, time: time, sequence: sequence, generations: generations)
    }

    private static func encode(_ document: LedgerState.Document, into w: inout ByteWriter) {
        w.id(document.documentID); w.u32(document.version); w.u32(document.generation); w.raw(document.blobHash)
        w.u64(document.blobSize); w.fingerprint(document.author); w.u64(document.time); w.u64(document.sequence)
        w.u64(document.recordSequence)
    }

    private static func decodeDocument(_ r: inout ByteReader, caseID: ObjectID) throws -> LedgerState.Document {
        LedgerState.Document(documentID: try r.id("document id"), caseID: caseID, version: try r.u32("document version"),
                             generation: try r.u32("document generation"), blobHash: try r.raw(32, "blob hash"),
                             blobSize: try r.u64("blob size"), author: try r.fingerprint("document author"),
                             time: try r.u64("document time"), sequence: try r.u64("document event"),
                             recordSequence: try r.u64("record event"))
    }

    // MARK: - Small pieces

    private static func optional(_ value: [UInt8]?, into w: inout ByteWriter) {
        if let value { w.u8(1); w.bytes16(value) } else { w.u8(0) }
    }

    private static func optional(_ r: inout ByteReader, _ field: String) throws -> [UInt8]? {
        try flag(&r, field + " flag") ? try r.bytes16(field, max: 4096) : nil
    }

    private static func flag(_ r: inout ByteReader, _ field: String) throws -> Bool {
        switch try r.u8(field) {
        case 0: return false
        case 1: return true
        default: throw FormatError.invalidField(structure: r.structure, field: field, reason: "not 0 or 1")
        }
    }

    private static func role(_ r: inout ByteReader) throws -> Role {
        let byte = try r.u8("role")
        guard let role = Role(rawValue: byte) else { throw FormatError.invalidField(structure: r.structure, field: "role", reason: "unknown role \(byte)") }
        return role
    }

    private static func counted(_ r: inout ByteReader, _ field: String) throws -> Int {
        let count = Int(try r.u32(field + " count"))
        guard count <= maxCount, count <= r.remaining else {
            throw FormatError.invalidField(structure: r.structure, field: field, reason: "count \(count) exceeds what remains")
        }
        return count
    }

    private static func duplicate(_ r: ByteReader, _ what: String) -> FormatError {
        FormatError.invalidField(structure: r.structure, field: what, reason: "the same \(what) twice")
    }
}
