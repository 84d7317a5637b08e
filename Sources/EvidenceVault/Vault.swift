import Foundation
import GRDB
import Logging
import VaultCrypto

/// An evidence vault: a folder holding `vault.sqlite` (the signed ledger and
/// the index projected from it) and `blobs/` (write-once encrypted documents).
///
/// One method per user operation. Every state change is one signed event,
/// committed with the index rows it implies in one SQLite transaction; every
/// operation first replays the ledger (chain, signatures, authorisation), so
/// nothing is trusted because the index says so.
public final class Vault: @unchecked Sendable {
    /// The vault folder, as given.
    public let folder: String
    /// The vault folder, opened once: everything inside it is reached through this handle.
    let folderHandle: FolderHandle
    let database: DatabaseQueue
    /// Whether this instance may write (`open(at:access:)`).
    public let access: Access
    let blobs: BlobStore
    let calls: SystemCalls
    let logger: Logger
    /// What this machine remembers about vaults (nil: no anchoring, e.g. in tests and the demo).
    public let knownVaults: KnownVaults?
    /// What became of the kept ledger state in the last replay (tests and `vault-bench` read it).
    var keptStateOutcome: KeptState.Outcome {
        get { outcomeLock.withLock { outcome } }
        set { outcomeLock.withLock { outcome = newValue } }
    }
    private let outcomeLock = NSLock()
    private var outcome = KeptState.Outcome.absent

    static let databaseName = "vault.sqlite"
    static let blobFolderName = "blobs"

    /// Names evault itself may create in the vault folder; anything else is reported by `verify`.
    static func isOwnName(_ name: String) -> Bool {
        [databaseName, "\(databaseName)-wal", "\(databaseName)-shm", "\(databaseName)-journal", blobFolderName].contains(name)
            || name.hasPrefix("\(databaseName).corrupt-") || name.hasPrefix(".\(databaseName).rebuild-")
    }

    private init(folder: String, handle: FolderHandle, database: DatabaseQueue, access: Access, calls: SystemCalls, logger: Logger,
                 knownVaults: KnownVaults? = nil) {
        self.folder = folder
        self.access = access
        self.folderHandle = handle
        self.knownVaults = knownVaults
        self.database = database
        self.blobs = BlobStore(folder: "\(folder)/\(Self.blobFolderName)",
                               handle: Result { try FolderHandle(child: Self.blobFolderName, of: handle, what: "blob folder") }
                                   .mapError { $0 as? VaultError ?? VaultError(.io, "\($0)") },
                               calls: calls)
        self.calls = calls
        self.logger = logger
    }

    // MARK: create and open

    /// Creates a vault in `folder` (which must not exist or be empty) and writes
    /// its genesis event, naming the vault id and its creator.
    public static func create(at folder: String, creator: UnlockedIdentity, calls: SystemCalls = POSIXCalls(),
                              logger: Logger = VaultLogging.silent, knownVaults: KnownVaults? = nil, now: Date = Date()) throws -> Vault {
        let manager = FileManager.default
        if manager.fileExists(atPath: folder) {
            let contents = (try? manager.contentsOfDirectory(atPath: folder)) ?? ["?"]
            guard contents.isEmpty else {
                throw VaultError(.alreadyExists, "\(folder) already exists and is not empty; refusing to create a vault there")
            }
        }
        do {
            try manager.createDirectory(atPath: "\(folder)/\(blobFolderName)", withIntermediateDirectories: true,
                                        attributes: [.posixPermissions: 0o700])
            try manager.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
        } catch {
            throw VaultError(.io, "cannot create vault folder \(folder): \(error.localizedDescription)")
        }
        let handle = try FolderHandle(path: folder, followingLink: true, what: "vault folder")
        let vault = try Vault(folder: folder, handle: handle, database: openDatabase(folder: folder, handle: handle, access: .write, creating: true),
                              access: .write, calls: calls, logger: logger, knownVaults: knownVaults)
        let vaultID = try ObjectID.random()
        _ = try vault.append(as: creator, now: now, creatingVault: true) { state in
            guard state.count == 0 else { throw VaultError(.alreadyExists, "\(folder) already holds a vault") }
            return .genesis(vaultID: vaultID, creator: creator.publicIdentity)
        }
        try vault.folderHandle.sync(calls: calls)
        logger.info("vault created", metadata: ["vault": "\(vaultID.hex)"])
        return vault
    }

    /// What an opened vault may do to its database.
    public enum Access: Sendable {
        /// Read only: `vault.sqlite` is opened with `SQLITE_OPEN_READONLY` and
        /// `query_only`, never migrated, never written (list, show, log, verify, clean, trust).
        case read
        /// Appends events and repairs the index: migrations run, after recognition.
        case write
    }

    /// Opens an existing vault. With `knownVaults`, every replay is checked
    /// against what this machine remembers (see `KnownVaults`). Whatever the
    /// access, a `vault.sqlite` that is not an evault database of a schema this
    /// code knows (foreign, damaged beyond its header, or newer) is refused and
    /// left as it is.
    public static func open(at folder: String, access: Access = .write, calls: SystemCalls = POSIXCalls(),
                            logger: Logger = VaultLogging.silent, knownVaults: KnownVaults? = nil) throws -> Vault {
        let handle: FolderHandle
        do { handle = try FolderHandle(path: folder, followingLink: true, what: "vault folder") } catch let error as VaultError where error.kind == .notFound {
            throw VaultError(.notFound, "no vault at \(folder)", hint: "create one with 'evault init --vault DIR', or set EVAULT_VAULT")
        }
        guard handle.entryType(databaseName) != .missing else {
            throw VaultError(.notFound, "no vault at \(folder) (no \(databaseName))",
                             hint: "create one with 'evault init --vault DIR', or set EVAULT_VAULT")
        }
        return try Vault(folder: folder, handle: handle, database: openDatabase(folder: folder, handle: handle, access: access),
                         access: access, calls: calls, logger: logger, knownVaults: knownVaults)
    }

    /// Refuses a database, WAL or shared-memory file that is a link, FIFO,
    /// device or folder: SQLite would follow or block on it (THREATS.md 41).
    private static func checkDatabaseFiles(in handle: FolderHandle) throws {
        for name in [databaseName, "\(databaseName)-wal", "\(databaseName)-shm", "\(databaseName)-journal"] {
            let type = handle.entryType(name)
            guard type == .missing || type.isRegular else {
                throw VaultError(.integrity, "\(handle.display(name)) is \(type), not a regular file: refused",
                                 hint: "whoever holds the storage may have planted it; restore the vault from a backup")
            }
        }
    }

    /// Opens `vault.sqlite`. An existing file is first recognised as an evault
    /// database of a known schema (`DatabaseRecognition`) over a read-only
    /// connection; only then, and only for `.write`, is anything written to it
    /// (journal mode, migrations). `creating` is for `create`, where SQLite makes the file.
    private static func openDatabase(folder: String, handle: FolderHandle, access: Access, creating: Bool = false) throws -> DatabaseQueue {
        try checkDatabaseFiles(in: handle)
        let display = handle.display(databaseName)
        if !creating { try DatabaseRecognition.checkBeforeOpening(databaseName, in: handle) }
        func configuration(_ access: Access) -> Configuration {
            var configuration = Configuration()
            configuration.readonly = access == .read
            configuration.busyMode = .timeout(30)
            configuration.prepareDatabase { db in
                // The schema may have been written by whoever holds the storage: never run
                // functions from it in triggers or views (SQLite's trusted_schema).
                try db.execute(sql: "PRAGMA trusted_schema = OFF")
                if access == .read { try db.execute(sql: "PRAGMA query_only = ON") } else { try db.execute(sql: "PRAGMA synchronous = FULL") }
            }
            return configuration
        }
        do {
            let path = "\(folder)/\(databaseName)"
            if !creating {
                // Recognised over a read-only connection before any connection that could write exists.
                let reader = try DatabaseQueue(path: path, configuration: configuration(.read))
                _ = try reader.read { try DatabaseRecognition.recognise($0, display: display) }
                if access == .read { return reader }
                try reader.close()
            }
            let queue = try DatabaseQueue(path: path, configuration: configuration(.write))
            // Again on the file this connection holds open: the path may have been swapped
            // since the check above. Every write transaction checks once more.
            if !creating { _ = try queue.read { try DatabaseRecognition.recognise($0, display: display) } }
            // Owner-only, before the WAL exists (SQLite gives the WAL the database's mode).
            if creating { chmod(path, 0o600) }
            try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA journal_mode = WAL") }
            try Schema.migrator.migrate(queue)
            return queue
        } catch let error as DatabaseError {
            throw VaultError(.integrity, "vault database \(folder)/\(databaseName) cannot be opened: \(error.message ?? "SQLite error \(error.resultCode)")",
                             hint: "'evault verify' says what is damaged; 'evault index rebuild' repairs a damaged index while the ledger survives; otherwise restore vault.sqlite from a backup")
        }
    }

    /// Refuses a write on a vault opened with `.read` (a caller's mistake, caught
    /// before any blob or row is written).
    func requireWriteAccess() throws {
        guard access == .write else {
            throw VaultError(.invalidInput, "\(folder) was opened read-only; open it with access .write to change it")
        }
    }

    // MARK: ledger

    /// Replays the whole ledger; fails closed on the first violation, and on a
    /// vault that contradicts what this machine remembers (`KnownVaults`).
    public func replay() throws -> LedgerState {
        try replay(for: nil)
    }

    /// The verified state of the ledger. With `actor`, and a vault this machine
    /// knows, it starts from the state `actor` verified and kept here before
    /// (`KeptState`) and replays only the events after it; then keeps the result.
    func replay(for actor: UnlockedIdentity?) throws -> LedgerState {
        // What this machine remembers is read first: heads are remembered only after
        // their commit, so the ledger read next is at least as long as any of them.
        let pin = try knownVaults?.pin(for: folder)
        let kept = keptState(for: actor, pin: pin)
        // Every event after the kept state's head (authenticated under the actor's own key)
        // has its signature checked, on both cores. Nothing in `known-vaults.json`, which is
        // not authenticated, decides which signatures are skipped (fresh review of 2026-12-04).
        func replayAndAnchor(from kept: KeptState?) throws -> (LedgerState, UInt64) {
            let (state, start) = try databaseAccess {
                try database.read { db in
                    let start = try startingState(kept, db)
                    return (try Self.replay(db, onto: start), start.count)
                }
            }
            // anchor() compares the remembered head's hash; read from a kept page, a damaged
            // page must surface here as damage (a replay from genesis), not as a rewritten history.
            if let head = pin?.rememberedHead, head < state.count { _ = try state.eventHash(at: head) }
            try anchor(state, pin: pin)
            if let actor { try requireTrustedByIdentity(state, actor: actor) }
            return (state, start)
        }
        let (state, start): (LedgerState, UInt64)
        do {
            do {
                (state, start) = try replayAndAnchor(from: kept)
            } catch let damaged as KeptPageError where damaged.superseded {
                (state, start) = try replayAndAnchor(from: kept)  // another process saved meanwhile: its root
            }
        } catch let damaged as KeptPageError {
            // Damaged, or superseded again: verified from genesis instead.
            refuse(kept, damaged)
            (state, start) = try replayAndAnchor(from: nil)
        }
        keep(state, in: kept, advancedFrom: start)
        return state
    }

    /// Runs `body` on the verified state for `actor`; if a page of the kept state
    /// turns out damaged while `body` reads it, the kept state is dropped and
    /// `body` runs again on a replay from genesis (nothing damaged is ever used).
    func withVerifiedState<T>(for actor: UnlockedIdentity?, _ body: (LedgerState) throws -> T) throws -> T {
        do {
            do {
                return try body(try replay(for: actor))
            } catch let damaged as KeptPageError where damaged.superseded {
                // A newer root was saved while this one read (by another process, or by this
                // replay extending an older kept state): start again from it, once.
                return try body(try replay(for: actor))
            }
        } catch let damaged as KeptPageError {
            let kept = keptState(for: actor, pin: try knownVaults?.pin(for: folder))
            refuse(kept, damaged)
            let full = try replay(for: nil)
            keep(full, in: kept, advancedFrom: 0)
            return try body(full)
        }
    }

    /// Reports a kept state whose page failed its check, and removes it.
    func refuse(_ kept: KeptState?, _ damaged: KeptPageError) {
        keptStateOutcome = .rejected("\(damaged)")
        warnRefused(kept?.path ?? "?", why: "\(damaged)")
        kept?.discard()
    }

    /// The one warning a refused kept state gets (Docs/CLI.md quotes it).
    private func warnRefused(_ path: String, why: String) {
        logger.warning("the verified ledger state this machine kept for the vault was refused: it was altered (by someone who can write this machine's state folder) or damaged; the ledger was verified in full instead",
                       metadata: ["file": "\(path)", "why": "\(why)"])
    }

    /// Where `actor` keeps its verified state of this vault, if anywhere: only
    /// for a vault this machine knows (the pin names its id).
    func keptState(for actor: UnlockedIdentity?, pin: KnownVaults.Pin?) -> KeptState? {
        guard let actor, let knownVaults, let vaultID = pin?.vaultAtPath else { return nil }
        return try? KeptState(stateFolder: knownVaults.folder, vaultID: vaultID, actor: actor)
    }

    /// The state to replay onto: the kept one if it authenticates and the ledger
    /// still holds its head, else the empty state (a full replay). A refusal is
    /// reported (`keptStateOutcome`, a warning), never used.
    func startingState(_ kept: KeptState?, _ db: Database) throws -> LedgerState {
        guard let kept else { return LedgerState() }  // no kept state involved: the outcome of the last one stands
        let (loaded, outcome) = kept.load()
        guard let loaded else {
            keptStateOutcome = outcome
            if case .rejected(let why) = outcome { warnRefused(kept.path, why: why) }
            return LedgerState()
        }
        guard try KeptState.ledgerHoldsHead(of: loaded, db) else {
            // This identity verified a ledger that held this head, and kept it under its own key:
            // the vault was cut, rolled back or rewritten, whatever `known-vaults.json` now says.
            keptStateOutcome = .rejected("its head, event \(loaded.count - 1), is not in the ledger")
            throw keptHeadMissing(loaded, kept, ledgerCount: try StoredEvent.claimedLength(db)) { sequence in
                try? Data.fetchOne(db, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(clamping: sequence)]).map { SHA256Stream.hash($0) }
            }
        }
        keptStateOutcome = outcome
        return loaded
    }

    /// The error for a ledger that lacks the head `kept` proves (`loaded` is its
    /// state), saying which of three it is: another vault (its first event
    /// differs), a rewritten history (another event at the head's position), or
    /// a rollback or cut (the ledger ends before it). Only the last may be an
    /// older copy restored on purpose (`trust --accept-older`).
    private func keptHeadMissing(_ loaded: LedgerState, _ kept: KeptState, ledgerCount: UInt64,
                                 hashAt: (UInt64) -> [UInt8]?) -> VaultError {
        let head = loaded.count - 1
        let proof = "(its kept ledger state, \(kept.path))"
        let problem: String
        if let genesis = loaded.genesisHash, ledgerCount > 0, let first = hashAt(0), first != genesis {
            problem = "is not the vault this identity verified there \(proof): its first event differs, so it was replaced by another vault"
        } else if ledgerCount > head {
            problem = "has a different event \(head) than this identity verified \(proof): its history was rewritten"
        } else {
            problem = "does not hold event \(head) as this identity verified it \(proof): it was rolled back or cut"
        }
        return Self.anchorError(folder: folder, problem: problem)
    }

    /// Refuses a ledger replayed from genesis (`log`, `exposure`; `verify`
    /// reports it) that does not hold the head `actor`'s authentic kept state
    /// proves: the vault was cut, rolled back or rewritten below a head this
    /// identity verified, whatever `known-vaults.json` says (Docs/FORMAT.md §11).
    func requireKeptHead(in state: LedgerState, for actor: UnlockedIdentity) throws {
        guard let kept = keptState(for: actor, pin: try knownVaults?.pin(for: folder)) else { return }
        guard case (let loaded?, .used) = kept.load(), loaded.count > 0 else { return }
        guard state.count >= loaded.count, try state.eventHash(at: loaded.count - 1) == loaded.headHash else {
            throw keptHeadMissing(loaded, kept, ledgerCount: state.count) { try? state.eventHash(at: $0) }
        }
    }

    /// Keeps `state` when it moved past what was kept (best effort: a state not
    /// kept costs only a longer replay next time).
    func keep(_ state: LedgerState, in kept: KeptState?, advancedFrom start: UInt64) {
        // A state from genesis, or one that moved past the kept head.
        guard let kept, state.count > start || state.isComplete else { return }
        do { try kept.save(state, caseFields: sealedFields(state).fields(of:)) } catch let damaged as KeptPageError where damaged.superseded {
            // Another process kept a newer state meanwhile: nothing to do.
        } catch {
            logger.warning("could not keep the verified ledger state", metadata: ["file": "\(kept.path)", "error": "\(error)"])
        }
    }

    /// Refuses a state that contradicts the pin or that this machine was never
    /// told to trust, then remembers its head.
    func anchor(_ state: LedgerState, pin: KnownVaults.Pin?) throws {
        guard let knownVaults, let pin else { return }
        try knownVaults.requireTrusted(state, pin: pin, folder: folder, nothingWritten: false)
        try knownVaults.remember(state, folder: folder)
    }

    static func anchorError(folder: String, problem: String) -> VaultError {
        let rolledBack = problem.contains("rolled back or cut")
        return VaultError(.integrity, "the vault at \(folder) \(problem)",
                          hint: rolledBack
                              ? "someone may have rolled back the vault; compare with a backup or another member's copy. If you restored an older copy yourself, accept it with 'evault trust --vault \(folder) --accept-older'"
                              : "someone may have replaced the vault or rewritten its history; do not use it, and compare with a backup or another member's copy")
    }

    /// A replay for refusing early, before the passphrase is asked, what the
    /// real operation would refuse anyway (an untrusted vault, an unknown case or
    /// document). Signatures are NOT checked: its state decides nothing, shows
    /// nothing and signs nothing; the operation itself replays verified.
    func precheckState() throws -> LedgerState {
        let pin = try knownVaults?.pin(for: folder)
        let state = try databaseAccess { try database.read { db in try Self.replay(db, onto: LedgerState(), checkingSignatures: false) } }
        if let knownVaults, let pin { try knownVaults.requireTrusted(state, pin: pin, folder: folder, nothingWritten: true) }
        return state
    }

    /// Applies the events after `state`'s head, every signature checked (on both cores).
    /// - Parameter checkingSignatures: false only for `precheckState`.
    /// - Parameter observe: called after each event is applied, with the state after it.
    static func replay(_ db: Database, onto initial: LedgerState, checkingSignatures: Bool = true,
                       observe: ((Event, LedgerState) throws -> Void)? = nil) throws -> LedgerState {
        var state = initial
        let rows = try StoredEvent.fetch(db, from: state.count)
        var run: [Event] = []
        func applyRun() throws {
            // Signatures are checked on both cores first.
            let keys = checkingSignatures ? SignatureBatch.verify(run, against: state, threads: 2, skip: { _ in false }) : []
            for (index, event) in run.enumerated() {
                do {
                    try state.apply(event, signatureAlreadyVerified: !checkingSignatures, preVerified: keys.isEmpty ? nil : keys[index])
                } catch let violation as LedgerViolation {
                    throw VaultError(.integrity, "\(violation)", hint: "run 'evault verify' for a full report")
                }
                try observe?(event, state)
            }
            run.removeAll(keepingCapacity: true)
        }
        while let row = try rows.next() {
            do { run.append(try StoredEvent(row).decode()) } catch {
                // Apply what came before, so that a broken chain is reported first, as in order.
                try applyRun()
                throw VaultError(.integrity, "\(error)", hint: "run 'evault verify' for a full report")
            }
            if run.count == SignatureBatch.runLength { try applyRun() }
        }
        try applyRun()
        return state
    }

    /// Appends one event built from the current state, signed by `actor`, with
    /// its index rows, in one IMMEDIATE transaction (see `appendEvents`).
    @discardableResult
    func append(as actor: UnlockedIdentity, now: Date = Date(), state cached: LedgerState? = nil, creatingVault: Bool = false,
                _ makeBody: (LedgerState) throws -> EventBody) throws -> (Event, LedgerState) {
        let (events, state) = try appendEvents(as: actor, now: now, state: cached, creatingVault: creatingVault) { [try makeBody($0)] }
        guard let event = events.first else { throw VaultError(.io, "transaction did not complete") }
        return (event, state)
    }

    /// Appends the events built from the current state, signed by `actor`, with
    /// their index rows, in one IMMEDIATE transaction: all of them commit or none
    /// does. Concurrent writers (other processes) serialise here and each sees the
    /// other's events first, so the ledger stays a single chain (THREATS.md 36).
    @discardableResult
    func appendEvents(as actor: UnlockedIdentity, now: Date = Date(), state cached: LedgerState? = nil, creatingVault: Bool = false,
                      _ makeBodies: (LedgerState) throws -> [EventBody]) throws -> ([Event], LedgerState) {
        try requireWriteAccess()
        var result: ([Event], LedgerState)?
        let kept = creatingVault ? nil : keptState(for: actor, pin: try knownVaults?.pin(for: folder))
        do { try databaseAccess { try database.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                // Under the write lock, on the file this connection writes: the one
                // checked at open may have been swapped since (THREATS.md 53).
                if !creatingVault { _ = try DatabaseRecognition.recognise(db, display: folderHandle.display(Self.databaseName)) }
                if let cached, cached.count > 0 {
                    // The ledger must still hold the head this state was built on (no rollback underneath us).
                    // Hash the stored bytes: the hash column is whatever the storage says.
                    guard try KeptState.ledgerHoldsHead(of: cached, db) else {
                        throw VaultError(.integrity, "the ledger changed underneath this operation (event \(cached.count - 1) differs or vanished)",
                                         hint: "run 'evault verify'")
                    }
                }
                // Holding the write lock: every remembered head belongs to a commit before ours.
                let pin = try knownVaults?.pin(for: folder)
                let start = try cached ?? (creatingVault ? LedgerState() : startingState(kept, db))
                var state = try Self.replay(db, onto: start)
                // Never sign on top of a vault that was swapped, rolled back or never
                // trusted here (THREATS.md 26, 48); a new genesis is this machine's own doing.
                if !creatingVault, let knownVaults, let pin {
                    try knownVaults.requireTrusted(state, pin: pin, folder: folder, nothingWritten: true)
                    try requireTrustedByIdentity(state, actor: actor)
                }
                var events: [Event] = []
                for body in try makeBodies(state) {
                    let event = try Event(sequence: state.count, previousHash: state.headHash,
                                          time: UInt64(max(0, now.timeIntervalSince1970.rounded(.down))), signer: actor, body: body)
                    let rows = IndexRow.rows(for: event, before: state)
                    do { try state.apply(event) } catch let violation as LedgerViolation {
                        throw VaultError(.notPermitted, "\(violation.reason)")
                    }
                    try db.execute(sql: "INSERT INTO events (seq, hash, bytes) VALUES (?, ?, ?)",
                                   arguments: [Int64(event.sequence), Data(event.hash), Data(event.encoded)])
                    for row in rows { try row.insert(db) }
                    events.append(event)
                }
                result = (events, state)
                return .commit
            }
        } } } catch let damaged as KeptPageError {
            // Rolled back: nothing was written. The damaged kept state is gone; a new run replays in full.
            guard !damaged.superseded else {
                throw VaultError(.io, "another evault process updated this machine's kept ledger state during this operation; nothing was written",
                                 hint: "run the command again")
            }
            refuse(kept, damaged)
            throw VaultError(.integrity, "the verified ledger state this machine kept for the vault was damaged or altered (\(damaged)); nothing was written",
                             hint: "run the command again: the ledger will be verified in full")
        }
        guard let result else { throw VaultError(.io, "transaction did not complete") }
        // Committed: from here nothing may report failure. Remembering the new head
        // is best effort (it only moves forward); the next command re-checks anyway.
        do { try knownVaults?.remember(result.1, folder: folder, replacingPath: creatingVault, trusting: creatingVault) } catch {
            // A new vault this machine cannot remember would be refused by every later command: say so now.
            if creatingVault { throw VaultError(.io, "the vault was created, but this machine could not remember it: \(error)") }
            logger.warning("could not remember the new ledger head", metadata: ["error": "\(error)"])
        }
        if creatingVault {
            do { try bindTrust(result.1, for: actor) } catch {
                throw VaultError(.io, "the vault was created, but your identity's trust record could not be written: \(error)",
                                 hint: "run 'evault trust --vault \(folder) --identity FILE --genesis HASH' with the genesis hash 'evault verify' prints")
            }
        }
        keep(result.1, in: kept, advancedFrom: 0)
        for event in result.0 {
            logger.info("event appended", metadata: ["seq": "\(event.sequence)", "action": "\(event.body.action)"])
        }
        return result
    }

    /// Runs database work, turning SQLite failures (disk full, I/O error, a
    /// corrupt file, a lock held too long) into a `VaultError` naming the vault
    /// database. The transaction, if any, has been rolled back: nothing was written.
    func databaseAccess<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            let corrupt = [ResultCode.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode)
            throw VaultError(corrupt ? .integrity : .io,
                             "vault database \(folder)/\(Self.databaseName): \(error.message ?? "SQLite error \(error.resultCode)")",
                             hint: corrupt ? "run 'evault verify'; the index can be rebuilt from the ledger with 'evault index rebuild'" : nil)
        }
    }

    /// Drops the index tables and rebuilds them from the ledger, in one transaction.
    ///
    /// If SQLite reports the file corrupt (THREATS.md 38), the surviving ledger is
    /// copied into a fresh database with a freshly built index, which replaces the
    /// damaged file (kept beside it as `vault.sqlite.corrupt-<time>`); this `Vault`
    /// is then closed and must be opened again.
    public func rebuildIndex() throws -> Int {
        try requireWriteAccess()
        // The ledger the index is rebuilt from must be the one this machine knows.
        let pin = try knownVaults?.pin(for: folder)
        let check: (LedgerState) throws -> Void = { [self] state in try anchor(state, pin: pin) }
        do {
            return try database.writeWithoutTransaction { db in
                try Self.rebuildProjection(db, clearing: true, recognisingAs: folderHandle.display(Self.databaseName), check: check)
            }
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode.primaryResultCode) {
            return try rebuildIntoNewFile(check: check)
        }
    }

    /// Empties the projection tables and refills them from the `events` table, in one transaction.
    /// With `display`, the file this connection holds is recognised first, under
    /// the write lock (see `appendEvents`); a fresh file made by `rebuildIntoNewFile` needs no check.
    private static func rebuildProjection(_ db: Database, clearing: Bool, recognisingAs display: String? = nil,
                                          check: (LedgerState) throws -> Void) throws -> Int {
        var count = 0
        try db.inTransaction(.immediate) {
            if let display { _ = try DatabaseRecognition.recognise(db, display: display) }
            if clearing { for table in Schema.projectionTables { try db.execute(sql: "DELETE FROM \(table)") } }
            var state = LedgerState()
            let rows = try StoredEvent.fetch(db)
            while let row = try rows.next() {
                let event: Event
                do { event = try StoredEvent(row).decode() } catch {
                    throw VaultError(.integrity, "cannot rebuild the index: \(error)")
                }
                let indexRows = IndexRow.rows(for: event, before: state)
                do { try state.apply(event) } catch let violation as LedgerViolation {
                    throw VaultError(.integrity, "cannot rebuild the index: \(violation)")
                }
                for indexRow in indexRows { try indexRow.insert(db) }
                count += 1
            }
            try check(state)
            return .commit
        }
        return count
    }

    private func rebuildIntoNewFile(check: (LedgerState) throws -> Void) throws -> Int {
        let events: [(Int64, Data, Data)]
        do {
            events = try database.read { db in
                var events: [(Int64, Data, Data)] = []
                let rows = try StoredEvent.fetch(db)
                while let row = try rows.next() {
                    let event = try StoredEvent(row).decode()
                    events.append((Int64(event.sequence), Data(event.hash), Data(event.encoded)))
                }
                return events
            }
        } catch {
            throw VaultError(.integrity, "the ledger itself is damaged in \(folder)/\(Self.databaseName): \(error)",
                             hint: "restore the vault from a backup; 'evault verify' reports what is readable")
        }
        let freshName = ".\(Self.databaseName).rebuild-\(Hex.encodeRandomSuffix())"
        let fresh = "\(folder)/\(freshName)"
        var configuration = Configuration()
        configuration.journalMode = .wal
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        let queue = try DatabaseQueue(path: fresh, configuration: configuration)
        func discardFresh() {
            try? queue.close()
            for suffix in ["", "-wal", "-shm"] { try? folderHandle.remove(freshName + suffix) }
        }
        let count: Int
        do {
        try Schema.migrator.migrate(queue)
        count = try queue.writeWithoutTransaction { db in
            try db.inTransaction(.immediate) {
                for (seq, hash, bytes) in events {
                    try db.execute(sql: "INSERT INTO events (seq, hash, bytes) VALUES (?, ?, ?)", arguments: [seq, hash, bytes])
                }
                return .commit
            }
            let count = try Self.rebuildProjection(db, clearing: false, check: check)
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            return count
        }
        } catch {
            discardFresh()
            throw error
        }
        try queue.close()
        try database.close()
        let damaged = Self.databaseName
        let keep = "\(damaged).corrupt-\(Int(Date().timeIntervalSince1970))"
        try folderHandle.rename(damaged, to: keep)
        for suffix in ["-wal", "-shm"] { try? folderHandle.remove(damaged + suffix) }
        for suffix in ["-wal", "-shm"] { try? folderHandle.remove(freshName + suffix) }
        try folderHandle.rename(freshName, to: damaged)
        try folderHandle.sync(calls: calls)
        logger.warning("index rebuilt into a new database file", metadata: ["kept": "\(keep)"])
        return count
    }
}
