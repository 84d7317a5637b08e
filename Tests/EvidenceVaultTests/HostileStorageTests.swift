import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// Whoever holds the storage can write anything into the vault folder: hostile
/// rows and files are reported, never a crash or an unbounded allocation (THREATS.md 40).
@Suite("Hostile storage")
struct HostileStorageTests {
    /// Recreates `events` without constraints, so that NULLs and text can be stored as an attacker could.
    func looseEvents(_ env: TestVault) throws {
        try env.sql("""
            CREATE TABLE loose (seq, hash, bytes); INSERT INTO loose SELECT seq, hash, bytes FROM events;
            DROP TABLE events; ALTER TABLE loose RENAME TO events;
            """)
    }

    @Test("NULL, text and oversized event columns are findings, not crashes")
    func hostileEventRows() throws {
        for (label, statement) in [("NULL seq", "UPDATE events SET seq = NULL WHERE seq = 3"),
                                   ("text bytes", "UPDATE events SET bytes = 'hello' WHERE seq = 3"),
                                   ("NULL hash", "UPDATE events SET hash = NULL WHERE seq = 3"),
                                   ("oversized", "UPDATE events SET bytes = zeroblob(5000000) WHERE seq = 3")] {
            let env = try TestVault()
            try looseEvents(env)
            try env.sql(statement)
            let findings = env.findings()
            #expect(findings.contains { $0.hasPrefix("event") }, "\(label): \(findings)")
            if label != "NULL hash" {  // replay recomputes hashes; only verify compares the stored column
                #expect(throws: VaultError.self, "\(label)") { _ = try env.vault.replay() }
                #expect(throws: VaultError.self, "\(label)") { _ = try env.vault.log() }
            }
        }
    }

    @Test("an oversized identity file is refused before it is read")
    func oversizedIdentity() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("huge.pub")
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 700 << 20)
        try handle.close()
        expectVaultError(.authenticationFailed, "too large") { _ = try IdentityStore.load(path) }
        expectVaultError(.invalidInput, "not a regular file") { _ = try IdentityStore.load(folder.path) }
    }

    @Test("a case reference that is also the start of a case id is refused, so lookups cannot be captured")
    func referenceVersusPrefix() throws {
        let env = try TestVault()
        let prefix = String(env.caseID.hex.prefix(6))
        expectVaultError(.invalidInput, "start of an existing case id") {
            _ = try env.vault.createCase(inGroup: "wg", reference: prefix, as: env.lawyer)
        }
        // A full id, existing or not, always reads as an id: no reference may be one.
        for reference in [env.caseID.hex, String(repeating: "ab", count: 16), String(repeating: "AB", count: 16)] {
            expectVaultError(.invalidInput, "32 hexadecimal characters") {
                _ = try env.vault.createCase(inGroup: "wg", reference: reference, as: env.lawyer)
            }
        }
        #expect(try env.vault.documents(inCase: prefix, as: env.lawyer).isEmpty, "the prefix still finds the case")
        #expect(try env.vault.documents(inCase: env.caseID.hex, as: env.lawyer).isEmpty, "the full id finds the case")
    }

    @Test("case references that cannot be told apart are refused, and a lookup that meets look-alikes in the ledger is ambiguous")
    func lookAlikeReferences() throws {
        let env = try TestVault()
        for lookAlike in ["CASE-1 ", " CASE-1", "case-1", "CASE-1\u{00A0}", "ＣＡＳＥ-1", "CASE\u{2010}1", "CASE-l"] {
            expectVaultError(lookAlike.trimmingCharacters(in: .whitespacesAndNewlines) == lookAlike ? .alreadyExists : .invalidInput) {
                _ = try env.vault.createCase(inGroup: "wg", reference: lookAlike, as: env.lawyer)
            }
        }
        // An id with white space around it, or in full-width digits, is still that id, never a reference.
        for disguised in [env.caseID.hex + " ", env.caseID.hex.uppercased().applyingTransform(.fullwidthToHalfwidth, reverse: true)!] {
            expectVaultError(.invalidInput) { _ = try env.vault.createCase(inGroup: "other", reference: disguised, as: env.outsider) }
        }
        // A member of another group, who cannot see CASE-1, writes look-alikes with a client of their own.
        func forge(_ reference: String) throws {
            try env.vault.appendEvents(as: env.outsider) { state in
                let group = try state.requireGroup(named: "other")
                let keys = env.vault.keyRing(for: env.outsider, state: state)
                let epochKey = try keys.epochKey(in: group, to: "forge")
                let caseID = try ObjectID.random(), caseKey = try CaseKey.random()
                return [.caseCreated(
                    caseID: caseID, groupID: group.id, epoch: group.epoch, generation: 1,
                    wrappedKey: try KeyWrap.wrapCaseKey(caseKey, under: epochKey, groupID: group.id, caseID: caseID, generation: 1, epoch: group.epoch),
                    sealedReference: try KeyWrap.sealField(Array(reference.utf8), caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "reference"),
                    sealedTitle: try KeyWrap.sealField([], caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "title"),
                    commitment: try KeyCommitment.caseKey(caseKey, groupID: group.id, caseID: caseID, generation: 1, epoch: group.epoch,
                                                          previous: KeyCommitment.none))]
            }
        }
        try forge(env.caseID.hex + " ")
        try forge("case-1")
        // The custodian reads both groups: the id with a space is still CASE-1; the reference meets two cases and is refused.
        let path = env.folder.file("evidence")
        try Data(sampleBytes(100)).write(to: URL(fileURLWithPath: path))
        let added = try env.vault.addDocuments([NewDocument(path: path, kind: .other)], toCase: env.caseID.hex + " ", as: env.custodian)
        #expect(added.map(\.caseID) == [env.caseID], "filed in the case whose id was given")
        expectVaultError(.invalidInput, "matches 2 cases") {
            _ = try env.vault.addDocuments([NewDocument(path: path, kind: .other)], toCase: "CASE-1", as: env.custodian)
        }
        #expect(try env.vault.documents(inCase: "CASE-1", as: env.lawyer).count == 1, "the lawyer, who reads one of them, still finds CASE-1")
    }

    @Test("an export to a folder is refused before anything is recorded")
    func exportToFolder() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(1000))
        let folder = env.folder.file("a-folder")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        expectVaultError(.invalidInput, "names a folder") { _ = try env.vault.export(document.id.hex, to: folder + "/", as: env.lawyer) }
        expectVaultError(.invalidInput, "not a file") { _ = try env.vault.export(document.id.hex, to: folder, force: true, as: env.lawyer) }
        expectVaultError(.alreadyExists) { _ = try env.vault.export(document.id.hex, to: folder, as: env.lawyer) }
        #expect(try env.vault.log().filter { $0.action == "document.export" }.isEmpty)
        // --force replaces a file, leaving no other name behind.
        let target = env.folder.file("target")
        try Data([9]).write(to: URL(fileURLWithPath: target))
        _ = try env.vault.export(document.id.hex, to: target, force: true, as: env.lawyer)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: target))) == sampleBytes(1000))
        #expect(try env.filesInScratch().allSatisfy { !$0.hasPrefix(".tmp-") })
    }

    @Test("a trigger planted in the schema is reported, and the database is owner-only")
    func plantedTrigger() throws {
        let env = try TestVault()
        try env.sql("CREATE TRIGGER vanish AFTER INSERT ON events BEGIN DELETE FROM events WHERE seq = NEW.seq; END")
        #expect(env.findings().contains { $0.contains("unexpected trigger vanish") })
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: "\(env.path)/vault.sqlite")[.posixPermissions] as? NSNumber)
        #expect(mode.intValue & 0o077 == 0)
    }
}
