import Foundation
import GRDB

/// The vault database: the ledger (`events`, the source of truth) and the index
/// tables projected from it. Migrations are named and never change once shipped.
enum Schema {
    /// Tables derived from the ledger; `evault index rebuild` empties and refills them.
    static let projectionTables = ["vault", "identities", "groups", "members", "cases", "documents"]

    /// Every migration, in order. A database listing a name not here was written
    /// by a newer evault and is refused (`DatabaseRecognition`).
    static let migrationNames = migrator.migrations

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-ledger-and-index") { db in
            try db.execute(sql: """
                CREATE TABLE events (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    hash BLOB NOT NULL,
                    bytes BLOB NOT NULL
                );
                CREATE TABLE vault (
                    id BLOB PRIMARY KEY NOT NULL,
                    creator BLOB NOT NULL,
                    created INTEGER NOT NULL,
                    seq INTEGER NOT NULL
                );
                CREATE TABLE identities (
                    fingerprint BLOB PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    public BLOB NOT NULL,
                    seq INTEGER NOT NULL
                );
                CREATE TABLE groups (
                    id BLOB PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL UNIQUE,
                    epoch INTEGER NOT NULL,
                    creator BLOB NOT NULL,
                    created INTEGER NOT NULL,
                    seq INTEGER NOT NULL
                );
                CREATE TABLE members (
                    group_id BLOB NOT NULL,
                    fingerprint BLOB NOT NULL,
                    role TEXT NOT NULL,
                    epoch INTEGER NOT NULL,
                    wrap BLOB NOT NULL,
                    added_by BLOB NOT NULL,
                    added INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (group_id, fingerprint)
                );
                CREATE TABLE cases (
                    id BLOB PRIMARY KEY NOT NULL,
                    group_id BLOB NOT NULL,
                    epoch INTEGER NOT NULL,
                    generation INTEGER NOT NULL,
                    wrapped_key BLOB NOT NULL,
                    sealed_reference BLOB NOT NULL,
                    sealed_title BLOB NOT NULL,
                    author BLOB NOT NULL,
                    created INTEGER NOT NULL,
                    seq INTEGER NOT NULL
                );
                CREATE TABLE documents (
                    id BLOB PRIMARY KEY NOT NULL,
                    case_id BLOB NOT NULL,
                    version INTEGER NOT NULL,
                    generation INTEGER NOT NULL,
                    wrapped_key BLOB NOT NULL,
                    blob_hash BLOB NOT NULL,
                    blob_size INTEGER NOT NULL,
                    sealed_metadata BLOB NOT NULL,
                    author BLOB NOT NULL,
                    added INTEGER NOT NULL,
                    seq INTEGER NOT NULL
                );
                CREATE INDEX documents_by_case ON documents(case_id);
                CREATE INDEX cases_by_group ON cases(group_id);
                """)
        }
        return migrator
    }
}
