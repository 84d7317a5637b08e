import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md C (metadata and index), G37-38 (corruption) and E31 (no plaintext on disk).
@Suite("Index, corruption and leaks (THREATS.md C, E31, G)")
struct IndexAttackTests {
    @Test("C21: an index row edited in SQLite is named by verify, column by column")
    func editedRows() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(300))
        let id = Data(document.id.rawValue)
        let edits: [(String, DatabaseValueConvertible, String)] = [
            ("sealed_metadata", Data(try Random.bytes(80)), "sealed_metadata"),
            ("blob_size", 1, "blob_size"),
            ("added", 0, "added"),
            ("author", Data(env.secondLawyer.fingerprint.rawValue), "author"),
        ]
        for (column, value, expected) in edits {
            let fresh = try TestVault()
            let doc = try fresh.add(sampleBytes(300))
            try fresh.sql("UPDATE documents SET \(column) = ? WHERE id = ?", [value, Data(doc.id.rawValue)])
            let findings = fresh.findings()
            // Exactly the edited column is named (derived again from the event, not guessed from short hashes).
            #expect(findings.contains { $0 == "index row documents/\(doc.id.hex): \(expected) differ(s) from ledger event \(doc.sequence)" },
                    "\(findings)")
        }
        try env.sql("UPDATE cases SET sealed_title = ? WHERE id = ?", [Data(try Random.bytes(40)), Data(env.caseID.rawValue)])
        #expect(env.findings().contains { $0.contains("index row cases/\(env.caseID.hex)") && $0.contains("sealed_title") })
        _ = id
    }

    @Test("C21: a column added to a table, and a row stored twice in a table rebuilt without its key, are named")
    func addedColumnAndDuplicateRow() throws {
        let widened = try TestVault()
        let document = try widened.add(sampleBytes(300))
        try widened.sql("ALTER TABLE documents ADD COLUMN note TEXT DEFAULT 'x'", [])
        #expect(widened.findings().contains { $0 == "index row documents/\(document.id.hex): note differ(s) from ledger event \(document.sequence)" },
                "\(widened.findings())")

        let doubled = try TestVault()
        let added = try doubled.add(sampleBytes(300))
        try doubled.sql("CREATE TABLE copy AS SELECT * FROM documents", [])
        try doubled.sql("DROP TABLE documents", [])
        try doubled.sql("ALTER TABLE copy RENAME TO documents", [])
        try doubled.sql("INSERT INTO documents SELECT * FROM documents", [])
        let findings = doubled.findings()
        #expect(findings.contains { $0 == "index row documents/\(added.id.hex): is stored twice" }, "\(findings)")
        #expect(!findings.contains { $0.contains("is missing") }, "\(findings)")
    }

    @Test("C22: a document moved to another case or group by editing rows is detected; reads follow the ledger")
    func movedDocument() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(300))
        let other = try env.vault.createCase(inGroup: "wg", reference: "CASE-2", as: env.lawyer)
        try env.sql("UPDATE documents SET case_id = ? WHERE id = ?", [Data(other.id.rawValue), Data(document.id.rawValue)])
        #expect(env.findings().contains { $0.contains("index row documents/\(document.id.hex)") && $0.contains("case_id") })
        #expect(try env.vault.documents(inCase: "CASE-2", as: env.lawyer).isEmpty)
        #expect(try env.vault.documents(inCase: "CASE-1", as: env.lawyer).map(\.id) == [document.id])
        let otherGroup = try env.vault.replay().requireGroup(named: "other")
        try env.sql("UPDATE cases SET group_id = ? WHERE id = ?", [Data(otherGroup.id.rawValue), Data(env.caseID.rawValue)])
        #expect(env.findings().contains { $0.contains("index row cases/\(env.caseID.hex)") && $0.contains("group_id") })
        expectVaultError(.notPermitted) { _ = try env.export(document.id, as: env.outsider) }
    }

    @Test("C23: a blob and rows inserted without a ledger event are reported and never shown as evidence")
    func framedDocument() throws {
        let env = try TestVault()
        let real = try env.add(sampleBytes(300))
        let fakeID = try ObjectID.random()
        let fakeBlob = try Random.bytes(500)
        let fakeHash = SHA256Stream.hash(fakeBlob)
        try Data(fakeBlob).write(to: URL(fileURLWithPath: "\(env.blobFolder)/\(Hex.encode(fakeHash))"))
        try env.sql("""
            INSERT INTO documents (id, case_id, version, generation, wrapped_key, blob_hash, blob_size, sealed_metadata, author, added, seq)
            SELECT ?, case_id, 1, 1, wrapped_key, ?, 500, sealed_metadata, author, added, seq FROM documents WHERE id = ?
            """, [Data(fakeID.rawValue), Data(fakeHash), Data(real.id.rawValue)])
        let findings = env.findings()
        #expect(findings.contains { $0.contains("index row documents/\(fakeID.hex)") && $0.contains("not backed by any ledger event") })
        #expect(findings.contains { $0.contains("blob folder entry \(Hex.encode(fakeHash))") && $0.contains("not named by any ledger event") })
        #expect(try env.vault.documents(inCase: "CASE-1", as: env.lawyer).map(\.id) == [real.id])
        expectVaultError(.notFound, fakeID.hex) { _ = try env.vault.document(fakeID.hex, as: env.lawyer) }
    }

    @Test("C24: a structure fed where another is expected is refused by its type tag")
    func typeConfusion() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(300))
        let blob = try env.readBlob(document)
        let eventBytes = Array(try #require(try DatabaseQueue(path: "\(env.path)/vault.sqlite").read {
            try Data.fetchOne($0, sql: "SELECT bytes FROM events WHERE seq = 0")
        }))
        #expect(throws: FormatError.wrongType(structure: "event", expected: .event, found: TypeTag.blob.rawValue)) {
            try Event.decode(blob)
        }
        #expect(throws: FormatError.wrongType(structure: "public identity", expected: .publicIdentity, found: TypeTag.event.rawValue)) {
            try PublicIdentity.decode(eventBytes)
        }
        #expect(throws: FormatError.wrongType(structure: "blob", expected: .blob, found: TypeTag.event.rawValue)) {
            try BlobHeader.decode(Array(eventBytes.prefix(BlobHeader.length)), structure: "blob")
        }
        #expect(throws: FormatError.self) { try LockedIdentity(bytes: blob) }
        // A blob stored where an event is expected: the ledger is refused at that sequence number.
        try env.sql("UPDATE events SET bytes = ? WHERE seq = 2", [Data(blob)])
        #expect(env.findings().contains { $0.hasPrefix("event 2:") && $0.contains("document blob") })
    }

    @Test("C25: a deleted row and blob leave the ledger event with nothing behind it, and verify says so")
    func deletedRowAndBlob() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(300))
        try env.sql("DELETE FROM documents WHERE id = ?", [Data(document.id.rawValue)])
        try FileManager.default.removeItem(atPath: env.blobPath(document))
        let findings = env.findings()
        #expect(findings.contains { $0.contains("index row documents/\(document.id.hex)") && $0.contains("is missing") })
        #expect(findings.contains { $0.contains("document \(document.id.hex)") && $0.contains("blob") && $0.contains("missing") })
        expectVaultError(.integrity, document.id.hex, "missing") { _ = try env.export(document.id) }
        // The index comes back from the ledger; the blob does not (that needs a backup).
        _ = try env.vault.rebuildIndex()
        #expect(env.findings().count == 1)
    }

    @Test("F33: orphans are cleanly repairable: clean removes old unnamed blobs, never named or recent ones")
    func cleanOrphans() throws {
        let env = try TestVault()
        let kept = try env.add(sampleBytes(5000))
        let old = "\(env.blobFolder)/\(Hex.encode(try Random.bytes(32)))"
        let recent = "\(env.blobFolder)/\(Hex.encode(try Random.bytes(32)))"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: old))
        try Data([4, 5, 6]).write(to: URL(fileURLWithPath: recent))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: old)
        #expect(env.findings().count == 2)
        let removed = try env.vault.removeOrphans(minimumAge: 600)
        #expect(removed == [(old as NSString).lastPathComponent])
        #expect(FileManager.default.fileExists(atPath: recent), "a recent orphan may belong to an add in progress")
        #expect(FileManager.default.fileExists(atPath: env.blobPath(kept)))
        #expect(try env.vault.removeOrphans(minimumAge: 0).count == 1)
        #expect(env.findings().isEmpty)
        #expect(try env.export(kept.id) == sampleBytes(5000))
    }

    @Test("index rebuild yields the same rows")
    func rebuildIsIdentical() throws {
        let env = try TestVault()
        try env.add(sampleBytes(70_000), tags: ["x"])
        let before = try dump(env)
        #expect(try env.vault.rebuildIndex() > 0)
        #expect(try dump(env) == before)
        #expect(env.findings().isEmpty)
    }

    func dump(_ env: TestVault) throws -> [String] {
        try DatabaseQueue(path: "\(env.path)/vault.sqlite").read { db in
            try Schema.projectionTables.flatMap { table in
                try Row.fetchAll(db, sql: "SELECT * FROM \(table)").map { "\(table): \($0)" }.sorted()
            }
        }
    }

    @Test("G37: random bit flips across the blob store name each damaged document and spare the rest")
    func bitRot() throws {
        let env = try TestVault()
        var documents: [(DocumentSummary, [UInt8])] = []
        for index in 0..<6 {
            let content = sampleBytes(50_000 + index * 70_000, seed: UInt64(index))
            documents.append((try env.add(content, name: "doc\(index)"), content))
        }
        var generator = SystemRandomNumberGenerator()
        let damaged = Set([1, 4])
        for index in damaged {
            var blob = try env.readBlob(documents[index].0)
            for _ in 0..<3 { blob[Int.random(in: BlobHeader.length..<blob.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator)) }
            try env.writeBlob(documents[index].0, blob)
        }
        let findings = env.vault.verify().findings
        #expect(Set(findings.map(\.object)) == Set(damaged.map { "document \(documents[$0].0.id.hex)" }))
        // With a reader's key, verify also names the damaged chunk, writing no plaintext.
        let located = env.vault.verify(reader: env.secondLawyer).findings
        #expect(located.count == damaged.count)
        #expect(located.allSatisfy { $0.problem.contains("with the reader's key") && $0.problem.contains("chunk") }, "\(located)")
        // An auditor's key names nothing more.
        #expect(env.vault.verify(reader: env.auditor).findings.map(\.problem) == findings.map(\.problem))
        for (index, (document, content)) in documents.enumerated() {
            if damaged.contains(index) {
                expectVaultError(.integrity, document.id.hex) { _ = try env.export(document.id) }
            } else {
                #expect(try env.export(document.id) == content)
            }
        }
    }

    @Test("G38: corrupt SQLite pages are reported; the index comes back from the ledger")
    func corruptPages() throws {
        let env = try TestVault()
        for index in 0..<30 { try env.add(sampleBytes(100, seed: UInt64(index)), name: "d\(index)") }
        let (pageSize, rootPage) = try DatabaseQueue(path: "\(env.path)/vault.sqlite").writeWithoutTransaction { db -> (Int, Int) in
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
            return (try Int.fetchOne(db, sql: "PRAGMA page_size")!,
                    try Int.fetchOne(db, sql: "SELECT rootpage FROM sqlite_master WHERE name = 'documents'")!)
        }
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: "\(env.path)/vault.sqlite"))
        try handle.seek(toOffset: UInt64((rootPage - 1) * pageSize))
        try handle.write(contentsOf: Data(repeating: 0xA5, count: pageSize))
        try handle.close()
        let damaged = try Vault.open(at: env.path)
        let report = damaged.verify()
        #expect(!report.isClean)
        #expect(report.findings.contains { $0.object == "database" || $0.object.hasPrefix("index") })
        #expect(report.eventsVerified == report.eventsStored, "the ledger itself survived")
        _ = try damaged.rebuildIndex()
        #expect(try Vault.open(at: env.path).verify().isClean)
    }

    @Test("E31: after a full session no marker and no key byte is anywhere under the vault folder")
    func noPlaintextOnDisk() throws {
        let marker = "ZQXMARKER\(UInt32.random(in: 100_000...999_999))"
        let env = try TestVault()
        let theCase = try env.vault.createCase(inGroup: "wg", reference: "REF-\(marker)", title: "Title \(marker)", as: env.lawyer)
        let source = env.folder.file("testimony-\(marker).txt")
        var content = Array("Victim \(marker) testified about detention.\n".utf8)
        content += sampleBytes(200_000) + Array(marker.utf8)
        try Data(content).write(to: URL(fileURLWithPath: source))
        let added = try env.vault.addDocuments([NewDocument(path: source, kind: .testimony, title: "Statement of \(marker)",
                                                            tags: ["victim-\(marker)"])], toCase: "REF-\(marker)", as: env.lawyer)
        let exportFolder = try TemporaryFolder()
        _ = try env.vault.export(added[0].id.hex, to: exportFolder.file("out"), as: env.secondLawyer)
        _ = try env.vault.cases(as: env.lawyer)
        _ = try env.vault.documents(inCase: theCase.id.hex, as: env.lawyer)
        _ = env.vault.verify()
        _ = try env.vault.rebuildIndex()
        // Every key of the hierarchy that could open the marker: epoch, case and document keys.
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let keys = env.vault.keyRing(for: env.lawyer, state: state)
        let epochKey = try keys.epochKey(in: group, to: "test")
        let caseRecord = try #require(try state.lookupCase(theCase.id))
        let caseKey = try keys.caseKey(caseRecord, to: "test")
        let document = try #require(state.documents[added[0].id])
        let (documentKey, _, _) = try keys.documentKeyAndMetadata(document, to: "test")
        let needles = [Array(marker.utf8),
                       env.lawyer.signing.seed.unprotectedCopy(), env.lawyer.encryption.secretKey.unprotectedCopy(),
                       env.secondLawyer.encryption.secretKey.unprotectedCopy(),
                       epochKey.key.bytes.unprotectedCopy(), caseKey.key.bytes.unprotectedCopy(), documentKey.key.bytes.unprotectedCopy()]
        var scanned = 0
        let enumerator = try #require(FileManager.default.enumerator(atPath: env.path))
        for case let relative as String in enumerator {
            let path = "\(env.path)/\(relative)"
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            scanned += 1
            for needle in needles { #expect(firstRange(of: needle, in: bytes) == nil, "\(relative) contains a marker or key bytes") }
        }
        #expect(scanned >= 3, "database, WAL and at least one blob were scanned")
        #expect(FileManager.default.fileExists(atPath: "\(env.path)/vault.sqlite-wal"))
    }
}

/// THREATS.md 53: every write transaction checks the schema of the file it
/// writes, so a change made after the vault was opened is refused too.
@Suite("Recognition inside write transactions")
struct RecognitionInTransactionTests {
    @Test("a table planted after open makes the next append fail, and nothing is appended")
    func plantedAfterOpen() throws {
        let env = try TestVault()
        let before = try env.vault.replay().count
        try env.sql("CREATE TABLE planted (x)")
        expectVaultError(.integrity, "vault.sqlite", "unexpected: planted") { try env.add(sampleBytes(1000)) }
        try env.sql("DROP TABLE planted")
        #expect(try env.vault.replay().count == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: env.blobFolder).isEmpty, "the blob of the refused add was removed")
        let added = try env.add(sampleBytes(1000))
        #expect(try env.export(added.id) == sampleBytes(1000))
    }

    @Test("a schema step stored as a blob, not text, is refused")
    func migrationNameNotText() throws {
        let env = try TestVault()
        try env.sql("UPDATE grdb_migrations SET identifier = CAST(identifier AS BLOB)")
        #expect(throws: VaultError.self) { try Vault.open(at: env.path, access: .read) }
    }
}
