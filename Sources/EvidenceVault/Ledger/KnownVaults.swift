import Foundation
import VaultCrypto

/// What a user's machine remembers about each vault it has used: which vault
/// lives at a path (id, genesis hash, creator) and the last ledger head seen.
///
/// This is the trust anchor the storage cannot rewrite: a vault swapped for
/// another at the same path (a forged genesis), an older copy restored, or a
/// ledger cut back below the last head seen (ATTACKS.md 26) is refused before
/// anything is read or signed. The first use of a vault is trusted and
/// remembered (trust on first use); the CLI says so.
///
/// Stored as JSON (public values only) in `known-vaults.json` under
/// `$EVAULT_STATE_DIR`, else `$XDG_STATE_HOME/evault`, else `~/.local/state/evault`,
/// rewritten atomically.
public final class KnownVaults: @unchecked Sendable {
    /// One remembered vault.
    public struct Entry: Codable, Equatable, Sendable {
        public var vaultID: String
        public var genesisHash: String
        public var creator: String
        public var headSequence: UInt64
        public var headHash: String
    }

    /// The file the entries live in.
    public let path: String
    /// Called when a vault is seen for the first time at a path (the CLI prints a note).
    public var onFirstUse: (@Sendable (Entry, String) -> Void)?
    private let lock = NSLock()

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

    /// What happened when a vault's state was checked.
    public enum Outcome: Equatable, Sendable {
        /// Seen before, and the ledger extends what was seen.
        case known
        /// Never seen at this path: now remembered.
        case firstUse(Entry)
    }

    /// Checks `state` (a fully replayed ledger) against what was remembered for
    /// `folder`, then remembers its head. Throws `.integrity` on a mismatch.
    @discardableResult
    public func check(_ state: LedgerState, folder: String) throws -> Outcome {
        let key = Self.canonical(folder)
        lock.lock()
        defer { lock.unlock() }
        var entries = try load()
        guard let current = Self.entry(for: state) else { return .known }  // empty ledger: nothing to anchor yet
        if let remembered = entries[key] {
            if let problem = Self.problem(remembered: remembered, state: state) {
                throw VaultError(.integrity, "the vault at \(folder) \(problem)",
                                 hint: "someone may have replaced or rolled back the vault; compare with a backup or another member's copy. The remembered values are in \(path)")
            }
            if current.headSequence > remembered.headSequence {
                entries[key] = current
                try save(entries)
            }
            return .known
        }
        entries[key] = current
        try save(entries)
        onFirstUse?(current, path)
        return .firstUse(current)
    }

    /// A finding for `verify`, or nil when `state` agrees with what was remembered.
    public func problem(with state: LedgerState, folder: String) -> String? {
        lock.lock()
        defer { lock.unlock() }
        guard let remembered = (try? load())?[Self.canonical(folder)] else { return nil }
        return Self.problem(remembered: remembered, state: state)
    }

    private static func problem(remembered: Entry, state: LedgerState) -> String? {
        guard let vaultID = state.vaultID?.hex, let genesis = state.eventHashes.first else {
            return "has no genesis event, but this machine used vault \(remembered.vaultID) there before"
        }
        guard vaultID == remembered.vaultID, Hex.encode(genesis) == remembered.genesisHash else {
            return "is vault \(vaultID), not vault \(remembered.vaultID) that this machine used there before (different genesis)"
        }
        guard remembered.headSequence < state.count else {
            return "has \(state.count) ledger event(s), fewer than the \(remembered.headSequence + 1) this machine saw before: it was rolled back or cut"
        }
        guard Hex.encode(state.eventHashes[Int(remembered.headSequence)]) == remembered.headHash else {
            return "has a different ledger event \(remembered.headSequence) than this machine saw before: its history was rewritten"
        }
        return nil
    }

    private static func entry(for state: LedgerState) -> Entry? {
        guard let vaultID = state.vaultID, let genesis = state.eventHashes.first, let creator = state.creator, state.count > 0 else { return nil }
        return Entry(vaultID: vaultID.hex, genesisHash: Hex.encode(genesis), creator: creator.hex,
                     headSequence: state.count - 1, headHash: Hex.encode(state.headHash))
    }

    private static func canonical(_ folder: String) -> String {
        URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath().path
    }

    private func load() throws -> [String: Entry] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        do {
            return try JSONDecoder().decode([String: Entry].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw VaultError(.integrity, "the list of known vaults \(path) cannot be read: \(error.localizedDescription)",
                             hint: "restore it from a backup, or move it away to start trusting vaults afresh")
        }
    }

    private func save(_ entries: [String: Entry]) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(entries)), to: path, mode: .replace)
    }
}
