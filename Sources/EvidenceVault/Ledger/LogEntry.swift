import Foundation
import VaultCrypto

/// One ledger event in human form: nothing secret (sealed fields are not shown).
public struct LogEntry: Sendable {
    public let sequence: UInt64
    public let time: Date
    public let actorName: String
    public let actor: Fingerprint
    public let action: String
    /// Object identifiers the event names, by kind (`group`, `case`, `document`, `member`, `vault`).
    public let objects: [(kind: String, id: String)]
    public let hash: [UInt8]
}

extension Vault {
    /// The verified ledger in order; fails closed if any event does not verify.
    public func log() throws -> [LogEntry] {
        let pin = try knownVaults?.pin(for: folder)
        var state = LedgerState()
        var entries: [LogEntry] = []
        let events = try databaseAccess { try database.read { db in try Array(StoredEvent.fetch(db).map(StoredEvent.init)) } }
        for stored in events {
            let event: Event
            do { event = try stored.decode() } catch {
                throw VaultError(.integrity, "\(error)", hint: "run 'evault verify' for a full report")
            }
            do { try state.apply(event) } catch let violation as LedgerViolation {
                throw VaultError(.integrity, "\(violation)", hint: "run 'evault verify' for a full report")
            }
            var objects: [(String, String)] = []
            switch event.body {
            case .genesis(let vaultID, _): objects = [("vault", vaultID.hex)]
            case .groupCreated(let groupID, _, _, _): objects = [("group", groupID.hex)]
            case .memberAdded(let groupID, let member, let role, _, _):
                objects = [("group", groupID.hex), ("member", member.fingerprint.hex), ("role", role.description)]
            case .caseCreated(let caseID, let groupID, _, _, _, _, _): objects = [("case", caseID.hex), ("group", groupID.hex)]
            case .documentAdded(let record): objects = [("document", record.documentID.hex), ("case", record.caseID.hex)]
            case .documentExported(let documentID, let caseID): objects = [("document", documentID.hex), ("case", caseID.hex)]
            }
            entries.append(LogEntry(sequence: event.sequence, time: Date(timeIntervalSince1970: TimeInterval(event.time)),
                                    actorName: state.identities[event.actor]?.name ?? "?", actor: event.actor,
                                    action: event.body.action, objects: objects, hash: event.hash))
        }
        // The custody view of a swapped or cut vault must not look complete.
        try anchor(state, pin: pin)
        return entries
    }
}
