import Foundation
import GRDB
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite file that holds one identity's kept ledger state of one vault
/// (Docs/FORMAT.md §11): a root (its MAC tag and bytes) and content-addressed
/// pages (SHA-256 of their bytes → bytes). Nothing in it is trusted: the root's
/// tag is checked by `KeptState`, every page against the hash the root gives.
///
/// A save replaces the root and marks the pages the new root no longer names as
/// released; released pages are deleted only `releaseDelay` seconds later, so a
/// command that loaded an older root (another process saved meanwhile) can
/// still read its pages. One that finds a page gone sees that the root changed
/// (`rootChanged`) and starts again from the new one
/// (`KeptPageError.superseded`). Readers hold no transaction between reads.
///
/// The file and its `-wal`, `-shm` and `-journal` must be regular files (never a
/// link, FIFO or folder), and the file may hold nothing but the two tables: a
/// store that is not so is refused, and a save replaces it.
final class KeptStore: @unchecked Sendable {
    let path: String
    private let connection: DatabaseQueue

    /// Seconds a released page stays readable.
    static let releaseDelay: Int64 = 120

    /// The tables and the one index a save makes: `released` before `bytes`, so that
    /// reading it never reads a page's bytes, and indexed where set, so that finding
    /// the pages to delete costs the released pages, not the store.
    private static let schema = [
        "CREATE TABLE root (id INTEGER PRIMARY KEY CHECK (id = 1), tag BLOB NOT NULL, bytes BLOB NOT NULL)",
        "CREATE TABLE pages (hash BLOB PRIMARY KEY, released INTEGER, bytes BLOB NOT NULL) WITHOUT ROWID",
        "CREATE INDEX released_pages ON pages (released) WHERE released IS NOT NULL",
    ]
    /// The two tables of the store's first layout (2026-12-03): rebuilt, not refused.
    private static let firstSchema = [
        "CREATE TABLE root (id INTEGER PRIMARY KEY CHECK (id = 1), tag BLOB NOT NULL, bytes BLOB NOT NULL)",
        "CREATE TABLE pages (hash BLOB PRIMARY KEY, bytes BLOB NOT NULL, released INTEGER) WITHOUT ROWID",
    ]
    private static let sideSuffixes = ["-wal", "-shm", "-journal"]

    /// Why the store's files cannot be used as they are, if they cannot.
    enum FileProblem: Error, CustomStringConvertible {
        case notRegular(String)
        case foreignSchema
        var description: String {
            switch self {
            case .notRegular(let name): return "has \(name), which is not a regular file"
            case .foreignSchema: return "holds schema objects evault does not make"
            }
        }
    }

    /// Opens the store at `path` for reading; nil when there is none. The
    /// connection may write: SQLite rolls back what a process killed mid-save left
    /// in the WAL (a read-only connection would refuse the file instead).
    static func openForReading(_ path: String) throws -> KeptStore? {
        guard try checkFiles(path) else { return nil }
        let store = try KeptStore(path: path, readOnly: false)
        switch try store.schemaObjects() {
        case ownSchemaObjects: return store
        case firstSchemaObjects: return nil  // an older layout of ours: kept anew by the next save, without a warning
        case []: return nil  // empty: a first save killed before its schema committed (nothing to warn about)
        default: throw FileProblem.foreignSchema
        }
    }

    /// Whether the store exists; throws if it or a side file is not a regular file.
    private static func checkFiles(_ path: String) throws -> Bool {
        var exists = false
        for name in [path] + sideSuffixes.map({ path + $0 }) {
            var info = stat()
            guard lstat(name, &info) == 0 else { continue }
            guard info.st_mode & S_IFMT == S_IFREG else { throw FileProblem.notRegular((name as NSString).lastPathComponent) }
            if name == path { exists = true }
        }
        return exists
    }

    /// Removes the store and its side files, whatever they are (never following a link).
    static func remove(_ path: String) {
        for name in [path] + sideSuffixes.map({ path + $0 }) {
            if unlink(name) != 0, errno == EISDIR || errno == EPERM { try? FileManager.default.removeItem(atPath: name) }
        }
    }

    private init(path: String, readOnly: Bool) throws {
        self.path = path
        var configuration = Configuration()
        configuration.readonly = readOnly
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA trusted_schema = OFF") }
        connection = try DatabaseQueue(path: path, configuration: configuration)
    }

    private static let ownSchemaObjects: Set<String> = ["table root \(schema[0])", "table pages \(schema[1])", "index released_pages \(schema[2])"]
    private static let firstSchemaObjects: Set<String> = ["table root \(firstSchema[0])", "table pages \(firstSchema[1])"]

    /// The schema objects of the file, each as `type name sql`.
    private func schemaObjects() throws -> Set<String> {
        Set(try connection.read { db in
            try Row.fetchAll(db, sql: "SELECT type, name, sql FROM sqlite_master").map {
                "\($0["type"] as String? ?? "?") \($0["name"] as String? ?? "?") \($0["sql"] as String? ?? "")"
            }
        })
    }

    /// Whether the file holds exactly the tables and index a save makes.
    private func hasOwnSchema() throws -> Bool {
        try schemaObjects() == Self.ownSchemaObjects
    }

    /// Largest root or page read (a root holds every key commitment: 32 bytes a
    /// case, so 64 MiB is two million cases); a larger one is not read at all.
    static let maxRecordLength = 64 << 20

    /// The root's tag and bytes (nil if missing, not BLOBs, or larger than `maxRecordLength`).
    func root() throws -> (tag: [UInt8], bytes: [UInt8])? {
        try connection.read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT CASE WHEN typeof(tag) = 'blob' AND length(tag) <= 64 THEN tag END AS tag,
                       CASE WHEN typeof(bytes) = 'blob' AND length(bytes) <= ? THEN bytes END AS bytes
                FROM root WHERE id = 1
                """, arguments: [Self.maxRecordLength]),
                  let tag = row["tag"] as Data?, let bytes = row["bytes"] as Data? else { return nil }
            return (Array(tag), Array(bytes))
        }
    }

    /// The page with this SHA-256, checked: nil if it is missing or its bytes hash otherwise.
    func page(_ hash: [UInt8]) throws -> [UInt8]? {
        try pages([hash])[0]
    }

    /// Several pages, read in one transaction with one prepared statement, each checked as `page(_:)`.
    func pages(_ hashes: [[UInt8]]) throws -> [[UInt8]?] {
        let found = try connection.read { db in
            let statement = try db.cachedStatement(sql: "SELECT CASE WHEN typeof(bytes) = 'blob' AND length(bytes) <= ? THEN bytes END FROM pages WHERE hash = ?")
            return try hashes.map { hash in try Data.fetchOne(statement, arguments: [Self.maxRecordLength, Data(hash)]) }
        }
        return zip(found, hashes).map { bytes, hash in
            guard let bytes, SHA256Stream.hash(bytes) == hash else { return nil }
            return Array(bytes)
        }
    }

    /// Whether the stored root is no longer `bytes` (another save happened since they were read).
    func rootChanged(since bytes: [UInt8]) -> Bool {
        guard let current = try? root() else { return true }
        return current.bytes != bytes
    }

    /// Replaces the root and adds `pages`; pages the new root does not name
    /// (`referenced`, computed only when every stored page must be compared) are
    /// released, and those released long enough deleted.
    /// - Parameters:
    ///   - complete: the pages are every page the root names (a state
    ///     replayed from genesis). A partial save is written only into the store
    ///     it was loaded from: if that store is missing or not ours, nothing is
    ///     written (the next command replays from genesis and saves it whole).
    ///   - replacing: for a partial save, the root it was loaded from and the
    ///     pages that root named which the new one does not. If the stored root
    ///     is still that one, only those pages are released; otherwise (another
    ///     process saved meanwhile, or a save from genesis) every stored page is
    ///     compared with `referenced`.
    static func save(at path: String, tag: [UInt8], root: [UInt8], pages: [[UInt8]: [UInt8]], referenced: () throws -> Set<[UInt8]>,
                     complete: Bool, replacing: (root: [UInt8], dropped: Set<[UInt8]>)? = nil, now: Date = Date()) throws {
        let usable: Bool
        do {
            usable = try checkFiles(path) && (try KeptStore(path: path, readOnly: false).hasOwnSchema())
        } catch {
            usable = false
        }
        if !usable {
            remove(path)
            guard complete else { return }
            // Created owner-only before SQLite opens it (its -wal and -shm take the same mode).
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw SystemCallError(function: "open", path: path, errno: errno) }
            close(descriptor)
        }
        let store = try KeptStore(path: path, readOnly: false)
        let time = Int64(now.timeIntervalSince1970)
        try store.connection.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // A cache of verified state: a save lost to a power cut leaves the older,
            // authentic root (extended next time); WAL keeps the file consistent.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.inTransaction(.immediate) {
                if try !db.tableExists("root") { for statement in schema { try db.execute(sql: statement) } }
                let storedRoot = try Data.fetchOne(db, sql: "SELECT bytes FROM root WHERE id = 1").map(Array.init)
                // Replacing, not ignoring: a row already under that hash but damaged is repaired.
                let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO pages (hash, released, bytes) VALUES (?, NULL, ?)")
                for (hash, bytes) in pages { try insert.execute(arguments: [Data(hash), Data(bytes)]) }
                try db.execute(sql: "INSERT OR REPLACE INTO root (id, tag, bytes) VALUES (1, ?, ?)", arguments: [Data(tag), Data(root)])
                if let replacing, !complete, storedRoot == replacing.root {
                    let release = try db.cachedStatement(sql: "UPDATE pages SET released = ? WHERE hash = ? AND released IS NULL")
                    for hash in replacing.dropped { try release.execute(arguments: [time, Data(hash)]) }
                } else {
                    let referenced = try referenced()
                    let stored = try Row.fetchAll(db, sql: "SELECT hash, released FROM pages")
                    for row in stored {
                        let hash = Array(row["hash"] as Data? ?? Data())
                        let released = row["released"] as Int64?
                        if referenced.contains(hash) {
                            if released != nil { try db.execute(sql: "UPDATE pages SET released = NULL WHERE hash = ?", arguments: [Data(hash)]) }
                        } else if released == nil {
                            try db.execute(sql: "UPDATE pages SET released = ? WHERE hash = ?", arguments: [time, Data(hash)])
                        }
                    }
                }
                try db.execute(sql: "DELETE FROM pages WHERE released IS NOT NULL AND released < ?", arguments: [time - releaseDelay])
                return .commit
            }
            // Each save rewrites the root: copy it into the file and empty the WAL at once,
            // or the WAL grows with every save while any reader has the file open.
            _ = try? db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }
}
