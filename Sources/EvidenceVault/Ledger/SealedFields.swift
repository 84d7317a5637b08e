import Foundation
import GRDB
import VaultCrypto

/// Reads the sealed parts of a case or document (wrapped keys, sealed
/// reference, title and metadata) from the signed event that holds them, when
/// a reader needs them, instead of keeping them in `LedgerState`: replay and
/// verify memory then does not grow with what members sealed (THREATS.md 46).
///
/// The event's bytes are checked against the hash the replay verified for that
/// sequence number, so the storage cannot swap them after the replay.
struct SealedFields {
    let database: DatabaseQueue
    let state: LedgerState
    let folder: String

    /// The verified event at `sequence`.
    func event(at sequence: UInt64) throws -> Event {
        guard sequence < state.count else { throw VaultError(.integrity, "ledger event \(sequence) is beyond the replayed ledger") }
        let bytes: [UInt8]?
        do {
            // Reentrant: also called while `appendEvents` holds the write transaction.
            bytes = try database.unsafeReentrantRead { db in
                try Data.fetchOne(db, sql: """
                    SELECT CASE WHEN typeof(bytes) = 'blob' AND length(bytes) <= ? THEN bytes END FROM events WHERE seq = ?
                    """, arguments: [StoredEvent.maxLength, Int64(sequence)]).map(Array.init)
            }
        } catch let error as DatabaseError {
            throw VaultError(.io, "vault database \(folder)/\(Vault.databaseName): \(error.message ?? "SQLite error \(error.resultCode)")")
        }
        guard let bytes, SHA256Stream.hash(bytes) == (try state.eventHash(at: sequence)) else {
            throw VaultError(.integrity, "ledger event \(sequence) changed after it was verified", hint: "run 'evault verify'")
        }
        return try Event.decode(bytes, structure: "ledger event \(sequence)")
    }

    /// What a `case.create` event sealed.
    struct CaseFields {
        let wrappedKey: [UInt8]
        let sealedReference: [UInt8]
        let sealedTitle: [UInt8]
    }

    /// The generation-1 wrapped key and sealed fields of `theCase`.
    func fields(of theCase: LedgerState.Case) throws -> CaseFields {
        guard case .caseCreated(let caseID, _, _, _, let wrappedKey, let reference, let title, _) = try event(at: theCase.sequence).body,
              caseID == theCase.id else {
            throw VaultError(.integrity, "ledger event \(theCase.sequence) does not create case \(theCase.id.hex)")
        }
        return CaseFields(wrappedKey: wrappedKey, sealedReference: reference, sealedTitle: title)
    }

    /// The wrapped case key of one generation, from the event that made it.
    func wrappedKey(of theCase: LedgerState.Case, generation: LedgerState.Generation) throws -> [UInt8] {
        if generation.number == 1 { return try fields(of: theCase).wrappedKey }
        guard case .caseRekeyed(let caseID, _, _, let number, let wrappedKey, _) = try event(at: generation.sequence).body,
              caseID == theCase.id, number == generation.number else {
            throw VaultError(.integrity, "ledger event \(generation.sequence) does not make generation \(generation.number) of case \(theCase.id.hex)")
        }
        return wrappedKey
    }

    /// The current signed record of `document`: from its `document.add`, or from
    /// its latest `document.reencrypt` (same document, version and metadata plaintext).
    func record(of document: LedgerState.Document) throws -> DocumentRecord {
        switch try event(at: document.recordSequence).body {
        case .documentAdded(let record) where record.documentID == document.documentID:
            return record
        case .documentReencrypted(let new) where new.documentID == document.documentID:
            return DocumentRecord(documentID: new.documentID, caseID: new.caseID, version: document.version, generation: new.generation,
                                  wrappedKey: new.wrappedKey, blobHash: new.blobHash, blobSize: new.blobSize, sealedMetadata: new.sealedMetadata)
        default:
            throw VaultError(.integrity, "ledger event \(document.recordSequence) does not hold document \(document.documentID.hex)")
        }
    }

    /// The record of `document`'s own `document.add` event (its key, blob and
    /// metadata as first recorded, before any re-encryption).
    func addedRecord(of document: LedgerState.Document) throws -> DocumentRecord {
        guard case .documentAdded(let record) = try event(at: document.sequence).body, record.documentID == document.documentID else {
            throw VaultError(.integrity, "ledger event \(document.sequence) does not add document \(document.documentID.hex)")
        }
        return record
    }

    /// The sealed reason of a removal or rotation event.
    func sealedReason(at sequence: UInt64) throws -> [UInt8] {
        switch try event(at: sequence).body {
        case .memberRemoved(_, _, let reason, _), .epochRotated(_, let reason, _): return reason
        default: throw VaultError(.integrity, "ledger event \(sequence) is not a removal or rotation")
        }
    }
}
