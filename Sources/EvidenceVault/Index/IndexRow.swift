import Foundation
import GRDB
import VaultCrypto

/// One row of a projection table, in a form that can be compared between what
/// the ledger implies and what the database holds.
struct IndexRow: Hashable {
    /// The table.
    let table: String
    /// Primary-key columns, in order.
    let key: [String]
    /// Every column and its value.
    let columns: [String: DatabaseValue]

    /// `table/keyhex[/keyhex]`, naming the row in findings.
    var name: String {
        "\(table)/" + key.map { column in
            if case .blob(let data) = columns[column]?.storage { return Hex.encode(data) }
            return columns[column]?.description ?? "?"
        }.joined(separator: "/")
    }

    /// A row reduced to digests, so that `verify` can hold every row the ledger
    /// implies without holding their sealed bytes (THREATS.md 46).
    struct Digest {
        /// SHA-256 over every column name and value, in name order: rows are equal when these are.
        let row: [UInt8]
        /// A short hash of each column's value, in name order, to name the columns that differ
        /// once `row` says the rows differ. Swift's `Hasher` (SipHash, seeded at random per
        /// process): both sides are hashed in the same process, and equality is never decided by it.
        let columns: [(name: String, hash: Int)]

        /// The columns whose values differ from `other`'s (nothing if the rows are equal).
        func differingColumns(from other: Digest) -> [String] {
            guard row != other.row else { return [] }
            let mine = Dictionary(columns.map { ($0.name, $0.hash) }, uniquingKeysWith: { first, _ in first })
            let theirs = Dictionary(other.columns.map { ($0.name, $0.hash) }, uniquingKeysWith: { first, _ in first })
            let names = Set(mine.keys).union(theirs.keys).filter { mine[$0] != theirs[$0] }.sorted()
            return names.isEmpty ? ["the row"] : names
        }
    }

    /// This row's digests.
    var digest: Digest {
        var whole = SHA256Stream()
        var perColumn: [(String, Int)] = []
        perColumn.reserveCapacity(columns.count)
        var encoded: [UInt8] = []
        for name in columns.keys.sorted() {
            encoded.removeAll(keepingCapacity: true)
            let value = Self.canonicalBytes(columns[name] ?? .null)
            encoded.append(UInt8(name.utf8.count))
            encoded.append(contentsOf: name.utf8)
            withUnsafeBytes(of: UInt32(value.count).bigEndian) { encoded.append(contentsOf: $0) }
            encoded.append(contentsOf: value)
            whole.update(encoded)
            var short = Hasher()
            value.withUnsafeBytes { short.combine(bytes: $0) }
            perColumn.append((name, short.finalize()))
        }
        return Digest(row: whole.finalize(), columns: perColumn)
    }

    /// A type tag and the value's bytes.
    private static func canonicalBytes(_ value: DatabaseValue) -> [UInt8] {
        switch value.storage {
        case .null: return [0]
        case .int64(let number): return [1] + withUnsafeBytes(of: number.bigEndian, Array.init)
        case .double(let number): return [2] + withUnsafeBytes(of: number.bitPattern.bigEndian, Array.init)
        case .string(let text): return [3] + Array(text.utf8)
        case .blob(let data): return [4] + Array(data)
        }
    }

    static let primaryKeys: [String: [String]] = [
        "vault": ["id"], "identities": ["fingerprint"], "groups": ["id"],
        "members": ["group_id", "fingerprint"], "cases": ["id"], "documents": ["id"],
        "epochs": ["group_id", "epoch"], "seals": ["group_id", "epoch", "fingerprint"], "removals": ["seq"],
        "case_generations": ["case_id", "generation"], "reencryptions": ["seq"], "confirmations": ["group_id", "epoch", "fingerprint"],
    ]

    init(table: String, _ columns: [String: DatabaseValueConvertible]) {
        self.table = table
        self.key = Self.primaryKeys[table] ?? []
        self.columns = columns.mapValues { $0.databaseValue }
    }

    init(table: String, row: Row) {
        self.table = table
        self.key = Self.primaryKeys[table] ?? []
        var columns: [String: DatabaseValue] = [:]
        for (name, value) in row { columns[name] = value }
        self.columns = columns
    }

    /// Inserts the row (identities already present are kept: first event wins).
    func insert(_ db: Database) throws {
        let names = columns.keys.sorted()
        let verb = table == "identities" ? "INSERT OR IGNORE" : "INSERT"
        let sql = "\(verb) INTO \(table) (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
        try db.execute(sql: sql, arguments: StatementArguments(names.map { columns[$0] ?? .null }))
    }

    /// The rows an event implies, given the state before it (Docs/FORMAT.md §9).
    static func rows(for event: Event, before state: LedgerState) -> [IndexRow] {
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
            if state.identities[member.fingerprint] == nil { rows.append(identityRow(member, seq: seq)) }
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
