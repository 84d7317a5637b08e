import Foundation
import VaultCrypto

/// What a vault says about itself, for a person to compare with what their
/// custodian told them over another channel before trusting it.
public struct TrustCandidate: Sendable {
    public let vaultID: ObjectID
    public let creator: PublicIdentity
    /// The creator's one display name in this vault.
    public let creatorName: String
    /// SHA-256 of the genesis event.
    public let genesisHash: [UInt8]
    public let events: UInt64
    public let headHash: [UInt8]
    /// Whether this machine already trusts this vault.
    public let alreadyTrusted: Bool
    /// Whether the identity asked about already trusts this vault at this
    /// folder (`Vault.trust` then needs no evidence); nil when no identity was given.
    public let alreadyTrustedByIdentity: Bool?
    /// Group names and case ids this vault shares with other vaults this machine trusts.
    public let reuse: [String]
}

/// What `evault trust` was given out of band.
public enum TrustEvidence: Sendable {
    /// The genesis hash (64 hex characters).
    case genesis(String)
    /// The vault id and the creator's fingerprint (readable or hex).
    case creator(vaultID: String, fingerprint: String)
    /// A person compared the values shown at a terminal and confirmed.
    case confirmedAtTerminal
    /// This machine already trusts the vault with this id and genesis (accepting an older copy of it).
    case alreadyTrustedHere
}

extension Vault {
    /// Replays the whole ledger, checking every signature, without consulting
    /// what this machine remembers: what `trust` would accept.
    public func trustCandidate(for identity: UnlockedIdentity? = nil) throws -> TrustCandidate {
        let state = try databaseAccess { try database.read { db in try Self.replay(db, onto: LedgerState()) } }
        guard let vaultID = state.vaultID, let creatorID = state.creator, let creator = state.identities[creatorID],
              let genesis = state.genesisHash else {
            throw VaultError(.integrity, "the vault at \(folder) has no genesis event: nothing to trust")
        }
        let pin = try knownVaults?.pin(for: folder)
        return TrustCandidate(vaultID: vaultID, creator: creator, creatorName: state.displayName(of: creatorID), genesisHash: genesis,
                              events: state.count, headHash: state.headHash,
                              alreadyTrusted: pin?.vaults[vaultID.hex] != nil,
                              alreadyTrustedByIdentity: identity.map { (try? isTrustedByIdentity(state, actor: $0)) ?? false },
                              reuse: pin.map { KnownVaults.reuse(of: state, among: $0.vaults) } ?? [])
    }

    /// Records that this machine trusts the vault, once `evidence` matches it
    /// (THREATS.md 48). A copy older than the head this machine remembers is
    /// accepted only with `acceptOlder`; a rewritten history never.
    ///
    /// With `identity`, its trust record binds this folder to the vault too
    /// (THREATS.md 62): every command run with that identity requires it.
    /// `.alreadyTrustedHere` is then enough only if the identity already trusts
    /// this vault (`TrustCandidate.alreadyTrustedByIdentity`): what this
    /// machine's list says is not evidence for an identity. A damaged record is
    /// replaced, losing its other bindings (a warning says so).
    public func trust(_ evidence: TrustEvidence, acceptOlder: Bool = false, for identity: UnlockedIdentity? = nil) throws -> KnownVaults.TrustOutcome {
        guard let knownVaults else { throw VaultError(.invalidInput, "no list of known vaults to record trust in") }
        let state = try databaseAccess { try database.read { db in try Self.replay(db, onto: LedgerState()) } }
        guard let vaultID = state.vaultID, let creator = state.creator, let genesis = state.genesisHash else {
            throw VaultError(.integrity, "the vault at \(folder) has no genesis event: nothing to trust")
        }
        switch evidence {
        case .genesis(let given):
            guard given.lowercased() == Hex.encode(genesis) else {
                throw VaultError(.integrity, "the vault at \(folder) has genesis \(Hex.encode(genesis)), not the \(given) you were given: refused",
                                 hint: "this is not the vault your custodian described; do not use it")
            }
        case .creator(let givenID, let givenFingerprint):
            let normalized = givenFingerprint.uppercased().filter { $0 != "-" && $0 != " " }
            let matchesCreator = normalized == creator.readable.filter { $0 != "-" } || normalized.lowercased() == creator.hex
            guard givenID.lowercased() == vaultID.hex, matchesCreator else {
                throw VaultError(.integrity, "the vault at \(folder) is vault \(vaultID.hex) created by \(creator.readable), not the vault and creator you were given: refused",
                                 hint: "this is not the vault your custodian described; do not use it")
            }
        case .confirmedAtTerminal:
            break
        case .alreadyTrustedHere:
            guard let entry = try knownVaults.pin(for: folder).vaults[vaultID.hex], entry.genesisHash == Hex.encode(genesis) else {
                throw VaultError(.untrusted, "the vault at \(folder) (vault id \(vaultID.hex), genesis \(Hex.encode(genesis))) is not one this machine trusts",
                                 hint: "compare with your custodian, then pass --genesis HASH")
            }
            if let identity, !((try? isTrustedByIdentity(state, actor: identity)) ?? false) {
                throw VaultError(.untrusted, "your identity \(identity.publicIdentity.name) has not been told to trust the vault at \(folder) (vault id \(vaultID.hex), genesis \(Hex.encode(genesis))): this machine's list of known vaults is not evidence for an identity",
                                 hint: "compare with your custodian, then pass --genesis HASH (or --vault-id ID --creator FINGERPRINT)")
            }
        }
        let outcome = try knownVaults.trust(state, folder: folder, acceptOlder: acceptOlder)
        if let identity, try bindTrust(state, for: identity) {
            logger.warning("your identity's trust record was altered or damaged and has been replaced: trust your other vaults again with 'evault trust --identity'",
                           metadata: ["identity": "\(identity.fingerprint.hex)"])
        }
        if acceptOlder {
            // Said explicitly: every identity's kept state of a newer copy would refuse this one, so they go
            // (also when this machine's list was restored with the vault, and remembers no newer head).
            let kept = "\(knownVaults.folder)/kept"
            let prefix = "\(vaultID.hex)."
            for name in (try? FileManager.default.contentsOfDirectory(atPath: kept)) ?? [] where name.hasPrefix(prefix) {
                KeptStore.remove("\(kept)/\(name)")
            }
        }
        return outcome
    }
}
