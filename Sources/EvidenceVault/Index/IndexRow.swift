import Foundation
import GRDB
import VaultCrypto

/// One row of a projection table, in a form that can be compared between what
/// the ledger implies and what the database holds.
struct IndexRow {
    /// The table.
    let table: String
    /// Every column and its value, in name order (`IndexRow.precedes`).
    let columns: [(name: String, value: DatabaseValue)]

    /// Primary-key columns of `table`, in order.
    var keyColumns: [String] { Self.primaryKeys[table] ?? [] }

    /// The row's table and primary-key values: what names it, and what the
    /// index comparison looks it up by.
    struct Key: Hashable {
        /// Position of the table in `Schema.projectionTables`.
        let table: UInt8
        /// The canonical bytes (`IndexRow.canonicalBytes`) of each key value, each after its length.
        let values: [UInt8]

        /// The position of `table` in `Schema.projectionTables` (255 for any other name).
        static func code(of table: String) -> UInt8 {
            UInt8(Schema.projectionTables.firstIndex(of: table) ?? 255)
        }

        init(table: UInt8, values: [DatabaseValue]) {
            self.table = table
            var encoded: [UInt8] = []
            for value in values { IndexRow.appendCanonical(value, to: &encoded) }
            self.values = encoded
        }
    }

    /// This row's key.
    var key: Key { Key(table: Key.code(of: table), values: keyValues) }

    /// `table/keyhex[/keyhex]`, naming the row in findings.
    var name: String { Self.name(table: table, keyValues: keyValues) }

    private var keyValues: [DatabaseValue] {
        keyColumns.map { column in columns.first { $0.name == column }?.value ?? .null }
    }

    /// `table/keyhex[/keyhex]` for a row of `table` with these primary-key values.
    static func name(table: String, keyValues: [DatabaseValue]) -> String {
        "\(table)/" + keyValues.map { value in
            if case .blob(let data) = value.storage { return Hex.encode(data) }
            return value.description
        }.joined(separator: "/")
    }

    /// Column-name order of rows and digests: the names' UTF-8 bytes, compared as bytes.
    static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }

    /// SHA-256 over every column name and value, in name order: rows are equal
    /// when their digests are. `verify` holds one per row the ledger implies,
    /// not the sealed bytes (THREATS.md 46). `buffer` is scratch space, reused.
    static func digest(of columns: some Sequence<(name: String, value: DatabaseValue)>, hasher: SHA256Hasher,
                       buffer: inout [UInt8]) -> SHA256Digest {
        buffer.removeAll(keepingCapacity: true)
        for (name, value) in columns {
            buffer.append(UInt8(truncatingIfNeeded: name.utf8.count))
            buffer.append(contentsOf: name.utf8)
            appendCanonical(value, to: &buffer)
        }
        return buffer.withUnsafeBytes { hasher.hash($0) }
    }

    /// This row's digest.
    func digest(hasher: SHA256Hasher, buffer: inout [UInt8]) -> SHA256Digest {
        Self.digest(of: columns, hasher: hasher, buffer: &buffer)
    }

    /// The columns whose values differ from `stored` (in name order), "the row"
    /// if the two have the same values but not the same columns.
    func differingColumns(from stored: [(name: String, value: DatabaseValue)]) -> [String] {
        var mine: [String: [UInt8]] = [:], theirs: [String: [UInt8]] = [:]
        for (name, value) in columns { mine[name] = Self.canonical(value) }
        for (name, value) in stored { theirs[name] = Self.canonical(value) }
        let names = Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted(by: Self.precedes)
        return names.isEmpty ? ["the row"] : names
    }

    /// A value's canonical bytes: its length (4 bytes, big-endian), a type tag and the value's bytes.
    static func appendCanonical(_ value: DatabaseValue, to buffer: inout [UInt8]) {
        func length(_ count: Int) {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: count + 1).bigEndian) { buffer.append(contentsOf: $0) }
        }
        switch value.storage {
        case .null:
            length(0); buffer.append(0)
        case .int64(let number):
            length(8); buffer.append(1); withUnsafeBytes(of: number.bigEndian) { buffer.append(contentsOf: $0) }
        case .double(let number):
            length(8); buffer.append(2); withUnsafeBytes(of: number.bitPattern.bigEndian) { buffer.append(contentsOf: $0) }
        case .string(let text):
            length(text.utf8.count); buffer.append(3); buffer.append(contentsOf: text.utf8)
        case .blob(let data):
            length(data.count); buffer.append(4); buffer.append(contentsOf: data)
        }
    }

    private static func canonical(_ value: DatabaseValue) -> [UInt8] {
        var bytes: [UInt8] = []
        appendCanonical(value, to: &bytes)
        return bytes
    }

    static let primaryKeys: [String: [String]] = [
        "vault": ["id"], "identities": ["fingerprint"], "groups": ["id"],
        "members": ["group_id", "fingerprint"], "cases": ["id"], "documents": ["id"],
        "epochs": ["group_id", "epoch"], "seals": ["group_id", "epoch", "fingerprint"], "removals": ["seq"],
        "case_generations": ["case_id", "generation"], "reencryptions": ["seq"], "confirmations": ["group_id", "epoch", "fingerprint"],
    ]

    init(table: String, _ columns: KeyValuePairs<String, DatabaseValueConvertible>) {
        self.table = table
        self.columns = columns.map { (name: $0.key, value: $0.value.databaseValue) }.sorted { Self.precedes($0.name, $1.name) }
    }

    /// Inserts the row (identities already present are kept: first event wins).
    func insert(_ db: Database) throws {
        let verb = table == "identities" ? "INSERT OR IGNORE" : "INSERT"
        let sql = "\(verb) INTO \(table) (\(columns.map(\.name).joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
        try db.execute(sql: sql, arguments: StatementArguments(columns.map(\.value)))
    }

    /// The rows an event implies, given the state before it (Docs/FORMAT.md §9).
    static func rows(for event: Event, before state: LedgerState) -> [IndexRow] {
        rows(for: event, admitsIdentity: { state.identities[$0] == nil })
    }

    /// The rows an event implies; `admitsIdentity` says whether the identity a
    /// `member.add` names is new to the ledger (only then does it imply an
    /// `identities` row).
    static func rows(for event: Event, admitsIdentity: (Fingerprint) -> Bool) -> [IndexRow] {
        let seq = Int64(bitPattern: event.sequence)
        let time = Int64(bitPattern: event.time)
        let actor = Data(event.actor.rawValue)
        switch event.body {
        case .genesis(let vaultID, let creator):
            return [
                IndexRow(table: "vault", ["id": Data(vaultID.rawValue), "creator": actor, "created": time, "seq": seq]),
                identityRow(creator, seq: seq),
            ]
        case .groupCreated(let groupID, let name, let epoch, let wrap, let commitment):
            return (commitment.map { [epochRow(groupID: groupID, epoch: epoch, commitment: $0, previous: [], actor: actor, time: time, seq: seq)] } ?? [])
                + [
                IndexRow(table: "groups", ["id": Data(groupID.rawValue), "name": name, "epoch": Int64(epoch), "creator": actor,
                                           "created": time, "seq": seq]),
                IndexRow(table: "members", ["group_id": Data(groupID.rawValue), "fingerprint": actor, "role": Role.custodian.description,
                                            "epoch": Int64(epoch), "wrap": Data(wrap), "added_by": actor, "added": time, "seq": seq]),
            ]
        case .memberAdded(let groupID, let member, let role, let epoch, let wrap):
            var rows = [IndexRow(table: "members", ["group_id": Data(groupID.rawValue), "fingerprint": Data(member.fingerprint.rawValue),
                                                    "role": role.description, "epoch": Int64(epoch), "wrap": Data(wrap),
                                                    "added_by": actor, "added": time, "seq": seq])]
            if admitsIdentity(member.fingerprint) { rows.append(identityRow(member, seq: seq)) }
            return rows
        case .caseCreated(let caseID, let groupID, let epoch, let generation, let wrappedKey, let reference, let title, let commitment):
            return (commitment.map { [generationRow(caseID: caseID, generation: generation, epoch: epoch, wrappedKey: wrappedKey,
                                                   commitment: $0, actor: actor, time: time, seq: seq)] } ?? [])
                + [IndexRow(table: "cases", ["id": Data(caseID.rawValue), "group_id": Data(groupID.rawValue), "epoch": Int64(epoch),
                                              "generation": Int64(generation), "wrapped_key": Data(wrappedKey),
                                              "sealed_reference": Data(reference), "sealed_title": Data(title),
                                              "author": actor, "created": time, "seq": seq])]
        case .documentAdded(let record):
            return [IndexRow(table: "documents", ["id": Data(record.documentID.rawValue), "case_id": Data(record.caseID.rawValue),
                                                  "version": Int64(record.version), "generation": Int64(record.generation),
                                                  "wrapped_key": Data(record.wrappedKey), "blob_hash": Data(record.blobHash),
                                                  "blob_size": Int64(bitPattern: record.blobSize), "sealed_metadata": Data(record.sealedMetadata),
                                                  "author": actor, "added": time, "seq": seq])]
        case .documentExported:
            return []  // custody only: the ledger and `evault log` show it
        case .memberRemoved(let groupID, let member, let reason, let rotation):
            return [IndexRow(table: "removals", ["seq": seq, "group_id": Data(groupID.rawValue), "fingerprint": Data(member.rawValue),
                                                 "sealed_reason": Data(reason), "removed_by": actor, "removed": time])]
                + (rotation.map { rotationRows($0, groupID: groupID, actor: actor, time: time, seq: seq) } ?? [])
        case .epochRotated(let groupID, _, let rotation):
            return rotationRows(rotation, groupID: groupID, actor: actor, time: time, seq: seq)
        case .caseRekeyed(let caseID, _, let epoch, let generation, let wrappedKey, let commitment):
            return [generationRow(caseID: caseID, generation: generation, epoch: epoch, wrappedKey: wrappedKey, commitment: commitment,
                                  actor: actor, time: time, seq: seq)]
        case .documentReencrypted(let record):
            return [IndexRow(table: "reencryptions", ["seq": seq, "document_id": Data(record.documentID.rawValue), "case_id": Data(record.caseID.rawValue),
                                                      "generation": Int64(record.generation), "wrapped_key": Data(record.wrappedKey),
                                                      "old_blob_hash": Data(record.oldBlobHash), "blob_hash": Data(record.blobHash),
                                                      "blob_size": Int64(bitPattern: record.blobSize), "sealed_metadata": Data(record.sealedMetadata),
                                                      "author": actor, "added": time])]
        case .epochConfirmed(let groupID, let epoch, _):
            return [IndexRow(table: "confirmations", ["group_id": Data(groupID.rawValue), "epoch": Int64(epoch), "fingerprint": actor, "seq": seq])]
        }
    }

    private static func epochRow(groupID: ObjectID, epoch: UInt32, commitment: [UInt8], previous: [UInt8], actor: Data, time: Int64, seq: Int64) -> IndexRow {
        IndexRow(table: "epochs", ["group_id": Data(groupID.rawValue), "epoch": Int64(epoch), "commitment": Data(commitment),
                                   "previous_key_wrap": Data(previous), "actor": actor, "created": time, "seq": seq])
    }

    private static func rotationRows(_ rotation: Rotation, groupID: ObjectID, actor: Data, time: Int64, seq: Int64) -> [IndexRow] {
        [epochRow(groupID: groupID, epoch: rotation.epoch, commitment: rotation.commitment, previous: rotation.previousKeyWrap,
                  actor: actor, time: time, seq: seq)]
            + rotation.seals.map { seal in
                IndexRow(table: "seals", ["group_id": Data(groupID.rawValue), "epoch": Int64(rotation.epoch),
                                          "fingerprint": Data(seal.member.rawValue), "wrap": Data(seal.wrap), "seq": seq])
            }
    }

    private static func generationRow(caseID: ObjectID, generation: UInt32, epoch: UInt32, wrappedKey: [UInt8], commitment: [UInt8],
                                      actor: Data, time: Int64, seq: Int64) -> IndexRow {
        IndexRow(table: "case_generations", ["case_id": Data(caseID.rawValue), "generation": Int64(generation), "epoch": Int64(epoch),
                                             "wrapped_key": Data(wrappedKey), "commitment": Data(commitment), "author": actor,
                                             "created": time, "seq": seq])
    }

    private static func identityRow(_ identity: PublicIdentity, seq: Int64) -> IndexRow {
        IndexRow(table: "identities", ["fingerprint": Data(identity.fingerprint.rawValue), "name": identity.name,
                                       "public": Data(identity.encoded()), "seq": seq])
    }
}
