import Foundation
import GRDB
import VaultCrypto

/// One identity's verified copy of one vault's ledger state, kept on this
/// machine beside its remembered heads (outside the vault folder), so that a
/// command replays only the events after it instead of the whole history.
///
/// Authenticated, not trusted: the file is `tag || state` (Docs/FORMAT.md §11),
/// where `tag` is keyed BLAKE2b under a key derived from the identity's secret
/// X25519 key, over a label, the identity's fingerprint and the state's bytes.
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
        path = "\(stateFolder)/kept/\(vaultID).\(actor.fingerprint.hex).state"
        self.vaultID = vaultID
        key = try actor.keptStateKey()
        owner = actor.fingerprint
    }

    /// Reads and authenticates the kept state; `.absent` when there is none.
    func load() -> (LedgerState?, Outcome) {
        let bytes: [UInt8]
        do {
            guard FileManager.default.fileExists(atPath: path) else { return (nil, .absent) }
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            return (nil, .rejected("cannot be read: \(error.localizedDescription)"))
        }
        guard bytes.count > Self.tagLength else { return (nil, .rejected("is too short")) }
        let body = Array(bytes[Self.tagLength...])
        guard let expected = try? tag(body), ConstantTime.equal(expected, Array(bytes[..<Self.tagLength])) else {
            return (nil, .rejected("fails its authentication check (altered, or not written by this identity)"))
        }
        do {
            let state = try KeptStateCoding.decode(body)
            guard state.vaultID?.hex == vaultID else { return (nil, .rejected("is the state of another vault")) }
            return (state, .used(count: state.count))
        } catch {
            return (nil, .rejected("does not decode: \(error)"))
        }
    }

    /// Replaces the kept state with `state`, atomically.
    func save(_ state: LedgerState) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let body = KeptStateCoding.encode(state)
        try AtomicFile.write(try tag(body) + body, to: path, mode: .replace)
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
