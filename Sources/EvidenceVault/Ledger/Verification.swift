import Foundation
import GRDB
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// One problem `verify` found, naming the object it concerns.
public struct Finding: Sendable, Equatable, CustomStringConvertible {
    /// The object: `event 12`, `document 3f2a…`, `index row documents/3f2a…`, `blob 9c1e…`, `database`.
    public let object: String
    /// What is wrong with it.
    public let problem: String
    public var description: String { "\(object): \(problem)" }
}

/// The result of `Vault.verify()`.
public struct VerificationReport: Sendable {
    public let vaultID: ObjectID?
    public let creator: PublicIdentity?
    /// Events that replayed cleanly.
    public let eventsVerified: UInt64
    /// Events stored.
    public let eventsStored: Int
    /// Hash of the last event that replayed cleanly: an auditor can note it and compare later.
    public let headHash: [UInt8]
    public let documentsChecked: Int
    public let bytesHashed: UInt64
    public let findings: [Finding]
    /// True when nothing was found.
    public var isClean: Bool { findings.isEmpty }
}

extension Vault {
    /// Checks everything without any key: the ledger (encoding, chain,
    /// signatures, domain contexts, authorisation), the index against the
    /// replay, every blob (present, size, SHA-256, on both cores), blob files no
    /// event names, and SQLite's own integrity check.
    ///
    /// With `reader` (a lawyer or custodian), each damaged document the reader
    /// can decrypt is also authenticated chunk by chunk, without writing any
    /// plaintext, so that the finding names the damaged chunk.
    public func verify(threads: Int = 2, reader: UnlockedIdentity? = nil) -> VerificationReport {
        var findings: [Finding] = []
        var state = LedgerState()
        var stored = 0
        var implied: [String: (IndexRow, UInt64)] = [:]
        var actualRows: [IndexRow]?
        // What this machine remembers is read before the ledger (see `KnownVaults.pin`).
        var pin: KnownVaults.Pin?
        do { pin = try knownVaults?.pin(for: folder) } catch {
            findings.append(Finding(object: "known vaults", problem: "\(error)"))
        }

        // SQLite's own structural check first: corrupt pages make everything else suspect (ATTACKS.md 38).
        do {
            let messages = try database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            if messages != ["ok"] {
                for message in messages.prefix(20) { findings.append(Finding(object: "database", problem: "integrity check: \(message)")) }
            }
        } catch {
            findings.append(Finding(object: "database", problem: "cannot be checked: \(error)"))
        }

        // Schema objects nobody but an attacker adds: triggers, views, unknown tables (run by SQLite, not by us).
        do {
            let known = Set(["events", "grdb_migrations"] + Schema.projectionTables)
            let objects = try database.read { db in
                try Row.fetchAll(db, sql: "SELECT type, name FROM sqlite_master WHERE type IN ('table', 'trigger', 'view')")
            }
            for object in objects {
                let type: String = object["type"] as String? ?? "?", name: String = object["name"] as String? ?? "?"
                if type != "table" || !known.contains(name) {
                    findings.append(Finding(object: "database", problem: "unexpected \(type) \(name) in the schema (not created by evault)"))
                }
            }
        } catch {
            findings.append(Finding(object: "database", problem: "schema cannot be read: \(error)"))
        }

        // 1. The ledger, and the index in the same read transaction (one snapshot,
        // even while another process adds).
        do {
            try database.read { db in
                let rows = try StoredEvent.fetch(db)
                var broken = false
                while let row = try rows.next() {
                    stored += 1
                    if broken { continue }
                    let storedEvent = StoredEvent(row)
                    let object = storedEvent.label
                    let event: Event
                    do { event = try storedEvent.decode() } catch {
                        findings.append(Finding(object: object, problem: "corrupt: \(error)"))
                        broken = true
                        continue
                    }
                    if storedEvent.storedHash != event.hash {
                        findings.append(Finding(object: object, problem: "stored hash differs from the hash of its bytes"))
                    }
                    let rowsBefore = IndexRow.rows(for: event, before: state)
                    do { try state.apply(event) } catch let violation as LedgerViolation {
                        findings.append(Finding(object: object, problem: violation.reason))
                        broken = true
                        continue
                    }
                    for indexRow in rowsBefore { implied[indexRow.name] = (indexRow, event.sequence) }
                }
                if broken {
                    findings.append(Finding(object: "ledger", problem: "replay stopped at the first broken event; \(stored - Int(state.count)) event(s) from there on are unverified"))
                }
                actualRows = try? Schema.projectionTables.flatMap { table in
                    try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { IndexRow(table: table, row: $0) }
                }
            }
        } catch {
            findings.append(Finding(object: "ledger", problem: "cannot be read: \(error)"))
        }
        if stored == 0 { findings.append(Finding(object: "ledger", problem: "is empty: no genesis event")) }
        if let knownVaults, let pin, let problem = knownVaults.problem(with: state, pin: pin, folder: folder) {
            findings.append(Finding(object: "ledger", problem: "against what this machine remembers: the vault \(problem)"))
        }

        // 2. The index against the replay.
        do {
            guard let actual = actualRows else { throw VaultError(.integrity, "the index tables could not be read") }
            var seen = Set<String>()
            for row in actual {
                seen.insert(row.name)
                guard let (expected, sequence) = implied[row.name] else {
                    findings.append(Finding(object: "index row \(row.name)", problem: "is not backed by any ledger event (injected or framed)"))
                    continue
                }
                let differing = expected.columns.keys.filter { expected.columns[$0] != row.columns[$0] }.sorted()
                if !differing.isEmpty {
                    findings.append(Finding(object: "index row \(row.name)",
                                            problem: "\(differing.joined(separator: ", ")) differ(s) from ledger event \(sequence)"))
                }
            }
            for (name, (_, sequence)) in implied where !seen.contains(name) {
                findings.append(Finding(object: "index row \(name)", problem: "is missing: ledger event \(sequence) implies it"))
            }
        } catch {
            findings.append(Finding(object: "index", problem: "cannot be read: \(error)"))
        }

        // 3. Blobs, on all cores.
        let documents = state.documents.values.sorted { $0.sequence < $1.sequence }
        let results = BlobChecker.check(documents.map(\.record), store: blobs, threads: threads)
        for finding in results.findings {
            findings.append(locateDamage(finding, documents: documents, state: state, reader: reader) ?? finding)
        }

        // 4. Files that no event names, and entries that are not what evault makes.
        findings += strayEntries(named: state.blobNames)

        // A clean vault's head is remembered, so that the next verify detects a rollback.
        if findings.isEmpty, let knownVaults {
            do { try knownVaults.remember(state, folder: folder) } catch {
                findings.append(Finding(object: "ledger", problem: "\(error)"))
            }
        }
        let creator = state.creator.flatMap { state.identities[$0] }
        return VerificationReport(vaultID: state.vaultID, creator: creator, eventsVerified: state.count, eventsStored: stored,
                                  headHash: state.headHash, documentsChecked: documents.count, bytesHashed: results.bytes,
                                  findings: findings)
    }
}

extension Vault {
    /// Re-reads a damaged document with the reader's keys to name the first bad chunk.
    fileprivate func locateDamage(_ finding: Finding, documents: [LedgerState.Document], state: LedgerState,
                                  reader: UnlockedIdentity?) -> Finding? {
        guard let reader, let document = documents.first(where: { finding.object == "document \($0.record.documentID.hex)" }),
              let theCase = state.cases[document.record.caseID],
              state.groups[theCase.groupID]?.members[reader.fingerprint]?.role.canRead == true,
              let (key, metadata) = try? documentKeyAndMetadata(document, theCase: theCase, in: state, actor: reader, action: "verify")
        else { return nil }
        do {
            try DocumentStream.decrypt(record: document.record, metadata: metadata, key: key, store: blobs, outputFolder: nil, calls: calls)
            return nil
        } catch let error as VaultError {
            let detail = error.message.replacingOccurrences(of: "\(finding.object): ", with: "")
            return Finding(object: finding.object, problem: "\(finding.problem); with the reader's key: \(detail)")
        } catch {
            return nil
        }
    }
}

/// Hashes blobs in parallel and compares them with the ledger.
enum BlobChecker {
    struct Results {
        var findings: [Finding] = []
        var bytes: UInt64 = 0
    }

    static func check(_ records: [DocumentRecord], store: BlobStore, threads: Int) -> Results {
        let lock = NSLock()
        nonisolated(unsafe) var perDocument = [Finding?](repeating: nil, count: records.count)
        nonisolated(unsafe) var bytes: UInt64 = 0
        let next = ManagedCounter()
        let group = DispatchGroup()
        for _ in 0..<max(1, threads) {
            DispatchQueue.global().async(group: group) {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
                defer { buffer.deallocate() }
                while let index = next.take(below: records.count) {
                    let (finding, hashed) = checkOne(records[index], store: store, buffer: buffer)
                    lock.lock()
                    perDocument[index] = finding
                    bytes += hashed
                    lock.unlock()
                }
            }
        }
        group.wait()
        return Results(findings: perDocument.compactMap { $0 }, bytes: bytes)
    }

    static func checkOne(_ record: DocumentRecord, store: BlobStore, buffer: UnsafeMutableRawBufferPointer) -> (Finding?, UInt64) {
        let object = "document \(record.documentID.hex)"
        let file: ReadableFile
        do { file = try store.open(record.blobHash, what: "blob") } catch let error as VaultError where error.kind == .notFound {
            return (Finding(object: object, problem: "its blob \(Hex.encode(record.blobHash)) is missing"), 0)
        } catch {
            return (Finding(object: object, problem: "its blob cannot be read: \(error)"), 0)
        }
        guard file.size == record.blobSize else {
            return (Finding(object: object, problem: "blob is \(file.size) bytes, the ledger records \(record.blobSize) (truncated or extended)"), 0)
        }
        var hash = SHA256Stream()
        var total: UInt64 = 0
        do {
            while true {
                let got = try file.readFully(into: buffer)
                if got == 0 { break }
                hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                total += UInt64(got)
            }
        } catch {
            return (Finding(object: object, problem: "blob cannot be read: \(error)"), total)
        }
        guard hash.finalize() == record.blobHash else {
            let headerNote = "the content differs from what was recorded (bit rot or tampering)"
            return (Finding(object: object, problem: "blob SHA-256 does not match the ledger: \(headerNote)"), total)
        }
        return (nil, total)
    }
}

/// A thread-safe counter handing out work indices.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func take(below limit: Int) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard value < limit else { return nil }
        value += 1
        return value - 1
    }
}

extension Vault {
    /// Removes blob files that no ledger event names (orphans of interrupted adds,
    /// injected files) and leftover temporary files, when older than `minimumAge`
    /// seconds, so that a blob an add is still committing is never touched.
    /// The ledger must replay cleanly first. Returns the names removed.
    public func removeOrphans(minimumAge: TimeInterval = 600, now: Date = Date()) throws -> [String] {
        let state = try replay()
        let handle = try blobs.requireHandle()
        var removed: [String] = []
        // Only names evault itself gives blobs and temporary files, only regular
        // files (never a link, FIFO or folder), only inside the blob folder's
        // handle: a planted link cannot turn this into a removal elsewhere (THREATS.md 41).
        for (name, type) in try handle.entries().sorted(by: { $0.name < $1.name })
        where (BlobStore.isBlobName(name) && !state.blobNames.contains(name)) || BlobStore.isTemporaryName(name) {
            guard case .regular(_, let modified) = type, now.timeIntervalSince1970 - TimeInterval(modified) >= minimumAge else { continue }
            try handle.remove(name)
            removed.append(name)
        }
        if !removed.isEmpty { try handle.sync(calls: calls) }
        logger.info("orphans removed", metadata: ["count": "\(removed.count)"])
        return removed
    }

    /// Findings for every entry of the vault folder and of `blobs/` that is not
    /// a regular file or folder evault made: links, FIFOs, devices, unknown
    /// names, orphan blobs and leftover temporary files. Nothing is opened.
    func strayEntries(named blobNames: Set<String>) -> [Finding] {
        var findings: [Finding] = []
        do {
            for (name, type) in try folderHandle.entries().sorted(by: { $0.name < $1.name }) {
                let expected: Bool
                switch name {
                case Self.blobFolderName: expected = type == .folder
                default: expected = Self.isOwnName(name) && type.isRegular
                }
                if !expected {
                    findings.append(Finding(object: "vault folder entry \(name)",
                                            problem: Self.isOwnName(name) ? "is \(type), which evault never makes there"
                                                : "is \(type) that evault did not create"))
                }
            }
        } catch {
            findings.append(Finding(object: "vault folder", problem: "cannot be listed: \(error)"))
        }
        let entries: [(name: String, type: EntryType)]
        do { entries = try blobs.entries() } catch {
            findings.append(Finding(object: "blob folder", problem: "cannot be used: \(error)"))
            return findings
        }
        for (name, type) in entries.sorted(by: { $0.name < $1.name }) {
            let object = "blob folder entry \(name)"
            if !type.isRegular {
                findings.append(Finding(object: object, problem: "is \(type), not a regular file: never read, never removed by 'evault clean'"))
            } else if BlobStore.isTemporaryName(name) {
                findings.append(Finding(object: object, problem: "leftover temporary file (an interrupted write); 'evault clean' removes it"))
            } else if !BlobStore.isBlobName(name) {
                findings.append(Finding(object: object, problem: "is not a name evault gives blobs (planted or copied in); remove it by hand after checking it"))
            } else if !blobNames.contains(name) {
                findings.append(Finding(object: object, problem: "is not named by any ledger event (an orphan of an interrupted add, an add still in progress, or injected); 'evault clean' removes it"))
            }
        }
        return findings
    }
}
