import Foundation
import GRDB
import VaultCrypto

/// The index as the ledger implies it, held as one SHA-256 digest per row, and
/// its comparison with the rows the database holds (`verify`; THREATS.md 21-23).
///
/// Memory grows with the number of rows, not with the size of sealed fields
/// (THREATS.md 46): a row is its key and a digest of its columns. When a stored
/// row's digest differs, the row the ledger implies is derived again from the
/// event that implied it last, so that the finding names exactly the columns
/// that differ.
struct ImpliedIndex {
    private struct Entry {
        var digest: SHA256Digest
        /// The last event that implied the row.
        var sequence: UInt64
        /// Whether a stored row with this key was compared.
        var seen: Bool
    }

    private var entries: [IndexRow.Key: Entry] = [:]
    private let hasher = SHA256Hasher()
    private var buffer: [UInt8] = []

    /// Room for about `rows` rows.
    init(expectedRows rows: Int = 0) {
        entries.reserveCapacity(max(0, rows))
    }

    /// Records the rows event `sequence` implies; a row an earlier event implied is replaced.
    mutating func record(_ rows: [IndexRow], sequence: UInt64) {
        for row in rows {
            entries[row.key] = Entry(digest: row.digest(hasher: hasher, buffer: &buffer), sequence: sequence, seen: false)
        }
    }

    /// Compares every stored row, read with a cursor in the caller's read
    /// transaction (the one the ledger was replayed in), with the rows recorded.
    mutating func compare(with db: Database) -> [Finding] {
        var findings: [Finding] = []
        do {
            // A vault last written by an older evault lacks the newer tables; a
            // read never migrates, so rows they would hold are reported missing.
            for table in Schema.projectionTables where try db.tableExists(table) {
                findings += try compare(table: table, db)
            }
        } catch {
            findings.append(Finding(object: "index", problem: "cannot be read: \(error)"))
            return findings
        }
        // Named from the row the event implies, derived again (only rows that are missing pay for it).
        var missing: [(name: String, sequence: UInt64)] = []
        for (key, entry) in entries where !entry.seen {
            let table = Int(key.table) < Schema.projectionTables.count ? Schema.projectionTables[Int(key.table)] : "?"
            missing.append((Self.impliedRow(key, by: entry.sequence, db)?.name ?? "\(table)/?", entry.sequence))
        }
        for (name, sequence) in missing.sorted(by: { $0.name < $1.name }) {
            findings.append(Finding(object: "index row \(name)", problem: "is missing: ledger event \(sequence) implies it"))
        }
        return findings
    }

    /// Compares the stored rows of one table. `SELECT *`: a column an attacker
    /// added is part of the row's digest, so the row differs.
    private mutating func compare(table: String, _ db: Database) throws -> [Finding] {
        var findings: [Finding] = []
        let statement = try db.makeStatement(sql: "SELECT * FROM \(table)")
        let names = statement.columnNames
        let order = names.indices.sorted { IndexRow.precedes(names[$0], names[$1]) }
        let keyIndexes = (IndexRow.primaryKeys[table] ?? []).map { names.firstIndex(of: $0) }
        let tableCode = IndexRow.Key.code(of: table)
        let rows = try Row.fetchCursor(statement)
        while let row = try rows.next() {
            let keyValues = keyIndexes.map { index in index.map { row[$0] as DatabaseValue } ?? .null }
            let key = IndexRow.Key(table: tableCode, values: keyValues)
            let digest = IndexRow.digest(of: order.lazy.map { (name: names[$0], value: row[$0] as DatabaseValue) },
                                         hasher: hasher, buffer: &buffer)
            guard let position = entries.index(forKey: key) else {
                findings.append(Finding(object: "index row \(IndexRow.name(table: table, keyValues: keyValues))",
                                        problem: "is not backed by any ledger event (injected or framed)"))
                continue
            }
            let entry = entries.values[position]
            guard !entry.seen else {
                findings.append(Finding(object: "index row \(IndexRow.name(table: table, keyValues: keyValues))",
                                        problem: "is stored twice"))
                continue
            }
            entries.values[position].seen = true
            if entry.digest != digest {
                let stored = order.map { (name: names[$0], value: row[$0] as DatabaseValue) }
                let differing = Self.impliedRow(key, by: entry.sequence, db)?.differingColumns(from: stored) ?? ["the row"]
                findings.append(Finding(object: "index row \(IndexRow.name(table: table, keyValues: keyValues))",
                                        problem: "\(differing.joined(separator: ", ")) differ(s) from ledger event \(entry.sequence)"))
            }
        }
        return findings
    }

    /// The row with `key` that event `sequence` implies, derived again from the
    /// event (verified in this same transaction). An identity row is derived
    /// whether or not the identity was new then: the key says which row is meant.
    private static func impliedRow(_ key: IndexRow.Key, by sequence: UInt64, _ db: Database) -> IndexRow? {
        guard let bytes = try? Data.fetchOne(db, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(clamping: sequence)]),
              let event = try? Event.decode(Array(bytes))
        else { return nil }
        return IndexRow.rows(for: event, admitsIdentity: { _ in true }).first { $0.key == key }
    }
}
