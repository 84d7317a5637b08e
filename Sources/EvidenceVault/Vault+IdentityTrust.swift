import Foundation
import VaultCrypto

extension Vault {
    /// Refuses `state` (replayed and anchored to `known-vaults.json`) unless
    /// `actor` itself trusts this vault at this folder: its trust record
    /// (`TrustRecord`) binds the folder to the vault's id and genesis hash
    /// (THREATS.md 62). A folder the record does not name is bound, without
    /// asking, only when `actor`'s own authentic kept state of this same vault
    /// holds a head this ledger holds (a vault it verified here before: how
    /// records began on machines that used a vault before they existed).
    /// - Parameter requiringBinding: false for `verify`, which writes nothing
    ///   and signs nothing: only a binding to another vault is refused.
    func requireTrustedByIdentity(_ state: LedgerState, actor: UnlockedIdentity, requiringBinding: Bool = true) throws {
        guard let knownVaults, let vaultID = state.vaultID, let genesis = state.genesisHash else { return }
        let record = try TrustRecord(stateFolder: knownVaults.folder, actor: actor)
        let key = KnownVaults.key(folder)
        let found = TrustRecord.Binding(vaultID: vaultID, genesisHash: genesis)
        if let bound = try record.bindings()[key] {
            guard bound != found else { return }
            throw Self.anchorError(folder: folder, problem: bound.vaultID == vaultID
                ? "has a different genesis event than vault \(vaultID.hex) had when your identity was told to trust it there (its trust record, \(record.path))"
                : "is vault \(vaultID.hex), not vault \(bound.vaultID.hex) that your identity was told to trust there (its trust record, \(record.path)): someone pointed this machine's list of known vaults at another vault")
        }
        guard requiringBinding else { return }
        guard keptStateProves(state, for: actor) else {
            let creator = state.creator.map { "\(state.displayName(of: $0)) (\($0.readable))" } ?? "?"
            throw VaultError(.untrusted, "your identity \(actor.publicIdentity.name) has not been told to trust the vault at \(folder) on this machine: vault id \(vaultID.hex), created by \(creator), genesis \(Hex.encode(genesis)). Nothing was written.",
                             hint: "check the genesis hash (or vault id and creator fingerprint) with your custodian over another channel, then run 'evault trust --vault \(folder) --identity FILE --genesis HASH'")
        }
        try record.bind(key, to: found)
        logger.info("this identity's trust record now names the vault it verified here before", metadata: ["vault": "\(vaultID.hex)"])
    }

    /// Whether `actor` trusts this vault (same id and genesis) at any folder of
    /// its trust record, or holds an authentic kept state of it (see above).
    func isTrustedByIdentity(_ state: LedgerState, actor: UnlockedIdentity) throws -> Bool {
        guard let knownVaults, let vaultID = state.vaultID, let genesis = state.genesisHash else { return false }
        let found = TrustRecord.Binding(vaultID: vaultID, genesisHash: genesis)
        if try TrustRecord(stateFolder: knownVaults.folder, actor: actor).bindings().values.contains(found) { return true }
        return keptStateProves(state, for: actor)
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

    /// Whether `actor`'s authentic kept state of `state`'s vault (same id and
    /// genesis) holds a head that `state` holds. The kept state is looked up by
    /// the vault id of the ledger itself, whatever `known-vaults.json` says.
    private func keptStateProves(_ state: LedgerState, for actor: UnlockedIdentity) -> Bool {
        guard let knownVaults, let vaultID = state.vaultID,
              let kept = try? KeptState(stateFolder: knownVaults.folder, vaultID: vaultID.hex, actor: actor),
              case (let loaded?, .used) = kept.load(), loaded.count > 0, loaded.count <= state.count,
              loaded.vaultID == vaultID, loaded.genesisHash == state.genesisHash,
              (try? state.eventHash(at: loaded.count - 1)) == loaded.headHash else { return false }
        return true
    }
}
