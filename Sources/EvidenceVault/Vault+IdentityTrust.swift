import Foundation
import VaultCrypto

extension Vault {
    /// Refuses `state` (replayed and anchored to `known-vaults.json`) unless
    /// `actor` itself trusts this vault at this folder: its trust record
    /// (`TrustRecord`) binds the folder to the vault's id and genesis hash
    /// (THREATS.md 62). A binding is made only by creating the vault or by
    /// `trust` with the identity; never from what this machine's files say
    /// (whoever writes the state folder could have put them there).
    /// - Parameter requiringBinding: false for `verify`, which writes nothing
    ///   and signs nothing: only a binding to another vault is refused.
    func requireTrustedByIdentity(_ state: LedgerState, actor: UnlockedIdentity, requiringBinding: Bool = true) throws {
        guard let knownVaults, let vaultID = state.vaultID, let genesis = state.genesisHash else { return }
        let record = try TrustRecord(stateFolder: knownVaults.folder, actor: actor)
        let found = TrustRecord.Binding(vaultID: vaultID, genesisHash: genesis)
        if let bound = try record.bindings()[KnownVaults.key(folder)] {
            guard bound != found else { return }
            throw Self.anchorError(folder: folder, problem: bound.vaultID == vaultID
                ? "has a different genesis event than vault \(vaultID.hex) had when your identity was told to trust it there (its trust record, \(record.path))"
                : "is vault \(vaultID.hex), not vault \(bound.vaultID.hex) that your identity was told to trust there (its trust record, \(record.path)): someone pointed this machine's list of known vaults at another vault")
        }
        guard requiringBinding else { return }
        let creator = state.creator.map { "\(state.displayName(of: $0)) (\($0.readable))" } ?? "?"
        throw VaultError(.untrusted, "your identity \(actor.publicIdentity.name) has not been told to trust the vault at \(folder) on this machine: vault id \(vaultID.hex), created by \(creator), genesis \(Hex.encode(genesis)). Nothing was written.",
                         hint: "check the genesis hash (or vault id and creator fingerprint) with your custodian over another channel, then run 'evault trust --vault \(folder) --identity FILE --genesis HASH'")
    }

    /// Whether `actor`'s trust record binds this folder to `state`'s vault.
    func isTrustedByIdentity(_ state: LedgerState, actor: UnlockedIdentity) throws -> Bool {
        guard let knownVaults, let vaultID = state.vaultID, let genesis = state.genesisHash else { return false }
        return try TrustRecord(stateFolder: knownVaults.folder, actor: actor).bindings()[KnownVaults.key(folder)]
            == TrustRecord.Binding(vaultID: vaultID, genesisHash: genesis)
    }

    /// Binds this folder to `state`'s vault in `actor`'s trust record (creating
    /// a vault, or `trust` with out-of-band evidence). Returns whether a damaged
    /// record was discarded (its other bindings are gone).
    @discardableResult
    func bindTrust(_ state: LedgerState, for actor: UnlockedIdentity) throws -> Bool {
        guard let knownVaults, let vaultID = state.vaultID, let genesis = state.genesisHash else { return false }
        return try TrustRecord(stateFolder: knownVaults.folder, actor: actor)
            .bind(KnownVaults.key(folder), to: .init(vaultID: vaultID, genesisHash: genesis), discardingDamaged: true)
    }
}
