import Foundation
import GRDB
import VaultCrypto

/// The SQLite file that holds one identity's kept ledger state of one vault
/// (Docs/FORMAT.md §11): a root (its MAC tag and bytes) and content-addressed
/// pages (SHA-256 of their bytes → bytes). Nothing in it is trusted: the root's
/// tag is checked by `KeptState`, every page against the hash the root gives.
///
/// A reader holds one read transaction (WAL snapshot) for its lifetime, so the
/// pages its root names stay readable while another process saves; a save
/// replaces the root and drops pages that neither the new nor the previous root
/// names, in one transaction.
final class KeptStore: @unchecked Sendable {
    let path: String
    private let connection: DatabaseQueue
    private var snapshotOpen = false

    private static let schema = [
        "CREATE TABLE root (id INTEGER PRIMARY KEY CHECK (id = 1), tag BLOB NOT NULL, bytes BLOB NOT NULL)",
        "CREATE TABLE pages (hash BLOB PRIMARY KEY, bytes BLOB NOT NULL) WITHOUT ROWID",
    ]

    /// Opens the store at `path` for reading; nil when there is none.
    static func openForReading(_ path: String) throws -> KeptStore? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try KeptStore(path: path, readOnly: true)
    }

    private init(path: String, readOnly: Bool) throws {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        // A reader keeps one read transaction open across page reads: its WAL snapshot.
        configuration.allowsUnsafeTransactions = readOnly
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA trusted_schema = OFF") }
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    deinit {
        if snapshotOpen { try? connection.inDatabase { db in try db.execute(sql: "COMMIT") } }
    }

    /// The root's tag and bytes, read in the snapshot that later page reads use.
    func root() throws -> (tag: [UInt8], bytes: [UInt8])? {
        try connection.inDatabase { db in
            if !snapshotOpen {
                try db.execute(sql: "BEGIN DEFERRED")
                snapshotOpen = true
            }
            guard let row = try Row.fetchOne(db, sql: """
                SELECT CASE WHEN typeof(tag) = 'blob' THEN tag END AS tag, CASE WHEN typeof(bytes) = 'blob' THEN bytes END AS bytes
                FROM root WHERE id = 1
                """),
                  let tag = row["tag"] as Data?, let bytes = row["bytes"] as Data? else { return nil }
            return (Array(tag), Array(bytes))
        }
    }

    /// The page with this SHA-256, checked: nil if it is missing or its bytes hash otherwise.
    func page(_ hash: [UInt8]) throws -> [UInt8]? {
        let bytes = try connection.inDatabase { db in
            try Data.fetchOne(db, sql: "SELECT CASE WHEN typeof(bytes) = 'blob' THEN bytes END FROM pages WHERE hash = ?", arguments: [Data(hash)])
        }
        guard let bytes, SHA256Stream.hash(bytes) == hash else { return nil }
        return Array(bytes)
    }

    /// Replaces the root and adds `pages`, keeping what `keep` names (the pages of
    /// the new root and of the root it replaces) and dropping every other page.
    /// A file with anything but this schema is replaced by a new one first.
    static func save(at path: String, tag: [UInt8], root: [UInt8], pages: [[UInt8]: [UInt8]], keep: Set<[UInt8]>) throws {
        if FileManager.default.fileExists(atPath: path), !(try hasOwnSchema(path)) {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let store = try KeptStore(path: path, readOnly: false)
        try store.connection.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // A cache of verified state: a save lost to a power cut leaves the older,
            // authentic root (extended next time); WAL keeps the file consistent.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.inTransaction(.immediate) {
                if try !db.tableExists("root") { for statement in schema { try db.execute(sql: statement) } }
                let previous = try Data.fetchOne(db, sql: "SELECT bytes FROM root WHERE id = 1")
                for (hash, bytes) in pages {
                    try db.execute(sql: "INSERT OR IGNORE INTO pages (hash, bytes) VALUES (?, ?)", arguments: [Data(hash), Data(bytes)])
                }
                try db.execute(sql: "INSERT OR REPLACE INTO root (id, tag, bytes) VALUES (1, ?, ?)",
                               arguments: [Data(tag), Data(root)])
                // Pages a reader of the replaced root may still ask for stay one more save.
                var kept = keep
                if let previous, let names = try? KeptStateCoding.pageHashes(inRoot: Array(previous)) { kept.formUnion(names) }
                let stored = try Data.fetchAll(db, sql: "SELECT hash FROM pages").map(Array.init)
                for hash in stored where !kept.contains(hash) {
                    try db.execute(sql: "DELETE FROM pages WHERE hash = ?", arguments: [Data(hash)])
                }
                return .commit
            }
        }
    }

    /// Whether the file holds exactly the two tables a save makes (no trigger, view or index of anyone else's).
    private static func hasOwnSchema(_ path: String) throws -> Bool {
        do {
            let store = try KeptStore(path: path, readOnly: true)
            let objects = try store.connection.read { db in
                try Row.fetchAll(db, sql: "SELECT type, name FROM sqlite_master").map { "\($0["type"] as String? ?? "?") \($0["name"] as String? ?? "?")" }
            }
            return Set(objects).isSubset(of: ["table root", "table pages", "index sqlite_autoindex_pages_1"]) && objects.contains("table root")
        } catch {
            return false
        }
    }
}
