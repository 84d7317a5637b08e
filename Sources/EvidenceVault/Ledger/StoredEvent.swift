import Foundation
import GRDB

/// One row of the `events` table, read defensively: whoever holds the storage
/// may have put NULLs, text or oversized values there (THREATS.md 38, 40), so
/// nothing is decoded with a trapping conversion and no value larger than an
/// event can be is ever loaded.
struct StoredEvent {
    /// Largest encoded event accepted: header and fixed fields, plus the body limit.
    static let maxLength = Event.maxBodyLength + 256

    let sequence: Int64?
    let storedHash: [UInt8]?
    let bytes: [UInt8]?
    let length: Int64?

    /// One past the highest stored sequence number (0 for an empty ledger): the
    /// length the ledger claims, before any of it is verified.
    static func claimedLength(_ db: Database) throws -> UInt64 {
        UInt64(max(0, (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? -1) + 1))
    }

    /// Rows from `sequence` on, in order. Oversized or non-BLOB `bytes` come back as nil.
    static func fetch(_ db: Database, from sequence: UInt64 = 0) throws -> RowCursor {
        try Row.fetchCursor(db, sql: """
            SELECT seq, hash,
                   CASE WHEN typeof(bytes) = 'blob' AND length(bytes) <= ? THEN bytes END AS bytes,
                   length(bytes) AS length
            FROM events WHERE seq >= ? ORDER BY seq
            """, arguments: [maxLength, Int64(clamping: sequence)])
    }

    init(_ row: Row) {
        sequence = row["seq"] as Int64?
        storedHash = (row["hash"] as Data?).map(Array.init)
        bytes = (row["bytes"] as Data?).map(Array.init)
        length = row["length"] as Int64?
    }

    /// `event N` for findings and errors.
    var label: String { sequence.map { "event \($0)" } ?? "event with no sequence number" }

    /// Decodes the event and checks it is stored under its own sequence number.
    func decode() throws -> Event {
        guard let sequence, sequence >= 0 else { throw FormatError.invalidField(structure: label, field: "seq", reason: "missing or negative") }
        guard let bytes else {
            throw FormatError.invalidField(structure: label, field: "bytes",
                                           reason: "missing, not a BLOB, or \(length ?? 0) bytes (more than \(Self.maxLength))")
        }
        let event = try Event.decode(bytes, structure: "ledger \(label)")
        guard event.sequence == UInt64(sequence) else {
            throw FormatError.invalidField(structure: "ledger \(label)", field: "sequence number", reason: "claims \(event.sequence)")
        }
        return event
    }
}
