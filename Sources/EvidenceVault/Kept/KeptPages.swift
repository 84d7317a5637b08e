import Foundation
import VaultCrypto

/// A kept page failed its check (missing, or its bytes do not hash to what the
/// authenticated root names): the kept state is damaged or was edited, and is
/// not used (`Vault.withVerifiedState` falls back to a full replay).
struct KeptPageError: Error, CustomStringConvertible {
    let page: String
    let problem: String
    /// The page is gone because another process saved twice since this root was
    /// read: nothing is wrong, the command starts again from the new root.
    var superseded = false
    var description: String { "kept page \(page) \(problem)" }
}

/// The parts of a kept ledger state that a command reads only when it needs
/// them (Docs/FORMAT.md §11): each case's documents, the buckets of cases'
/// sealed fields, of document ids and of blob names, and the event hashes,
/// each a page checked against the SHA-256 the authenticated root (or an
/// authenticated case bucket) gives before it is decoded. Decoded pages are
/// cached: they are the state at the kept head and never change.
final class KeptPages: @unchecked Sendable {
    /// Pages of event hashes hold this many.
    static let hashesPerPage = 4096
    /// Cases are bucketed by their id's first byte; directories hold this many buckets.
    static let bucketCount = 256
    /// Document ids and blob names are bucketed by their first two bytes, in
    /// 256 directories (by the first byte) of 256 buckets (by the second): a
    /// write rewrites one small bucket and one directory per new name, however
    /// many the vault holds.
    static let leafBucketCount = 65_536

    /// The bucket (0 to 65,535) of a document id or blob name: its first two bytes.
    static func bucket(of bytes: [UInt8]) -> Int { Int(bytes[0]) << 8 | Int(bytes[1]) }

    struct CaseEntry: Sendable {
        let documentCount: Int
        let page: [UInt8]
    }

    /// A kept case as its bucket holds it: the case, its document count and page.
    struct KeptCase: Sendable {
        let theCase: LedgerState.Case
        let entry: CaseEntry
    }

    let store: KeptStore
    /// The root these pages belong to (to tell a concurrent save from damage).
    let rootBytes: [UInt8]
    /// Events the kept state covers.
    let count: UInt64
    let table: KeptStateCoding.PageTable
    var hashPages: [[UInt8]] { table.hashPages }

    private let lock = NSLock()
    private var caseCache: [ObjectID: KeptStateCoding.CasePage] = [:]
    private var caseBucketCache: [Int: [ObjectID: KeptCase]] = [:]
    private var caseFieldCache: [Int: [ObjectID: SealedFields.CaseFields]] = [:]
    private var documentBucketCache: [Int: [ObjectID: ObjectID]] = [:]
    private var blobBucketCache: [Int: KeptStateCoding.BlobNames] = [:]
    private var documentDirectoryCache: [Int: [[UInt8]]] = [:]
    private var blobDirectoryCache: [Int: [[UInt8]]] = [:]
    private var hashPageCache: [Int: [[UInt8]]] = [:]

    init(store: KeptStore, rootBytes: [UInt8], count: UInt64, table: KeptStateCoding.PageTable) {
        self.store = store
        self.rootBytes = rootBytes
        self.count = count
        self.table = table
    }

    private func read(_ hash: [UInt8], _ name: String) throws -> [UInt8] {
        guard let bytes = try store.page(hash) else {
            throw KeptPageError(page: name, problem: "is missing or does not match its hash", superseded: store.rootChanged(since: rootBytes))
        }
        return bytes
    }

    private func cached<K: Hashable, V>(_ cache: ReferenceWritableKeyPath<KeptPages, [K: V]>, _ key: K, _ load: () throws -> V) throws -> V {
        if let found = lock.withLock({ self[keyPath: cache][key] }) { return found }
        let value = try load()
        lock.withLock { self[keyPath: cache][key] = value }
        return value
    }

    /// The kept cases whose id's first byte is `bucket`, with their document counts and pages.
    func caseBucket(_ bucket: Int) throws -> [ObjectID: KeptCase] {
        try cached(\.caseBucketCache, bucket) {
            let entries = try KeptStateCoding.decodeCaseBucket(try read(table.caseBuckets[bucket], "of cases \(bucket)"), bucket: bucket)
            return Dictionary(uniqueKeysWithValues: entries.map { ($0.0.id, KeptCase(theCase: $0.0, entry: $0.1)) })
        }
    }

    /// The kept case with this id, if any.
    func keptCase(_ id: ObjectID) throws -> LedgerState.Case? {
        try caseBucket(Int(id.rawValue[0]))[id]?.theCase
    }

    /// The kept document count and page of a case, if the kept state knows it.
    func caseEntry(_ id: ObjectID) throws -> CaseEntry? {
        try caseBucket(Int(id.rawValue[0]))[id]?.entry
    }

    /// The kept page of a case (empty for a case the kept state does not know).
    private func casePage(_ caseID: ObjectID) throws -> KeptStateCoding.CasePage {
        guard let entry = try caseEntry(caseID), entry.page != KeptStateCoding.emptyHash else { return KeptStateCoding.CasePage(documents: [], events: []) }
        return try cached(\.caseCache, caseID) {
            let page = try KeptStateCoding.decodeCasePage(try read(entry.page, "of case \(caseID.hex)"), caseID: caseID)
            guard page.documents.count == entry.documentCount else {
                throw KeptPageError(page: "of case \(caseID.hex)", problem: "holds \(page.documents.count) documents, the root says \(entry.documentCount)")
            }
            return page
        }
    }

    /// The kept documents of a case, in ledger order.
    func documents(inCase caseID: ObjectID) throws -> [LedgerState.Document] { try casePage(caseID).documents }

    /// The kept events that name a case, in ledger order.
    func events(inCase caseID: ObjectID) throws -> [UInt64] { try casePage(caseID).events }

    func documentCount(inCase caseID: ObjectID) throws -> Int { try caseEntry(caseID)?.documentCount ?? 0 }

    /// The bucket hashes of the document directory `first` (empty buckets named by `emptyHash`).
    func documentDirectory(_ first: Int) throws -> [[UInt8]] {
        try cached(\.documentDirectoryCache, first) {
            try directory(table.documentDirectories[first], of: .documentBucket, first: first, name: "document directory \(first)")
        }
    }

    /// The bucket hashes of the blob-name directory `first`.
    func blobDirectory(_ first: Int) throws -> [[UInt8]] {
        try cached(\.blobDirectoryCache, first) {
            try directory(table.blobDirectories[first], of: .blobBucket, first: first, name: "blob directory \(first)")
        }
    }

    private func directory(_ hash: [UInt8], of kind: KeptStateCoding.PageKind, first: Int, name: String) throws -> [[UInt8]] {
        guard hash != KeptStateCoding.emptyHash else { return Array(repeating: KeptStateCoding.emptyHash, count: Self.bucketCount) }
        return try KeptStateCoding.decodeDirectory(try read(hash, name), of: kind, first: first)
    }

    /// Document id → case id, for the ids whose first two bytes are `bucket` (0 to 65,535).
    func documentBucket(_ bucket: Int) throws -> [ObjectID: ObjectID] {
        try cached(\.documentBucketCache, bucket) {
            let hash = try documentDirectory(bucket >> 8)[bucket & 0xff]
            guard hash != KeptStateCoding.emptyHash else { return [:] }
            return try KeptStateCoding.decodeDocumentBucket(try read(hash, "of documents \(bucket)"), bucket: bucket)
        }
    }

    /// The sealed fields of the kept cases whose id's first byte is `bucket`.
    func caseFieldBucket(_ bucket: Int) throws -> [ObjectID: SealedFields.CaseFields] {
        try cached(\.caseFieldCache, bucket) {
            try KeptStateCoding.decodeCaseFieldBucket(try read(table.caseFieldBuckets[bucket], "of case fields \(bucket)"), bucket: bucket)
        }
    }

    /// The sealed fields of a kept case's `case.create` (nil for a case the kept state does not know).
    func caseFields(_ caseID: ObjectID) throws -> SealedFields.CaseFields? {
        guard try caseEntry(caseID) != nil else { return nil }
        guard let found = try caseFieldBucket(Int(caseID.rawValue[0]))[caseID] else {
            throw KeptPageError(page: "of case fields \(caseID.rawValue[0])", problem: "lacks case \(caseID.hex)")
        }
        return found
    }

    /// Blob names whose first two bytes are `bucket` (0 to 65,535).
    func blobBucket(_ bucket: Int) throws -> KeptStateCoding.BlobNames {
        try cached(\.blobBucketCache, bucket) {
            let hash = try blobDirectory(bucket >> 8)[bucket & 0xff]
            guard hash != KeptStateCoding.emptyHash else { return KeptStateCoding.BlobNames([]) }
            return try KeptStateCoding.decodeBlobBucket(try read(hash, "of blob names \(bucket)"), bucket: bucket)
        }
    }

    /// Every kept blob name (every directory and bucket is read).
    func allBlobNames() throws -> [String] {
        var names: [String] = []
        for first in 0..<Self.bucketCount {
            for (second, hash) in try blobDirectory(first).enumerated() where hash != KeptStateCoding.emptyHash {
                names += try blobBucket(first << 8 | second).hexNames
            }
        }
        return names
    }

    /// The kept document with this id, if any.
    func document(_ id: ObjectID) throws -> LedgerState.Document? {
        guard let caseID = try documentBucket(Self.bucket(of: id.rawValue))[id] else { return nil }
        guard let found = try documents(inCase: caseID).first(where: { $0.documentID == id }) else {
            throw KeptPageError(page: "of case \(caseID.hex)", problem: "lacks document \(id.hex) that its bucket names")
        }
        return found
    }

    /// Whether a kept document names the blob `name` (64 hex characters).
    func isBlobNamed(_ name: String) throws -> Bool {
        guard let hash = Hex.decode(name), hash.count == 32 else { return false }
        return try blobBucket(Self.bucket(of: hash)).contains(hash)
    }

    /// The hash of kept event `sequence`.
    func eventHash(at sequence: UInt64) throws -> [UInt8] {
        precondition(sequence < count, "event hash beyond the kept state")
        let index = Int(sequence) / Self.hashesPerPage
        let page = try cached(\.hashPageCache, index) { try KeptStateCoding.decodeHashPage(try read(hashPages[index], "of event hashes \(index)")) }
        let offset = Int(sequence) % Self.hashesPerPage
        guard offset < page.count else { throw KeptPageError(page: "of event hashes \(index)", problem: "is short") }
        return page[offset]
    }
}
