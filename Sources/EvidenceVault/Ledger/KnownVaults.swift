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
/// (ATTACKS.md 26) is refused before anything is read or signed. The first use
/// of a vault is trusted and remembered (trust on first use); the CLI says so.
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

        /// The head verified before for the vault at this path: signatures up to it need no second check.
        var verifiedHead: UInt64? { vaultAtPath.flatMap { vaults[$0]?.headSequence } }
    }

    /// The file the entries live in.
    public let path: String
    /// Called when a vault is seen for the first time (the CLI prints a note).
    public var onFirstUse: (@Sendable (_ vaultID: String, _ entry: Entry, _ file: String) -> Void)?

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
        guard let vaultID = state.vaultID?.hex, let genesis = state.eventHashes.first else {
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
        guard Hex.encode(state.eventHashes[Int(entry.headSequence)]) == entry.headHash else {
            return "has a different ledger event \(entry.headSequence) than this machine saw before: its history was rewritten"
        }
        return nil
    }

    /// Remembers that `folder` holds `state`'s vault and its head (moving heads
    /// forward only). Call it only for a state replayed with every signature
    /// verified, or beyond a head that was (it is re-checked here against the file
    /// as it is now, under the lock, so that a concurrent process that remembered
    /// another fork in the meantime is noticed), or for a vault this machine just
    /// created (`replacingPath`: a new vault at a reused path).
    func remember(_ state: LedgerState, folder: String, replacingPath: Bool = false) throws {
        guard let vaultID = state.vaultID?.hex, let genesis = state.eventHashes.first, let creator = state.creator, state.count > 0 else { return }
        let current = Entry(genesisHash: Hex.encode(genesis), creator: creator.hex, headSequence: state.count - 1,
                            headHash: Hex.encode(state.headHash))
        let firstUse: Bool = try withLock {
            var contents = try load()
            let key = Self.key(folder)
            // Re-check against the file as it is now. A head remembered meanwhile by another
            // process may be *longer* than this state (that is normal: it read later); but
            // where this state reaches that head it must hold the same event there, or the
            // two are forks of one vault and this one must not replace the other.
            if !replacingPath, let atPath = contents.paths[key], atPath != vaultID {
                throw Vault.anchorError(folder: folder, problem: "is vault \(vaultID), not vault \(atPath) that this machine used there before (a different genesis)")
            }
            if let known = contents.vaults[vaultID] {
                guard known.genesisHash == current.genesisHash else {
                    throw Vault.anchorError(folder: folder, problem: "has a different genesis event than vault \(vaultID) had when this machine used it")
                }
                if known.headSequence < state.count, Hex.encode(state.eventHashes[Int(known.headSequence)]) != known.headHash {
                    throw Vault.anchorError(folder: folder, problem: "has a different ledger event \(known.headSequence) than this machine saw before: its history was rewritten")
                }
            }
            let isNew = contents.vaults[vaultID] == nil
            var changed = false
            if contents.paths[key] == nil || (replacingPath && contents.paths[key] != vaultID) {
                contents.paths[key] = vaultID
                changed = true
            }
            if let known = contents.vaults[vaultID] {
                if current.headSequence > known.headSequence, known.genesisHash == current.genesisHash {
                    contents.vaults[vaultID] = current
                    changed = true
                }
            } else {
                contents.vaults[vaultID] = current
                changed = true
            }
            if changed { try save(contents) }
            return isNew
        }
        if firstUse { onFirstUse?(vaultID, current, path) }
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

    private func load() throws -> Contents {
        guard FileManager.default.fileExists(atPath: path) else { return Contents() }
        do {
            let contents = try JSONDecoder().decode(Contents.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            guard contents.version == 1 else { throw VaultError(.integrity, "unsupported version \(contents.version)") }
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
