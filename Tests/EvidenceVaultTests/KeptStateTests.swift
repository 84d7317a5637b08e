import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// The kept ledger state (Docs/FORMAT.md §11, THREATS.md 61): a command starts
/// from the state its identity verified and kept on this machine and replays
/// only newer events. Its answers must equal a full replay's, and whoever can
/// write the state folder or the vault folder without the identity's keys must
/// not be able to make it answer otherwise.
@Suite("Kept ledger state")
struct KeptStateTests {
    /// A vault this machine created and knows, with a group, a lawyer, and
    /// about `cases` cases plus documents, a removal, a rotation and a re-encryption,
    /// so that every part of the state is exercised.
    final class Machine: @unchecked Sendable {
        let folder: TemporaryFolder
        let known: KnownVaults
        let custodian: UnlockedIdentity
        let lawyer: UnlockedIdentity
        let leaving: UnlockedIdentity
        let vault: Vault
        var caseIDs: [ObjectID] = []

        init(cases: Int, exports: Int = 0) throws {
            folder = try TemporaryFolder()
            known = KnownVaults(path: folder.file("state/known-vaults.json"))
            custodian = try .generate(name: "custodian")
            lawyer = try .generate(name: "lawyer")
            leaving = try .generate(name: "leaving lawyer")
            vault = try Vault.create(at: folder.file("vault"), creator: custodian, knownVaults: known)
            try vault.createGroup(named: "wg", as: custodian)
            try vault.addMember(lawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: custodian)
            try vault.addMember(leaving.publicIdentity, role: .lawyer, toGroup: "wg", as: custodian)
            var made = 0
            while made < cases {
                let batch = min(2000, cases - made)
                caseIDs += try vault.createCases(inGroup: "wg", (made..<made + batch).map { (reference: "CASE-\($0)", title: "case \($0)") },
                                                 as: custodian).map(\.id)
                made += batch
            }
            for index in 0..<3 { try add("testimony \(index)", to: caseIDs[0], as: leaving) }
            _ = try vault.removeMember(leaving.fingerprint.hex, fromGroup: "wg", reason: "left the group", as: custodian)
            _ = try vault.reencrypt(group: "wg", as: custodian)
            _ = try vault.confirmEpoch(ofGroup: "wg", as: lawyer)
            try add("after the rotation", to: caseIDs[1], as: lawyer)
            // Custody events in bulk, through the library's own append (one transaction per 5,000).
            let exported = try #require(try vault.replay().caseDocuments[caseIDs[1]]?.first)
            var left = exports
            while left > 0 {
                let batch = min(5000, left)
                try vault.appendEvents(as: lawyer) { _ in Array(repeating: .documentExported(documentID: exported, caseID: self.caseIDs[1]), count: batch) }
                left -= batch
            }
        }

        func add(_ text: String, to caseID: ObjectID, as actor: UnlockedIdentity) throws {
            let path = folder.file("input-\(UUID().uuidString)")
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            _ = try vault.addDocuments([NewDocument(path: path, kind: .testimony, title: text)], toCase: caseID.hex, as: actor)
        }

        /// The vault opened again, as a new command on this machine would.
        func reopened() throws -> Vault { try Vault.open(at: vault.folder, knownVaults: known) }

        func keptFile(of actor: UnlockedIdentity) throws -> String {
            let vaultID = try #require(try vault.replay().vaultID).hex
            return folder.file("state/kept/\(vaultID).\(actor.fingerprint.hex).state")
        }

        /// A full replay from genesis, checking every signature, with no kept state: the reference.
        func fullReplay() throws -> [UInt8] {
            let fresh = try Vault.open(at: vault.folder, knownVaults: nil)
            return KeptStateCoding.encode(try fresh.replay())
        }

        /// What `actor` is shown of case 0 and of every case, and the state its replay built.
        func answers(as actor: UnlockedIdentity, in opened: Vault) throws -> (state: [UInt8], documents: [String], cases: [String], outcome: KeptState.Outcome) {
            let state = KeptStateCoding.encode(try opened.replay(for: actor))
            let outcome = opened.keptStateOutcome
            let documents = try opened.documents(inCase: caseIDs[0].hex, as: actor)
                .map { "\($0.id.hex) \($0.metadata?.title ?? "?") \(Hex.encode($0.blobHash)) \($0.sequence)" }
            let cases = try opened.cases(inGroup: "wg", as: actor).map { "\($0.id.hex) \($0.reference ?? "?")" }
            return (state, documents, cases, outcome)
        }
    }

    @Test("a kept state is used, extended by newer events only, and answers exactly as a full replay (20,000 events)")
    func equalsFullReplay() throws {
        let machine = try Machine(cases: 2_000, exports: 18_000)
        try FileManager.default.removeItem(atPath: try machine.keptFile(of: machine.lawyer))
        let first = try machine.reopened()
        _ = try first.replay(for: machine.lawyer)
        #expect(first.keptStateOutcome == .absent, "the lawyer has kept nothing yet")
        #expect(FileManager.default.fileExists(atPath: try machine.keptFile(of: machine.lawyer)))

        let second = try machine.reopened()
        let before = try second.replay(for: machine.lawyer).count
        #expect(before > 20_000)
        #expect(try machine.vault.log().count == Int(before))
        #expect(second.keptStateOutcome == .used(count: before))
        #expect(KeptStateCoding.encode(try second.replay(for: machine.lawyer)) == (try machine.fullReplay()))

        // Another member's events arrive; the kept state is extended over them only.
        try machine.add("a later testimony", to: machine.caseIDs[0], as: machine.custodian)
        let third = try machine.reopened()
        let answers = try machine.answers(as: machine.lawyer, in: third)
        #expect(answers.outcome == .used(count: before))
        #expect(answers.state == (try machine.fullReplay()))
        #expect(answers.documents.count == 4)
        #expect(answers.cases.count == 2_000)

        // The same answers through a full replay (no kept state, every signature checked).
        let plain = try Vault.open(at: machine.vault.folder, knownVaults: nil)
        #expect(try plain.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer)
            .map { "\($0.id.hex) \($0.metadata?.title ?? "?") \(Hex.encode($0.blobHash)) \($0.sequence)" } == answers.documents)
        #expect(try plain.cases(inGroup: "wg", as: machine.lawyer).map { "\($0.id.hex) \($0.reference ?? "?")" } == answers.cases)
    }

    @Test("every edit of the kept file is refused, and the answer is still a full replay's")
    func tamperedKeptStateIsRefused() throws {
        let machine = try Machine(cases: 50)
        _ = try machine.reopened().replay(for: machine.lawyer)
        let path = try machine.keptFile(of: machine.lawyer)
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let reference = try machine.fullReplay()
        // Flip one bit in the tag, the header, the event hashes, a member's wrap region, the end; truncate; extend.
        var edits: [(String, [UInt8])] = []
        for offset in [0, 31, 32, 36, 40, good.count / 3, good.count / 2, good.count - 1] {
            var bytes = good
            bytes[offset] ^= 0x01
            edits.append(("bit flip at \(offset)", bytes))
        }
        edits.append(("truncated", Array(good.prefix(good.count - 9))))
        edits.append(("extended", good + [0]))
        edits.append(("emptied", []))
        for (what, bytes) in edits {
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let opened = try machine.reopened()
            let answers = try machine.answers(as: machine.lawyer, in: opened)
            guard case .rejected = answers.outcome else {
                Issue.record("\(what): the kept state was not refused (\(answers.outcome))")
                continue
            }
            #expect(answers.state == reference, "\(what)")
            #expect(answers.documents.count == 3, "\(what)")
            // Refused, then rebuilt from the verified ledger: the next command uses it again.
            let next = try machine.reopened()
            _ = try next.replay(for: machine.lawyer)
            #expect(next.keptStateOutcome == .used(count: try machine.vault.replay().count), "\(what): not rebuilt")
        }
    }

    @Test("a kept state made by another identity, or of another vault, is refused")
    func otherOwnersAndVaultsAreRefused() throws {
        let machine = try Machine(cases: 20)
        _ = try machine.reopened().replay(for: machine.lawyer)
        _ = try machine.reopened().replay(for: machine.custodian)
        let lawyerFile = try machine.keptFile(of: machine.lawyer)
        let custodianFile = try machine.keptFile(of: machine.custodian)
        // The custodian's kept state put where the lawyer's is: its tag was made under another key.
        try FileManager.default.removeItem(atPath: lawyerFile)
        try FileManager.default.copyItem(atPath: custodianFile, toPath: lawyerFile)
        let opened = try machine.reopened()
        _ = try opened.replay(for: machine.lawyer)
        #expect(opened.keptStateOutcome == .rejected("fails its authentication check (altered, or not written by this identity)"))

        // The lawyer's own kept state of another vault, put under this vault's name.
        let otherFolder = try TemporaryFolder()
        let other = try Vault.create(at: otherFolder.file("vault"), creator: machine.lawyer, knownVaults: machine.known)
        try other.createGroup(named: "elsewhere", as: machine.lawyer)
        _ = try Vault.open(at: other.folder, knownVaults: machine.known).replay(for: machine.lawyer)
        let otherID = try #require(try other.replay().vaultID).hex
        let otherFile = machine.folder.file("state/kept/\(otherID).\(machine.lawyer.fingerprint.hex).state")
        try FileManager.default.removeItem(atPath: lawyerFile)
        try FileManager.default.copyItem(atPath: otherFile, toPath: lawyerFile)
        let again = try machine.reopened()
        let answers = try machine.answers(as: machine.lawyer, in: again)
        #expect(answers.outcome == .rejected("is the state of another vault"))
        #expect(answers.state == (try machine.fullReplay()))
    }

    @Test("an older kept state put back is only extended; a ledger cut below it is refused as without one")
    func rollbacks() throws {
        let machine = try Machine(cases: 20)
        _ = try machine.reopened().replay(for: machine.lawyer)
        let path = try machine.keptFile(of: machine.lawyer)
        let older = try Data(contentsOf: URL(fileURLWithPath: path))
        let olderCount = try machine.vault.replay().count
        try machine.add("hidden by the rollback?", to: machine.caseIDs[0], as: machine.custodian)
        _ = try machine.reopened().replay(for: machine.lawyer)
        // The attacker of the state folder restores the older kept state: it still authenticates,
        // so it is used, and the newer event is replayed on top of it: nothing is hidden.
        try older.write(to: URL(fileURLWithPath: path))
        let opened = try machine.reopened()
        let answers = try machine.answers(as: machine.lawyer, in: opened)
        #expect(answers.outcome == .used(count: olderCount))
        #expect(answers.documents.count == 4)
        #expect(answers.state == (try machine.fullReplay()))

        // The attacker of the vault folder cuts the ledger below the kept head: the kept
        // state is dropped and the remembered head refuses the vault, as it always did.
        let queue = try DatabaseQueue(path: machine.vault.folder + "/vault.sqlite")
        try queue.write { try $0.execute(sql: "DELETE FROM events WHERE seq >= ?", arguments: [Int64(olderCount - 1)]) }
        try queue.close()
        let cut = try machine.reopened()
        #expect(throws: VaultError.self) { _ = try cut.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer) }
        guard case .rejected(let why) = cut.keptStateOutcome else {
            Issue.record("the kept state of a longer ledger was used: \(cut.keptStateOutcome)")
            return
        }
        #expect(why.contains("is not in the ledger"))
    }

    @Test("a ledger row edited below the kept head is caught when it is read, and by verify")
    func editedOldRowIsCaught() throws {
        let machine = try Machine(cases: 20)
        _ = try machine.reopened().replay(for: machine.lawyer)
        // Rewrite the bytes of the event that opened case 5 (its sealed reference), keeping the hash column.
        let state = try machine.vault.replay()
        let sequence = try #require(state.cases[machine.caseIDs[5]]).sequence
        let queue = try DatabaseQueue(path: machine.vault.folder + "/vault.sqlite")
        try queue.write { db in
            let bytes = try #require(try Data.fetchOne(db, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(sequence)]))
            var edited = Array(bytes)
            edited[edited.count - 70] ^= 0x01
            try db.execute(sql: "UPDATE events SET bytes = ? WHERE seq = ?", arguments: [Data(edited), Int64(sequence)])
        }
        try queue.close()
        let opened = try machine.reopened()
        let listed = try opened.cases(inGroup: "wg", as: machine.lawyer)
        #expect(opened.keptStateOutcome == .used(count: state.count))
        let problem = try #require(listed.first { $0.id == machine.caseIDs[5] }?.problem)
        #expect(problem.contains("changed after it was verified"), "\(problem)")
        #expect(listed.filter { $0.problem != nil }.count == 1)
        #expect(!machine.vault.verify().isClean)
    }
}
