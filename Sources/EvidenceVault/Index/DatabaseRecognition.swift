import Foundation
import GRDB

/// Decides whether `vault.sqlite` is an evault database of a schema this code
/// knows, before anything is written to it (Docs/FORMAT.md §9.2).
///
/// A vault's storage is hostile: the file may be another program's database,
/// a damaged copy, or one written by a newer evault. It is recognised only if
///
/// 1. its first 16 bytes are SQLite's magic, it is at least one header long,
///    and the header says WAL mode (no rollback journal sits beside it);
/// 2. it opens read-only and has a `grdb_migrations` table listing exactly a
///    prefix of `Schema.migrationNames` (an unknown name means a newer evault);
/// 3. its `sqlite_master` holds exactly the tables and indexes, with exactly the
///    SQL, that those migrations create on an empty database: no extra table,
///    trigger or view, none missing, none altered.
///
/// Only then may a command that writes run the remaining migrations.
enum DatabaseRecognition {
    /// SQLite's file header magic, "SQLite format 3\0".
    static let magic = Array("SQLite format 3".utf8) + [0]
    /// Length of SQLite's database header.
    static let headerLength = 100

    /// Checks 1: no rollback journal beside the file, and its first bytes, read
    /// through the vault folder's handle, before SQLite opens it.
    static func checkBeforeOpening(_ name: String, in folder: FolderHandle) throws {
        // evault's database is always in WAL mode: a rollback journal beside it was
        // planted, and SQLite would "roll it back" into the file on the first read.
        guard folder.entryType("\(name)-journal") == .missing else {
            throw VaultError(.integrity, "\(folder.display("\(name)-journal")) exists, but evault never writes a rollback journal: refused, and the database left as it is",
                             hint: foreignHint)
        }
        let display = folder.display(name)
        var header = [UInt8](repeating: 0, count: headerLength)
        let count: Int
        do {
            let file = try folder.openRegular(name, what: "vault database")
            count = try header.withUnsafeMutableBytes { try file.readFully(into: $0) }
        } catch let error as VaultError {
            throw VaultError(.integrity, "\(error.text)")
        } catch {
            throw VaultError(.integrity, "vault database \(display) cannot be read: \(error)")
        }
        guard count == headerLength, Array(header.prefix(magic.count)) == magic else {
            throw VaultError(.integrity, "\(display) is not an evault database (not an SQLite file, or cut short): refused, and left as it is",
                             hint: Self.foreignHint)
        }
        // Bytes 18 and 19 are the write and read format versions: 2 is WAL, which
        // every evault database is from its creation.
        guard header[18] == 2, header[19] == 2 else {
            throw VaultError(.integrity, "\(display) is an SQLite database but not an evault one (not in WAL mode): refused, and left as it is",
                             hint: Self.foreignHint)
        }
    }

    /// Checks migrations and schema on an open (read-only) connection; returns
    /// the names of the migrations already applied.
    static func recognise(_ db: Database, display: String) throws -> [String] {
        guard try db.tableExists("grdb_migrations"),
              try db.columns(in: "grdb_migrations").contains(where: { $0.name == "identifier" }) else {
            throw VaultError(.integrity, "\(display) is an SQLite database but not an evault one (no schema history): refused, and left as it is",
                             hint: Self.foreignHint)
        }
        guard try Int.fetchOne(db, sql: "SELECT count(*) FROM grdb_migrations WHERE typeof(identifier) <> 'text'") == 0 else {
            throw VaultError(.integrity, "\(display) has a schema history no evault wrote (a step that is not text): refused, and left as it is",
                             hint: Self.foreignHint)
        }
        let applied = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
        let known = Schema.migrationNames
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw VaultError(.integrity, "\(display) was written by a newer evault (schema step '\(unknown)' is unknown to this one): refused, and left as it is",
                             hint: "use the evault version that wrote it, or a newer one")
        }
        guard !applied.isEmpty, applied == Array(known.prefix(applied.count)) else {
            throw VaultError(.integrity, "\(display) has a schema history no evault wrote (\(applied.joined(separator: ", "))): refused, and left as it is",
                             hint: Self.foreignHint)
        }
        let found = try schemaObjects(db)
        let expected = try expectedSchema(afterMigrations: applied.count)
        guard found == expected else {
            let extra = found.subtracting(expected).map(\.name).sorted()
            let missing = expected.subtracting(found).map(\.name).sorted()
            throw VaultError(.integrity, "\(display) is not an evault database of a known schema (unexpected: \(extra.isEmpty ? "none" : extra.joined(separator: ", ")); missing or altered: \(missing.isEmpty ? "none" : missing.joined(separator: ", "))): refused, and left as it is",
                             hint: Self.foreignHint)
        }
        return applied
    }

    static let foreignHint: SafeText = "whoever holds the storage may have replaced or damaged it; restore vault.sqlite from a backup ('evault index rebuild' repairs only a damaged index of a recognised vault)"

    /// One entry of `sqlite_master`, outside GRDB's own bookkeeping.
    struct SchemaObject: Hashable {
        let type: String
        let name: String
        let table: String
        let sql: String?
    }

    static func schemaObjects(_ db: Database) throws -> Set<SchemaObject> {
        let rows = try Row.fetchAll(db, sql: "SELECT type, name, tbl_name, sql FROM sqlite_master")
        return Set(rows.compactMap { row -> SchemaObject? in
            let object = SchemaObject(type: row["type"] ?? "", name: row["name"] ?? "", table: row["tbl_name"] ?? "", sql: row["sql"])
            // GRDB's table (its DDL is GRDB's, checked above by its one column).
            return object.table == "grdb_migrations" ? nil : object
        })
    }

    /// The schema the first `count` migrations make on an empty in-memory database
    /// (made once per process and count: every write transaction checks against it).
    static func expectedSchema(afterMigrations count: Int) throws -> Set<SchemaObject> {
        expectedSchemaLock.lock()
        defer { expectedSchemaLock.unlock() }
        if let known = expectedSchemas[count] { return known }
        let queue = try DatabaseQueue()
        try Schema.migrator.migrate(queue, upTo: Schema.migrationNames[count - 1])
        let schema = try queue.read { try schemaObjects($0) }
        expectedSchemas[count] = schema
        return schema
    }

    private static let expectedSchemaLock = NSLock()
    nonisolated(unsafe) private static var expectedSchemas: [Int: Set<SchemaObject>] = [:]  // guarded by expectedSchemaLock
}
