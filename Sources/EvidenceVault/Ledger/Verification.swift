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
    /// How the ledger relates to what this machine remembers (THREATS.md 44, 48).
    public struct Anchor: Sendable {
        /// The head this machine remembered before, if it trusts this vault.
        public let comparedAgainst: (sequence: UInt64, hash: String)?
        /// Whether this machine trusts the vault (false: a first contact).
        public let trusted: Bool
        /// Whether the head verified now was remembered (a trusted vault whose ledger replayed cleanly).
        public let rememberedNewHead: Bool
        /// With a reader: whether its trust record binds this folder to this
        /// vault (false: every other command with that identity refuses it).
        public var trustedByReader: Bool? = nil
    }

    public let vaultID: ObjectID?
    public let creator: PublicIdentity?
    /// SHA-256 of the genesis event.
    public let genesisHash: [UInt8]?
    /// Events that replayed cleanly.
    public let eventsVerified: UInt64
    /// Events stored.
    public let eventsStored: Int
    /// Hash of the last event that replayed cleanly: an auditor can note it and compare later.
    public let headHash: [UInt8]
    public let documentsChecked: Int
    public let bytesHashed: UInt64
    public let anchor: Anchor
    public let findings: [Finding]
    /// Events whose times deserve a look (not problems: clocks drift; THREATS.md 47).
    public let timeFlags: [Finding]
    /// True when nothing was found.
    public var isClean: Bool { findings.isEmpty }
}

extension Vault {
    /// Checks everything without any key: the ledger (encoding, chain,
    /// signatures, domain contexts, authorisation), the index against the
    /// replay, every blob (present, size, SHA-256, on both cores), every entry
    /// of the vault folder and of `blobs/`, and SQLite's own integrity check.
    ///
    /// A trusted vault whose ledger replays cleanly has its head remembered
    /// even when blobs, index rows or stray files have problems: findings never
    /// hold the rollback check hostage (THREATS.md 44).
    ///
    /// With `reader` (a lawyer or custodian), every epoch-key wrap, case key,
    /// sealed reference, title, document key and sealed metadata the reader is
    /// entitled to is opened, and each that does not is named; each damaged
    /// document is also authenticated chunk by chunk, without writing any
    /// plaintext, so that the finding names the damaged chunk.
    public func verify(threads: Int = 2, reader: UnlockedIdentity? = nil, now: Date = Date()) -> VerificationReport {
        var findings: [Finding] = []
        var timeFlags: [Finding] = []
        var state = LedgerState()
        var stored = 0
        // What this machine remembers is read before the ledger (see `KnownVaults.pin`).
        var pin: KnownVaults.Pin?
        do { pin = try knownVaults?.pin(for: folder) } catch {
            findings.append(Finding(object: "known vaults", problem: "\(error)"))
        }

        // SQLite's own structural check first: corrupt pages make everything else suspect (THREATS.md 38).
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
        // even while another process adds). The rows the ledger implies are kept
        // as digests, and the stored rows read with a cursor: memory does not grow
        // with the size of sealed fields (THREATS.md 46).
        var clock = EventTimes(now: now)
        var background: BackgroundChecks?
        do {
            try database.read { db in
                var implied = ImpliedIndex(expectedRows: Int(min((try? StoredEvent.claimedLength(db)) ?? 0, 1 << 24)))
                let rows = try StoredEvent.fetch(db)
                var broken = false
                var run: [StoredEvent] = []
                // Runs of events: the signatures of each run are checked on all cores
                // (SignatureBatch) while the run before it is applied, in order, on this thread.
                struct StartedRun {
                    let stored: [StoredEvent]
                    let decoded: [Result<Event, Error>]
                    let signatures: SignatureBatch.Pending?
                }
                var previous: StartedRun?
                func start() -> StartedRun {
                    let decoded = run.map { stored in Result { try stored.decode() } }
                    let prefix = decoded.prefix { (try? $0.get()) != nil }.compactMap { try? $0.get() }
                    let started = StartedRun(stored: run, decoded: decoded,
                                             signatures: broken ? nil : SignatureBatch.Pending(Array(prefix), identities: state.identities, threads: threads))
                    run.removeAll(keepingCapacity: true)
                    return started
                }
                func apply(_ started: StartedRun) throws {
                    let keys = started.signatures?.wait() ?? []
                    for (index, storedEvent) in started.stored.enumerated() where !broken {
                        let object = storedEvent.label
                        let event: Event
                        do { event = try started.decoded[index].get() } catch {
                            findings.append(Finding(object: object, problem: "corrupt: \(error)"))
                            broken = true
                            continue
                        }
                        if storedEvent.storedHash != event.hash {
                            findings.append(Finding(object: object, problem: "stored hash differs from the hash of its bytes"))
                        }
                        let rowsBefore = IndexRow.rows(for: event, before: state)
                        do {
                            try state.apply(event, signatureAlreadyVerified: false, preVerified: index < keys.count ? keys[index] : nil)
                        } catch let violation as LedgerViolation {
                            findings.append(Finding(object: object, problem: violation.reason))
                            broken = true
                            continue
                        }
                        if let flag = clock.flag(event) { timeFlags.append(Finding(object: object, problem: flag)) }
                        implied.record(rowsBefore, sequence: event.sequence)
                    }
                }
                while let row = try rows.next() {
                    stored += 1
                    if broken { continue }
                    run.append(StoredEvent(row))
                    if run.count == SignatureBatch.runLength {
                        let next = start()
                        if let previous { try apply(previous) }
                        previous = next
                    }
                }
                if let previous { try apply(previous) }
                if !run.isEmpty { try apply(start()) }
                if broken {
                    findings.append(Finding(object: "ledger", problem: "replay stopped at the first broken event; \(stored - Int(state.count)) event(s) from there on are unverified"))
                }
                // The blobs (on all cores) and the folders are checked while the index is compared here.
                background = BackgroundChecks(self, state: state, threads: threads)
                findings += implied.compare(with: db)
            }
        } catch {
            findings.append(Finding(object: "ledger", problem: "cannot be read: \(error)"))
        }
        if stored == 0 {
            findings.append(Finding(object: "ledger", problem: "is empty: no genesis event"))
        }
        var anchorProblem = false
        if let knownVaults, let pin, let problem = knownVaults.problem(with: state, pin: pin, folder: folder) {
            anchorProblem = true
            findings.append(Finding(object: "ledger", problem: "against what this machine remembers: the vault \(problem)"))
        }
        // A reader's own kept state proves a head: a ledger without it was rolled back below it.
        if let reader, !anchorProblem {
            do {
                try requireTrustedByIdentity(state, actor: reader, requiringBinding: false)
                try requireKeptHead(in: state, for: reader)
            } catch {
                anchorProblem = true
                findings.append(Finding(object: "ledger", problem: (error as? VaultError)?.message ?? "\(error)"))
            }
        }
        let vaultHex = state.vaultID?.hex
        let entry = vaultHex.flatMap { pin?.vaults[$0] }
        if entry == nil, let pin, case let reuse = KnownVaults.reuse(of: state, among: pin.vaults), !reuse.isEmpty {
            findings.append(Finding(object: "vault", problem: "not trusted on this machine, yet it reuses \(reuse.joined(separator: "; ")) of a vault this machine knows: it may be an impostor"))
        }

        // 2. Blobs, on all cores, and 3. files that no event names and entries
        // that are not what evault makes (begun while the index was compared,
        // unless the ledger could not be read).
        let checked = (background ?? BackgroundChecks(self, state: state, threads: threads)).wait()
        let keys = reader.map { keyRing(for: $0, state: state) }
        for finding in checked.blobs.findings {
            findings.append(keys.flatMap { locateDamage(finding, documents: checked.documents, keys: $0) } ?? finding)
        }
        findings += checked.strays

        // 4. With a reader's key: every wrap and sealed field the reader is entitled to opens.
        if let keys { findings += sealedFieldFindings(keys) }

        // A trusted vault has the events that replayed cleanly remembered (up to the
        // first broken one, if any), whatever else was found, so that the next
        // verify detects a rollback of any of them (THREATS.md 44).
        var remembered = false
        if state.count > 0, !anchorProblem, entry != nil, let knownVaults {
            do {
                try knownVaults.remember(state, folder: folder)
                remembered = true
            } catch {
                findings.append(Finding(object: "ledger", problem: "\(error)"))
            }
        }
        let creator = state.creator.flatMap { state.identities[$0] }
        return VerificationReport(vaultID: state.vaultID, creator: creator, genesisHash: state.genesisHash,
                                  eventsVerified: state.count, eventsStored: stored,
                                  headHash: state.headHash, documentsChecked: checked.documents.count, bytesHashed: checked.blobs.bytes,
                                  anchor: .init(comparedAgainst: entry.map { ($0.headSequence, $0.headHash) }, trusted: entry != nil,
                                                rememberedNewHead: remembered,
                                                trustedByReader: reader.map { (try? isTrustedByIdentity(state, actor: $0)) ?? false }),
                                  findings: findings, timeFlags: timeFlags)
    }

    /// Opens, with the reader's keys, everything the reader is entitled to, and names what does not open.
    private func sealedFieldFindings(_ keys: KeyRing) -> [Finding] {
        var findings: [Finding] = []
        let state = keys.state
        for group in state.groups.values.sorted(by: { $0.sequence < $1.sequence }) where group.members[keys.actor.fingerprint]?.role.canRead == true {
            // The reader's newest seal, then every earlier epoch through the prev chain,
            // each against its commitment.
            do {
                let held = group.members[keys.actor.fingerprint]?.epoch ?? group.epoch
                for epoch in stride(from: held, through: 1, by: -1) { _ = try keys.epochKey(in: group, epoch: epoch, to: "verify") }
            } catch {
                findings.append(Finding(object: "group \(group.name)", problem: "\(error)"))
                continue
            }
            // A replay from genesis: every case is in memory, nothing to read.
            let cases = (try? state.cases(inGroup: group.id)) ?? []
            for theCase in cases {
                for field in ["reference", "title"] {
                    do { _ = try keys.caseText(theCase, field: field, to: "verify") } catch {
                        findings.append(Finding(object: "case \(theCase.id.hex)", problem: "\(error)"))
                    }
                }
                for generation in theCase.generations {
                    do { _ = try keys.caseKey(theCase, generation: generation.number, to: "verify") } catch {
                        findings.append(Finding(object: "case \(theCase.id.hex)", problem: "\(error)"))
                    }
                }
                // A replay from genesis: every document is in memory, nothing to read.
                for document in (try? state.documents(of: theCase)) ?? [] {
                    do {
                        let (key, metadata, record) = try keys.documentKeyAndMetadata(document, to: "verify")
                        // A custodian re-encrypted it: its content must still be what its author committed to
                        // (THREATS.md 63), which only the plaintext can show.
                        if document.recordSequence != document.sequence {
                            try DocumentStream.decrypt(record: record, metadata: metadata, key: key, store: blobs, outputFolder: nil, calls: calls)
                        }
                    } catch {
                        findings.append(Finding(object: "document \(document.documentID.hex)", problem: "\(error)"))
                    }
                }
            }
        }
        return findings
    }

    /// Re-reads a damaged document with the reader's keys to name the first bad chunk.
    fileprivate func locateDamage(_ finding: Finding, documents: [LedgerState.Document], keys: KeyRing) -> Finding? {
        guard let document = documents.first(where: { finding.object == "document \($0.documentID.hex)" }),
              let theCase = try? keys.state.lookupCase(document.caseID), keys.canRead(theCase),
              let (key, metadata, record) = try? keys.documentKeyAndMetadata(document, to: "verify")
        else { return nil }
        do {
            try DocumentStream.decrypt(record: record, metadata: metadata, key: key, store: blobs, outputFolder: nil, calls: calls,
                                       checkingBlobHash: true)
            return nil
        } catch let error as VaultError {
            let detail = error.message.replacingOccurrences(of: "\(finding.object): ", with: "")
            return Finding(object: finding.object, problem: "\(finding.problem); with the reader's key: \(detail)")
        } catch {
            return nil
        }
    }
}

/// Verify's checks of the blob folder, run on their own thread (the blobs on
/// `threads` more) while the caller compares the index: every blob of the
/// replayed state, then the entries of the vault folder and of `blobs/`.
final class BackgroundChecks: @unchecked Sendable {
    struct Results {
        /// The documents checked, in ledger order.
        let documents: [LedgerState.Document]
        let blobs: BlobChecker.Results
        let strays: [Finding]
    }

    private let done = DispatchSemaphore(value: 0)
    private var results: Results?

    init(_ vault: Vault, state: LedgerState, threads: Int) {
        let documents = state.documents.values.sorted { $0.sequence < $1.sequence }
        let blobNames = state.blobNames, superseded = state.supersededBlobs
        let thread = Thread { [self] in
            let blobs = BlobChecker.check(documents, store: vault.blobs, threads: threads)
            results = Results(documents: documents, blobs: blobs, strays: vault.strayEntries(named: blobNames, superseded: superseded))
            done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// The results, once both checks are done.
    func wait() -> Results {
        done.wait()
        done.signal()
        return results!
    }
}

/// Hashes blobs in parallel and compares them with the ledger.
enum BlobChecker {
    struct Results {
        var findings: [Finding] = []
        var bytes: UInt64 = 0
    }

    static func check(_ records: [LedgerState.Document], store: BlobStore, threads: Int) -> Results {
        let lock = NSLock()
        nonisolated(unsafe) var perDocument = [Finding?](repeating: nil, count: records.count)
        nonisolated(unsafe) var bytes: UInt64 = 0
        let next = ManagedCounter()
        let group = DispatchGroup()
        for _ in 0..<max(1, threads) {
            DispatchQueue.global().async(group: group) {
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
                defer { buffer.deallocate() }
                let hasher = SHA256Hasher()
                while let index = next.take(below: records.count) {
                    let (finding, hashed) = checkOne(records[index], store: store, buffer: buffer, hasher: hasher)
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

    static let hashMismatch = "blob SHA-256 does not match the ledger: the content differs from what was recorded (bit rot or tampering)"

    /// Checks one blob: present, a regular file, of the recorded size and SHA-256.
    /// A blob that fits in `buffer` is hashed in one call of `hasher` (most are small).
    static func checkOne(_ record: LedgerState.Document, store: BlobStore, buffer: UnsafeMutableRawBufferPointer,
                         hasher: SHA256Hasher) -> (Finding?, UInt64) {
        var object: String { "document \(record.documentID.hex)" }
        let file: ReadableFile
        do { file = try store.open(record.blobHash, what: "blob") } catch let error as VaultError where error.kind == .notFound {
            return (Finding(object: object, problem: "its blob \(Hex.encode(record.blobHash)) is missing"), 0)
        } catch {
            return (Finding(object: object, problem: "its blob cannot be read: \(error)"), 0)
        }
        guard file.size == record.blobSize else {
            return (Finding(object: object, problem: "blob is \(file.size) bytes, the ledger records \(record.blobSize) (truncated or extended)"), 0)
        }
        if record.blobSize <= UInt64(buffer.count) {
            let got: Int
            do { got = try file.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<Int(record.blobSize)])) } catch {
                return (Finding(object: object, problem: "blob cannot be read: \(error)"), 0)
            }
            guard hasher.hash(UnsafeRawBufferPointer(rebasing: buffer[0..<got])).bytes == record.blobHash else {
                return (Finding(object: object, problem: hashMismatch), UInt64(got))
            }
            return (nil, UInt64(got))
        }
        var hash = SHA256Stream()
        var total: UInt64 = 0
        do {
            // Exactly the size fstat gave (and the ledger records): no read is spent finding the end.
            while total < record.blobSize {
                let want = Int(min(UInt64(buffer.count), record.blobSize - total))
                let got = try file.readFully(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]))
                if got == 0 { break }
                hash.update(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
                total += UInt64(got)
            }
        } catch {
            return (Finding(object: object, problem: "blob cannot be read: \(error)"), total)
        }
        guard hash.finalize() == record.blobHash else { return (Finding(object: object, problem: hashMismatch), total) }
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
    /// Removes blobs superseded by `document.reencrypt` events (the signed purge
    /// record), and blob files that no ledger event names (orphans of interrupted
    /// adds or re-encryptions, injected files) and leftover temporary files when
    /// older than `minimumAge` seconds, so that a blob an add is still committing
    /// is never touched.
    /// The ledger must replay cleanly first. Returns the names removed.
    public func removeOrphans(minimumAge: TimeInterval = 600, now: Date = Date()) throws -> [String] {
        let state = try replay()
        // Every blob name must be in memory (a replay from genesis): a name missing here would be removed.
        guard state.isComplete else { throw VaultError(.integrity, "clean needs the whole ledger replayed") }
        let handle = try blobs.requireHandle()
        var removed: [String] = []
        // Only names evault itself gives blobs and temporary files, only regular
        // files (never a link, FIFO or folder), only inside the blob folder's
        // handle: a planted link cannot turn this into a removal elsewhere (THREATS.md 41).
        for (name, type) in try handle.entries().sorted(by: { $0.name < $1.name })
        where (BlobStore.isBlobName(name) && (!state.blobNames.contains(name) || state.supersededBlobs[name] != nil)) || BlobStore.isTemporaryName(name) {
            // A superseded blob is named by a signed `document.reencrypt`: removed at once.
            // Anything else only when old enough that no add can still be committing it.
            guard case .regular(_, let modified) = type,
                  state.supersededBlobs[name] != nil || now.timeIntervalSince1970 - TimeInterval(modified) >= minimumAge else { continue }
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
    func strayEntries(named blobNames: Set<String>, superseded: [String: UInt64] = [:]) -> [Finding] {
        var findings: [Finding] = []
        do {
            for (name, type) in try folderHandle.entries(kindsOnly: true).sorted(by: { $0.name < $1.name }) {
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
        do { entries = try blobs.entries(kindsOnly: true) } catch {
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
            } else if superseded[name] != nil {
                continue  // superseded by a signed re-encryption: 'evault clean' removes it; nothing is wrong
            } else if !blobNames.contains(name) {
                findings.append(Finding(object: object, problem: "is not named by any ledger event (an orphan of an interrupted add, an add still in progress, or injected); 'evault clean' removes it"))
            }
        }
        return findings
    }
}
