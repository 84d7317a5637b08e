import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// What a user's machine remembers about the vaults it has used: which vault
/// lives at each folder path, and for each vault its genesis, creator and the
/// last ledger head this machine verified.
///
/// This is the trust anchor the storage cannot rewrite: a vault swapped for
/// another at a path (a forged genesis, also through a symbolic link), an older
/// copy restored, or a ledger cut back below or rewritten at the last head seen
/// (THREATS.md 26) is refused before anything is read or signed.
///
/// First use is explicit (THREATS.md 48): a vault enters this file only when
/// this machine created it (`Vault.create`) or was told to trust it
/// (`Vault.trust`, `evault trust`, with its genesis hash or creator given out of
/// band). Every command but a keyless `verify` refuses a vault that is not here.
///
/// Stored as JSON (public values only, Docs/FORMAT.md §10) in `known-vaults.json`
/// under `$EVAULT_STATE_DIR`, else `$XDG_STATE_HOME/evault`, else
/// `~/.local/state/evault`; every read-modify-write holds an exclusive `flock`
/// on `known-vaults.lock`, so concurrent processes never lose an update, and
/// heads only move forward.
public final class KnownVaults: @unchecked Sendable {
    /// One remembered vault.
    public struct Entry: Codable, Equatable, Sendable {
        public var genesisHash: String
        public var creator: String
        public var headSequence: UInt64
        public var headHash: String
        /// Group names of the vault at that head (to spot an impostor that reuses them).
        public var groups: [String]?
        /// Case ids (hex) of the vault at that head: its first `maxRememberedCases`
        /// in ledger order (enough to spot an impostor that copies them, and a file
        /// that every command reads stays small).
        public var cases: [String]?
    }

    /// The whole file: vaults by id, and which vault each folder path holds.
    struct Contents: Codable, Equatable {
        var version = 1
        var vaults: [String: Entry] = [:]
        var paths: [String: String] = [:]
    }

    /// What is remembered about one folder, read before its ledger is read.
    public struct Pin: Sendable {
        /// The vault id remembered at this path, if any.
        let vaultAtPath: String?
        /// Everything remembered, by vault id.
        let vaults: [String: Entry]

        /// The head remembered for the vault at this path. It is checked against
        /// the ledger (`problem(with:)`), never trusted to skip a signature: this
        /// file is not authenticated.
        var rememberedHead: UInt64? { vaultAtPath.flatMap { vaults[$0]?.headSequence } }

    }

    /// Most case ids remembered per vault (`Entry.cases`).
    static let maxRememberedCases = 256

    /// The file the entries live in.
    public let path: String
    /// The machine's state folder that holds it (and the kept ledger states, `KeptState`).
    public var folder: String { (path as NSString).deletingLastPathComponent }

    /// Uses `path` (created on first write).
    public init(path: String) {
        self.path = path
    }

    /// The current user's file, from the environment.
    public static func forCurrentUser() -> KnownVaults {
        let environment = ProcessInfo.processInfo.environment
        let folder: String
        if let explicit = environment["EVAULT_STATE_DIR"], !explicit.isEmpty {
            folder = explicit
        } else if let state = environment["XDG_STATE_HOME"], !state.isEmpty {
            folder = "\(state)/evault"
        } else {
            folder = "\(environment["HOME"] ?? NSHomeDirectory())/.local/state/evault"
        }
        return KnownVaults(path: "\(folder)/known-vaults.json")
    }

    /// Reads what is remembered for `folder`. Call it *before* reading the ledger:
    /// heads are remembered only after their events committed, so a ledger read
    /// afterwards is at least as long as any head in the pin.
    func pin(for folder: String) throws -> Pin {
        let contents = try withLock { try load() }
        return Pin(vaultAtPath: contents.paths[Self.key(folder)], vaults: contents.vaults)
    }

    /// Why `state` (a full replay of `folder`, read after `pin` was taken) contradicts the pin, or nil.
    func problem(with state: LedgerState, pin: Pin, folder: String) -> String? {
        guard let vaultID = state.vaultID?.hex, let genesis = state.genesisHash else {
            return pin.vaultAtPath.map { "has no ledger (no genesis event), but this machine used vault \($0) there before" }
        }
        if let remembered = pin.vaultAtPath, remembered != vaultID {
            return "is vault \(vaultID), not vault \(remembered) that this machine used there before (a different genesis)"
        }
        guard let entry = pin.vaults[vaultID] else { return nil }  // first use of this vault
        guard Hex.encode(genesis) == entry.genesisHash else {
            return "has a different genesis event than vault \(vaultID) had when this machine used it"
        }
        guard entry.headSequence < state.count else {
            return "has \(state.count) ledger event(s), fewer than the \(entry.headSequence + 1) this machine saw before: it was rolled back or cut"
        }
        guard ((try? state.eventHash(at: entry.headSequence)).map(Hex.encode) ?? "?") == entry.headHash else {
            return "has a different ledger event \(entry.headSequence) than this machine saw before: its history was rewritten"
        }
        return nil
    }

    /// Refuses `state` if it contradicts the pin (integrity) or if this machine
    /// was never told to trust its vault (`untrusted`, naming vault id, creator
    /// and genesis hash, and any group names or case ids it shares with a vault
    /// this machine knows).
    func requireTrusted(_ state: LedgerState, pin: Pin, folder: String, nothingWritten: Bool) throws {
        if let problem = problem(with: state, pin: pin, folder: folder) {
            throw Vault.anchorError(folder: folder, problem: nothingWritten ? problem + "; nothing was written" : problem)
        }
        guard let vaultID = state.vaultID?.hex, pin.vaults[vaultID] == nil else { return }
        let creator = state.creator.map { "\(state.displayName(of: $0)) (\($0.readable))" } ?? "?"
        let genesis = state.genesisHash.map(Hex.encode) ?? "?"
        let reuse = Self.reuse(of: state, among: pin.vaults)
        let warning: SafeText = reuse.isEmpty ? "" : " WARNING: it reuses \(reuse.joined(separator: "; ")) of a vault this machine knows: it may be an impostor."
        throw VaultError(.untrusted, "the vault at \(folder) is not trusted on this machine: vault id \(vaultID), created by \(creator), genesis \(genesis).\(warning)\(nothingWritten ? " Nothing was written." : "")",
                         hint: "check the genesis hash (or vault id and creator fingerprint) with your custodian over another channel, then run 'evault trust --vault \(folder) --genesis HASH'")
    }

    /// What `state` shares with other vaults this machine knows: group names and case ids.
    static func reuse(of state: LedgerState, among vaults: [String: Entry]) -> [String] {
        let vaultID = state.vaultID?.hex
        var found: [String] = []
        for (otherID, entry) in vaults.sorted(by: { $0.key < $1.key }) where otherID != vaultID {
            let groupNames = Set(entry.groups ?? []).intersection(state.groups.values.map(\.name))
            let caseIDs = Set(entry.cases ?? []).intersection(((try? state.allCases()) ?? []).map(\.id.hex))
            if !groupNames.isEmpty { found.append("group name(s) \(groupNames.sorted().joined(separator: ", ")) of vault \(otherID)") }
            if !caseIDs.isEmpty { found.append("\(caseIDs.count) case id(s) of vault \(otherID)") }
        }
        return found
    }

    /// Remembers `state`'s head for a vault this machine trusts (moving heads
    /// forward only); a vault it does not know is not added unless `trusting`
    /// (a vault this machine just created). Call it only for a state replayed
    /// with every signature verified, or beyond a head that was (it is
    /// re-checked here against the file as it is now, under the lock, so that a
    /// concurrent process that remembered another fork in the meantime is
    /// noticed). `replacingPath`: a new vault at a reused path.
    func remember(_ state: LedgerState, folder: String, replacingPath: Bool = false, trusting: Bool = false) throws {
        guard let vaultID = state.vaultID?.hex, let genesis = state.genesisHash, let creator = state.creator, state.count > 0 else { return }
        try withLock {
            var contents = try load()
            let key = Self.key(folder)
            guard trusting || contents.vaults[vaultID] != nil else { return }
            // Re-check against the file as it is now. A head remembered meanwhile by another
            // process may be *longer* than this state (that is normal: it read later); but
            // where this state reaches that head it must hold the same event there, or the
            // two are forks of one vault and this one must not replace the other.
            if !replacingPath, let atPath = contents.paths[key], atPath != vaultID {
                throw Vault.anchorError(folder: folder, problem: "is vault \(vaultID), not vault \(atPath) that this machine used there before (a different genesis)")
            }
            if let known = contents.vaults[vaultID] {
                guard known.genesisHash == Hex.encode(genesis) else {
                    throw Vault.anchorError(folder: folder, problem: "has a different genesis event than vault \(vaultID) had when this machine used it")
                }
                if known.headSequence < state.count, ((try? state.eventHash(at: known.headSequence)).map(Hex.encode) ?? "?") != known.headHash {
                    throw Vault.anchorError(folder: folder, problem: "has a different ledger event \(known.headSequence) than this machine saw before: its history was rewritten")
                }
            }
            // The known head is in this state's history (checked above): its first cases are this state's.
            let current = try Self.entry(for: state, genesis: genesis, creator: creator, firstCases: contents.vaults[vaultID]?.cases)
            var changed = false
            if contents.paths[key] == nil || (replacingPath && contents.paths[key] != vaultID) {
                contents.paths[key] = vaultID
                changed = true
            }
            if let known = contents.vaults[vaultID] {
                if current.headSequence > known.headSequence {
                    contents.vaults[vaultID] = current
                    changed = true
                }
            } else {
                contents.vaults[vaultID] = current
                changed = true
            }
            if changed { try save(contents) }
        }
    }

    /// What `trust` did.
    public enum TrustOutcome: Sendable, Equatable {
        /// The vault was not known here; it is now.
        case trusted
        /// It was already trusted at this head or behind it; nothing changed but the path.
        case alreadyTrusted
        /// An older copy was accepted: the remembered head moved back.
        case acceptedOlder(fromSequence: UInt64, toSequence: UInt64)
    }

    /// Records that this machine trusts `state`'s vault at `folder` (checked
    /// out of band by the caller). A copy behind the remembered head is
    /// accepted only with `acceptOlder`; a copy whose history differs from what
    /// was seen, or a different genesis under a known id, never.
    func trust(_ state: LedgerState, folder: String, acceptOlder: Bool) throws -> TrustOutcome {
        guard let vaultID = state.vaultID?.hex, let genesis = state.genesisHash, let creator = state.creator else {
            throw VaultError(.integrity, "the vault at \(folder) has no genesis event: nothing to trust")
        }
        let current = try Self.entry(for: state, genesis: genesis, creator: creator, firstCases: nil)
        return try withLock {
            var contents = try load()
            var outcome = TrustOutcome.trusted
            if let known = contents.vaults[vaultID] {
                guard known.genesisHash == current.genesisHash else {
                    throw VaultError(.integrity, "the vault at \(folder) claims id \(vaultID), which this machine knows with another genesis event: refused")
                }
                if known.headSequence < state.count {
                    guard ((try? state.eventHash(at: known.headSequence)).map(Hex.encode) ?? "?") == known.headHash else {
                        throw VaultError(.integrity, "the vault at \(folder) has a different ledger event \(known.headSequence) than this machine saw before: its history was rewritten, refused")
                    }
                    outcome = .alreadyTrusted
                    if current.headSequence > known.headSequence { contents.vaults[vaultID] = current }
                } else {
                    guard acceptOlder else {
                        throw VaultError(.integrity, "the vault at \(folder) is an older copy: \(state.count) event(s), where this machine saw \(known.headSequence + 1); refused",
                                         hint: "if you restored it from a backup on purpose, accept it with 'evault trust --vault \(folder) --accept-older'")
                    }
                    outcome = .acceptedOlder(fromSequence: known.headSequence, toSequence: current.headSequence)
                    contents.vaults[vaultID] = current
                }
            } else {
                contents.vaults[vaultID] = current
            }
            contents.paths[Self.key(folder)] = vaultID
            try save(contents)
            return outcome
        }
    }

    /// What is remembered of `state`. `firstCases`: the cases remembered at a
    /// head in this state's history; once they are `maxRememberedCases`, they are
    /// the first cases of every later head too (a case is never removed), so the
    /// case buckets are not read again.
    private static func entry(for state: LedgerState, genesis: [UInt8], creator: Fingerprint, firstCases: [String]?) throws -> Entry {
        let cases: [String]
        if let firstCases, firstCases.count >= maxRememberedCases {
            cases = firstCases
        } else {
            cases = try state.allCases().prefix(maxRememberedCases).map(\.id.hex).sorted()
        }
        return Entry(genesisHash: Hex.encode(genesis), creator: creator.hex, headSequence: state.count - 1, headHash: Hex.encode(state.headHash),
                     groups: state.groups.values.map(\.name).sorted(), cases: cases)
    }

    /// The path as written, made absolute, with `.` and empty components dropped.
    /// Nothing is resolved, not even `..`, whose meaning depends on where a
    /// symbolic link points: a link that now points elsewhere must not look like
    /// a new place.
    static func key(_ folder: String) -> String {
        let absolute = folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + "/" + folder
        return "/" + absolute.split(separator: "/").filter { $0 != "." }.joined(separator: "/")
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        let folder = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw VaultError(.io, "cannot create \(folder) for the list of known vaults: \(error.localizedDescription)")
        }
        let lockPath = "\(folder)/known-vaults.lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SystemCallError(function: "open", path: lockPath, errno: errno) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SystemCallError(function: "flock", path: lockPath, errno: errno) }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }

    /// Largest file read (the file keeps at most `maxRememberedCases` case ids per vault).
    static let maxFileLength = 16 << 20

    private func load() throws -> Contents {
        guard let bytes = try StateFile.read(path, maxLength: Self.maxFileLength, what: "the list of known vaults",
                                             hint: "restore it from a backup, or move it away to start trusting vaults afresh") else { return Contents() }
        do {
            let contents = try JSONDecoder().decode(Contents.self, from: Data(bytes))
            guard contents.version == 1 else { throw VaultError(.integrity, "unsupported version \(contents.version)") }
            // A ledger's sequence numbers are SQLite integers: a head beyond them is no head this machine saw.
            for (id, entry) in contents.vaults where entry.headSequence >= UInt64(Int64.max) {
                throw VaultError(.integrity, "vault \(TextEscaping.escape(id)) has head sequence \(entry.headSequence), beyond any ledger")
            }
            return contents
        } catch {
            throw VaultError(.integrity, "the list of known vaults \(path) cannot be read: \(error)",
                             hint: "restore it from a backup, or move it away to start trusting vaults afresh")
        }
    }

    private func save(_ contents: Contents) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(contents)), to: path, mode: .replace)
    }
}
