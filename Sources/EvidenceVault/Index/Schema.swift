import Foundation
import GRDB

/// The vault database: the ledger (`events`, the source of truth) and the index
/// tables projected from it. Migrations are named and never change once shipped.
enum Schema {
    /// Tables derived from the ledger; `evault index rebuild` empties and refills them.
    static let projectionTables = ["vault", "identities", "groups", "members", "cases", "documents",
                                   "epochs", "seals", "removals", "case_generations", "reencryptions", "confirmations"]

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
        // Rotation (event version 2): rows of the new events. Existing rows never change:
        // the index stays a projection of what each event says (Docs/FORMAT.md §9.3).
        migrator.registerMigration("v2-rotation") { db in
            try db.execute(sql: """
                CREATE TABLE epochs (
                    group_id BLOB NOT NULL,
                    epoch INTEGER NOT NULL,
                    commitment BLOB NOT NULL,
                    previous_key_wrap BLOB NOT NULL,
                    actor BLOB NOT NULL,
                    created INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (group_id, epoch)
                );
                CREATE TABLE seals (
                    group_id BLOB NOT NULL,
                    epoch INTEGER NOT NULL,
                    fingerprint BLOB NOT NULL,
                    wrap BLOB NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (group_id, epoch, fingerprint)
                );
                CREATE TABLE removals (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    group_id BLOB NOT NULL,
                    fingerprint BLOB NOT NULL,
                    sealed_reason BLOB NOT NULL,
                    removed_by BLOB NOT NULL,
                    removed INTEGER NOT NULL
                );
                CREATE TABLE case_generations (
                    case_id BLOB NOT NULL,
                    generation INTEGER NOT NULL,
                    epoch INTEGER NOT NULL,
                    wrapped_key BLOB NOT NULL,
                    commitment BLOB NOT NULL,
                    author BLOB NOT NULL,
                    created INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (case_id, generation)
                );
                CREATE TABLE reencryptions (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    document_id BLOB NOT NULL,
                    case_id BLOB NOT NULL,
                    generation INTEGER NOT NULL,
                    wrapped_key BLOB NOT NULL,
                    old_blob_hash BLOB NOT NULL,
                    blob_hash BLOB NOT NULL,
                    blob_size INTEGER NOT NULL,
                    sealed_metadata BLOB NOT NULL,
                    author BLOB NOT NULL,
                    added INTEGER NOT NULL
                );
                CREATE TABLE confirmations (
                    group_id BLOB NOT NULL,
                    epoch INTEGER NOT NULL,
                    fingerprint BLOB NOT NULL,
                    seq INTEGER NOT NULL,
                    PRIMARY KEY (group_id, epoch, fingerprint)
                );
                CREATE INDEX reencryptions_by_document ON reencryptions(document_id);
                """)
        }
        return migrator
    }
}
