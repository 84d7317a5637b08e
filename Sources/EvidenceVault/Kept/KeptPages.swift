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
    /// Documents and blob names are bucketed by their first byte.
    static let bucketCount = 256

    struct CaseEntry: Sendable {
        let documentCount: Int
        let page: [UInt8]
    }

    let store: KeptStore
    /// The root these pages belong to (to tell a concurrent save from damage).
    let rootBytes: [UInt8]
    /// Events the kept state covers.
    let count: UInt64
    let cases: [ObjectID: CaseEntry]
    let table: KeptStateCoding.PageTable
    var hashPages: [[UInt8]] { table.hashPages }
    var documentBuckets: [[UInt8]] { table.documentBuckets }
    var blobBuckets: [[UInt8]] { table.blobBuckets }

    private let lock = NSLock()
    private var caseCache: [ObjectID: KeptStateCoding.CasePage] = [:]
    private var caseFieldCache: [Int: [ObjectID: SealedFields.CaseFields]] = [:]
    private var documentBucketCache: [Int: [ObjectID: ObjectID]] = [:]
    private var blobBucketCache: [Int: KeptStateCoding.BlobNames] = [:]
    private var hashPageCache: [Int: [[UInt8]]] = [:]

    init(store: KeptStore, rootBytes: [UInt8], count: UInt64, cases: [ObjectID: CaseEntry], table: KeptStateCoding.PageTable) {
        self.store = store
        self.rootBytes = rootBytes
        self.count = count
        self.cases = cases
        self.table = table
    }

    /// Reads every case bucket the root names (each checked against its hash):
    /// the cases, with their document counts and pages.
    static func readCases(_ table: KeptStateCoding.PageTable, store: KeptStore, rootBytes: [UInt8]) throws -> [(LedgerState.Case, CaseEntry)] {
        var all: [(LedgerState.Case, CaseEntry)] = []
        for (bucket, found) in try store.pages(table.caseBuckets).enumerated() {
            guard let bytes = found else {
                throw KeptPageError(page: "of cases \(bucket)", problem: "is missing or does not match its hash", superseded: store.rootChanged(since: rootBytes))
            }
            all += try KeptStateCoding.decodeCaseBucket(bytes, bucket: bucket)
        }
        return all
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

    /// The kept page of a case (empty for a case the kept state does not know).
    private func casePage(_ caseID: ObjectID) throws -> KeptStateCoding.CasePage {
        guard let entry = cases[caseID], entry.page != KeptStateCoding.emptyHash else { return KeptStateCoding.CasePage(documents: [], events: []) }
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

    func documentCount(inCase caseID: ObjectID) -> Int { cases[caseID]?.documentCount ?? 0 }

    /// Document id → case id, for the ids whose first byte is `bucket`.
    func documentBucket(_ bucket: Int) throws -> [ObjectID: ObjectID] {
        try cached(\.documentBucketCache, bucket) { try KeptStateCoding.decodeDocumentBucket(try read(documentBuckets[bucket], "of documents \(bucket)"), bucket: bucket) }
    }

    /// The sealed fields of the kept cases whose id's first byte is `bucket`.
    func caseFieldBucket(_ bucket: Int) throws -> [ObjectID: SealedFields.CaseFields] {
        try cached(\.caseFieldCache, bucket) {
            try KeptStateCoding.decodeCaseFieldBucket(try read(table.caseFieldBuckets[bucket], "of case fields \(bucket)"), bucket: bucket)
        }
    }

    /// The sealed fields of a kept case's `case.create` (nil for a case the kept state does not know).
    func caseFields(_ caseID: ObjectID) throws -> SealedFields.CaseFields? {
        guard cases[caseID] != nil else { return nil }
        guard let found = try caseFieldBucket(Int(caseID.rawValue[0]))[caseID] else {
            throw KeptPageError(page: "of case fields \(caseID.rawValue[0])", problem: "lacks case \(caseID.hex)")
        }
        return found
    }

    /// Blob names (hex) whose first byte is `bucket`.
    func blobBucket(_ bucket: Int) throws -> KeptStateCoding.BlobNames {
        try cached(\.blobBucketCache, bucket) { try KeptStateCoding.decodeBlobBucket(try read(blobBuckets[bucket], "of blob names \(bucket)"), bucket: bucket) }
    }

    /// The kept document with this id, if any.
    func document(_ id: ObjectID) throws -> LedgerState.Document? {
        guard let caseID = try documentBucket(Int(id.rawValue[0]))[id] else { return nil }
        guard let found = try documents(inCase: caseID).first(where: { $0.documentID == id }) else {
            throw KeptPageError(page: "of case \(caseID.hex)", problem: "lacks document \(id.hex) that its bucket names")
        }
        return found
    }

    /// Whether a kept document names the blob `name` (64 hex characters).
    func isBlobNamed(_ name: String) throws -> Bool {
        guard let hash = Hex.decode(name), hash.count == 32 else { return false }
        return try blobBucket(Int(hash[0])).contains(hash)
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
