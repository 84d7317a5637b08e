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
            // Each member's identity is told to trust the vault (the creator's was, by creating it).
            for member in [lawyer, leaving] { _ = try vault.trust(.confirmedAtTerminal, for: member) }
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
            return folder.file("state/kept/\(vaultID).\(actor.fingerprint.hex).sqlite")
        }

        /// Copies a kept store (its WAL and shared-memory files too) from `source` to `destination`.
        func copyStore(_ source: String, to destination: String) throws {
            for suffix in ["", "-wal", "-shm"] {
                try? FileManager.default.removeItem(atPath: destination + suffix)
                if FileManager.default.fileExists(atPath: source + suffix) {
                    try FileManager.default.copyItem(atPath: source + suffix, toPath: destination + suffix)
                }
            }
        }

        /// Runs SQL on a kept store, as whoever can write the state folder would.
        func edit(_ path: String, _ body: (Database) throws -> Void) throws {
            let queue = try DatabaseQueue(path: path)
            try queue.write(body)
            try queue.close()
        }

        /// The decoded root of a kept store.
        func root(_ path: String) throws -> KeptStateCoding.Root {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            let bytes = try #require(try queue.read { try Data.fetchOne($0, sql: "SELECT bytes FROM root") })
            return try KeptStateCoding.decodeRoot(Array(bytes))
        }

        /// The case entries the root's case buckets hold.
        func caseEntries(_ path: String) throws -> [ObjectID: KeptPages.CaseEntry] {
            let store = try #require(try KeptStore.openForReading(path))
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            let bytes = try #require(try queue.read { try Data.fetchOne($0, sql: "SELECT bytes FROM root") })
            let decoded = try root(path)
            let pages = KeptPages(store: store, rootBytes: Array(bytes), count: decoded.state.count, table: decoded.table)
            var entries: [ObjectID: KeptPages.CaseEntry] = [:]
            for bucket in 0..<KeptPages.bucketCount {
                for (id, kept) in try pages.caseBucket(bucket) { entries[id] = kept.entry }
            }
            return entries
        }

        /// Every page the stored root names, through its case buckets and directories.
        func namedPages(_ path: String) throws -> Set<[UInt8]> {
            let table = try root(path).table
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            func bytes(_ hash: [UInt8]) throws -> [UInt8] {
                Array(try #require(try queue.read { try Data.fetchOne($0, sql: "SELECT bytes FROM pages WHERE hash = ?", arguments: [Data(hash)]) }))
            }
            var named = KeptStateCoding.tablePageHashes(table)
            named.formUnion(try caseEntries(path).values.map(\.page))
            for first in 0..<KeptPages.bucketCount {
                for (hash, kind) in [(table.documentDirectories[first], KeptStateCoding.PageKind.documentBucket),
                                     (table.blobDirectories[first], .blobBucket)] where hash != KeptStateCoding.emptyHash {
                    named.formUnion(try KeptStateCoding.decodeDirectory(try bytes(hash), of: kind, first: first))
                }
            }
            named.remove(KeptStateCoding.emptyHash)
            return named
        }

        /// The pages a store holds that are not released.
        func livePages(_ path: String) throws -> Set<[UInt8]> {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            return Set(try queue.read { try Data.fetchAll($0, sql: "SELECT hash FROM pages WHERE released IS NULL") }.map(Array.init))
        }

        /// A full replay from genesis, checking every signature, with no kept state: the reference.
        /// Events in the ledger (the test made them all; no replay needed to count them).
        func ledgerCount() throws -> UInt64 {
            UInt64(try vault.database.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM events") ?? -1 })
        }

        func fullReplay() throws -> [UInt8] {
            let fresh = try Vault.open(at: vault.folder, knownVaults: nil)
            return try KeptStateCoding.canonical(try fresh.replay())
        }

        /// What `actor` is shown of case 0 and of every case, and the state its replay built.
        func answers(as actor: UnlockedIdentity, in opened: Vault) throws -> (state: [UInt8], documents: [String], cases: [String], outcome: KeptState.Outcome) {
            let state = try KeptStateCoding.canonical(try opened.replay(for: actor))
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
        let kept = try machine.keptFile(of: machine.lawyer)
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: kept + suffix) }
        let first = try machine.reopened()
        _ = try first.replay(for: machine.lawyer)
        #expect(first.keptStateOutcome == .absent, "the lawyer has kept nothing yet")
        #expect(FileManager.default.fileExists(atPath: try machine.keptFile(of: machine.lawyer)))

        let second = try machine.reopened()
        let before = try second.replay(for: machine.lawyer).count
        #expect(before > 20_000)
        #expect(try machine.vault.log().count == Int(before))
        #expect(second.keptStateOutcome == .used(count: before))
        #expect(try KeptStateCoding.canonical(try second.replay(for: machine.lawyer)) == (try machine.fullReplay()))

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

        // `log --case` from the kept state equals the whole log filtered, for a case with 18,000 exports and one with 3 adds.
        let wholeLog = try plain.log()
        for caseID in machine.caseIDs.prefix(2) {
            let kept = try machine.reopened().log(case: caseID.hex, as: machine.lawyer).map { "\($0.sequence) \($0.action) \(Hex.encode($0.hash))" }
            let full = wholeLog.filter { $0.objects.contains { $0.kind == "case" && $0.id == caseID.hex } }
                .map { "\($0.sequence) \($0.action) \(Hex.encode($0.hash))" }
            #expect(kept == full)
            #expect(kept.count >= 4)
            #expect(try plain.log(case: caseID.hex, as: nil).map { "\($0.sequence) \($0.action) \(Hex.encode($0.hash))" } == full)
        }
    }

    @Test("each save releases exactly the pages its root no longer names: none it names, none left over")
    func savesReleaseExactlyTheDroppedPages() throws {
        let machine = try Machine(cases: 300)
        let path = try machine.keptFile(of: machine.lawyer)
        _ = try machine.reopened().replay(for: machine.lawyer)
        #expect(try machine.livePages(path) == (try machine.namedPages(path)), "after a save from genesis")
        let input = machine.folder.file("small")
        try Data("a page of testimony".utf8).write(to: URL(fileURLWithPath: input))
        /// Released pages of a kind (first byte of the page).
        func released(kind: KeptStateCoding.PageKind) throws -> Int {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            return try queue.read {
                try Int.fetchOne($0, sql: "SELECT count(*) FROM pages WHERE released IS NOT NULL AND substr(bytes, 1, 1) = ?",
                                 arguments: [Data([kind.rawValue])]) ?? 0
            }
        }
        // Rounds of 200 documents, until a document bucket and a blob bucket that
        // already held a name were rewritten (65,536 buckets: a few rounds).
        var round = 0
        var rewritten = false
        repeat {
            let caseID = machine.caseIDs[round * 37 % 300]
            _ = try machine.vault.addDocuments(Array(repeating: NewDocument(path: input, kind: .other), count: 200), toCase: caseID.hex,
                                               as: machine.lawyer)
            #expect(try machine.livePages(path) == (try machine.namedPages(path)), "after add \(round)")
            _ = try machine.vault.createCase(inGroup: "wg", reference: "NEW-\(round)", as: machine.lawyer)
            #expect(try machine.livePages(path) == (try machine.namedPages(path)), "after case \(round)")
            round += 1
            rewritten = try released(kind: .documentBucket) > 0 && released(kind: .blobBucket) > 0
        } while round < 12 && !rewritten
        #expect(try released(kind: .documentBucket) > 0 && released(kind: .blobBucket) > 0, "a non-empty bucket was rewritten")
        #expect(try released(kind: .directory) > 0 && released(kind: .caseBucket) > 0 && released(kind: .documentsOfCase) > 0)
        #expect(try KeptStateCoding.canonical(try machine.reopened().replay(for: machine.lawyer)) == (try machine.fullReplay()))
    }

    @Test("every edit of the kept root or of a page it names is refused before use, and the answer is still a full replay's")
    func tamperedKeptStateIsRefused() throws {
        let machine = try Machine(cases: 50, exports: 5000)
        _ = try machine.reopened().replay(for: machine.lawyer)
        let path = try machine.keptFile(of: machine.lawyer)
        let pristine = machine.folder.file("pristine.sqlite")
        try machine.copyStore(path, to: pristine)
        let reference = try machine.fullReplay()
        let referenceCases = try Vault.open(at: machine.vault.folder, knownVaults: nil).cases(inGroup: "wg", as: machine.lawyer)
            .map { "\($0.id.hex) \($0.reference ?? "?")" }
        let root = try machine.root(path)
        let casePage = try #require(try machine.caseEntries(path)[machine.caseIDs[0]]?.page)
        let listed = try #require(try machine.vault.replay().documents(inCase: machine.caseIDs[0]).first?.documentID)
        let documentDirectory = root.table.documentDirectories[Int(listed.rawValue[0])]
        let directoryBytes = try #require(try DatabaseQueue(path: path).read {
            try Data.fetchOne($0, sql: "SELECT bytes FROM pages WHERE hash = ?", arguments: [Data(documentDirectory)])
        })
        let documentBucket = try KeptStateCoding.decodeDirectory(Array(directoryBytes), of: .documentBucket,
                                                                 first: Int(listed.rawValue[0]))[Int(listed.rawValue[1])]
        let caseBucket = root.table.caseBuckets[Int(machine.caseIDs[0].rawValue[0])]
        let caseFieldBucket = root.table.caseFieldBuckets[Int(machine.caseIDs[0].rawValue[0])]
        let lastHashPage = try #require(root.table.hashPages.last)
        let rootBytes = try #require(try DatabaseQueue(path: path).read { try Data.fetchOne($0, sql: "SELECT bytes FROM root") })

        let eventCount = try machine.ledgerCount()
        var edits: [(String, (Database) throws -> Void)] = []
        for offset in [0, 5, 13, rootBytes.count / 3, rootBytes.count / 2, rootBytes.count - 1] {
            edits.append(("root byte \(offset) flipped", { db in
                var bytes = Array(rootBytes)
                bytes[offset] ^= 0x01
                try db.execute(sql: "UPDATE root SET bytes = ?", arguments: [Data(bytes)])
            }))
        }
        edits.append(("root tag flipped", { db in try db.execute(sql: "UPDATE root SET tag = zeroblob(32)") }))
        edits.append(("root truncated", { db in try db.execute(sql: "UPDATE root SET bytes = substr(bytes, 1, length(bytes) - 40)") }))
        edits.append(("root removed", { db in try db.execute(sql: "DELETE FROM root") }))
        for (what, hash) in [("the listed case's page", casePage), ("its document directory", documentDirectory), ("its document bucket", documentBucket),
                             ("the last hash page", lastHashPage),
                             ("the listed case's case bucket", caseBucket), ("its case field bucket", caseFieldBucket)] {
            edits.append(("\(what) flipped", { db in
                try db.execute(sql: "UPDATE pages SET bytes = CAST(substr(bytes, 1, length(bytes) - 1) || X'00' AS BLOB) WHERE hash = ?", arguments: [Data(hash)])
            }))
            edits.append(("\(what) removed", { db in try db.execute(sql: "DELETE FROM pages WHERE hash = ?", arguments: [Data(hash)]) }))
            edits.append(("\(what) replaced by another page", { db in
                try db.execute(sql: "UPDATE pages SET bytes = (SELECT bytes FROM pages WHERE hash <> ? LIMIT 1) WHERE hash = ?",
                               arguments: [Data(hash), Data(hash)])
            }))
        }
        for (what, edit) in edits {
            // `case list` reads every case's sealed fields from the field buckets, `list` the case's page,
            // `show` the document's bucket: each runs on the edited store (`show` last: the check below reads every page).
            try machine.copyStore(pristine, to: path)
            try machine.edit(path, edit)
            let casesListing = try machine.reopened()
            #expect(try casesListing.cases(inGroup: "wg", as: machine.lawyer).map { "\($0.id.hex) \($0.reference ?? "?")" } == referenceCases, "\(what)")
            let afterCaseList = casesListing.keptStateOutcome
            try machine.copyStore(pristine, to: path)
            try machine.edit(path, edit)
            let listing = try machine.reopened()
            let documents = try listing.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer)
            let afterList = listing.keptStateOutcome
            #expect(documents.count == 3 && documents.allSatisfy { $0.metadata != nil }, "\(what)")
            try machine.copyStore(pristine, to: path)
            try machine.edit(path, edit)
            let showing = try machine.reopened()
            #expect(try showing.document(listed.hex, as: machine.lawyer).metadata != nil, "\(what)")
            let afterShow = showing.keptStateOutcome
            let refused = [afterList, afterShow, afterCaseList].contains { if case .rejected = $0 { return true } else { return false } }
            #expect(refused, "\(what): the edited kept state was used (list: \(afterList), show: \(afterShow), case list: \(afterCaseList))")
            #expect(try KeptStateCoding.canonical(try machine.reopened().replay(for: machine.lawyer)) == reference, "\(what)")
            // Refused, then rebuilt from the verified ledger: the next command uses it again.
            let next = try machine.reopened()
            _ = try next.replay(for: machine.lawyer)
            #expect(next.keptStateOutcome == .used(count: eventCount), "\(what): not rebuilt")
        }
        // Not a store at all.
        for (what, bytes) in [("garbage", [UInt8](repeating: 0x41, count: 4096)), ("empty", [])] {
            for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let opened = try machine.reopened()
            #expect(try opened.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer).count == 3, "\(what)")
            if case .rejected = opened.keptStateOutcome {} else if opened.keptStateOutcome != .absent {
                Issue.record("\(what): \(opened.keptStateOutcome)")
            }
            let next = try machine.reopened()
            _ = try next.replay(for: machine.lawyer)
            #expect(next.keptStateOutcome == .used(count: try machine.ledgerCount()), "\(what): not rebuilt")
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
        try machine.copyStore(custodianFile, to: lawyerFile)
        let opened = try machine.reopened()
        _ = try opened.replay(for: machine.lawyer)
        #expect(opened.keptStateOutcome == .rejected("fails its authentication check (altered, or not written by this identity)"))

        // The lawyer's own kept state of another vault, put under this vault's name.
        let otherFolder = try TemporaryFolder()
        let other = try Vault.create(at: otherFolder.file("vault"), creator: machine.lawyer, knownVaults: machine.known)
        try other.createGroup(named: "elsewhere", as: machine.lawyer)
        _ = try Vault.open(at: other.folder, knownVaults: machine.known).replay(for: machine.lawyer)
        let otherID = try #require(try other.replay().vaultID).hex
        let otherFile = machine.folder.file("state/kept/\(otherID).\(machine.lawyer.fingerprint.hex).sqlite")
        try machine.copyStore(otherFile, to: lawyerFile)
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
        let older = machine.folder.file("older.sqlite")
        try machine.copyStore(path, to: older)
        let olderCount = try machine.vault.replay().count
        try machine.add("hidden by the rollback?", to: machine.caseIDs[0], as: machine.custodian)
        _ = try machine.reopened().replay(for: machine.lawyer)
        // The attacker of the state folder restores the older kept state: it still authenticates,
        // so it is used, and the newer event is replayed on top of it: nothing is hidden.
        try machine.copyStore(older, to: path)
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

    @Test("a ledger row edited below the kept head is caught when it is read, and by verify; a kept copy of it answers as verified")
    func editedOldRowIsCaught() throws {
        let machine = try Machine(cases: 20)
        _ = try machine.reopened().replay(for: machine.lawyer)
        // Rewrite the bytes of the event that opened case 5 (its sealed reference) and of the first document
        // of case 0 (its sealed metadata), keeping the hash column.
        let state = try machine.vault.replay()
        let caseEvent = try #require(try state.lookupCase(machine.caseIDs[5])).sequence
        let document = try #require(try state.documents(inCase: machine.caseIDs[0]).first)
        let queue = try DatabaseQueue(path: machine.vault.folder + "/vault.sqlite")
        try queue.write { db in
            for sequence in [caseEvent, document.recordSequence] {
                let bytes = try #require(try Data.fetchOne(db, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(sequence)]))
                var edited = Array(bytes)
                edited[edited.count - 70] ^= 0x01
                try db.execute(sql: "UPDATE events SET bytes = ? WHERE seq = ?", arguments: [Data(edited), Int64(sequence)])
            }
        }
        try queue.close()
        // The document's metadata is read from its row: the edit is caught there.
        let opened = try machine.reopened()
        let listed = try opened.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer)
        #expect(opened.keptStateOutcome == .used(count: state.count))
        let problem = try #require(listed.first { $0.id == document.documentID }?.problem)
        #expect(problem.contains("changed after it was verified"), "\(problem)")
        #expect(listed.filter { $0.problem != nil }.count == 1)
        // The case's sealed fields come from the kept copy this identity verified: the right answer, not the edited row.
        let cases = try machine.reopened().cases(inGroup: "wg", as: machine.lawyer)
        #expect(cases.first { $0.id == machine.caseIDs[5] }?.reference == "CASE-5")
        #expect(cases.allSatisfy { $0.problem == nil })
        // Verify reads every row, and stops at the first edited one.
        let findings = machine.vault.verify().findings.map(\.object)
        #expect(findings.contains("event \(min(caseEvent, document.recordSequence))"), "\(findings)")
    }

    @Test("a vault rolled back together with known-vaults.json is refused when the identity's kept state proves a longer head; trust --accept-older clears it")
    func keptStateCatchesJointRollback() throws {
        let machine = try Machine(cases: 20)
        _ = try machine.reopened().replay(for: machine.custodian)
        // The attacker copies the vault folder and known-vaults.json as they are now ...
        let backup = try TemporaryFolder()
        try FileManager.default.copyItem(atPath: machine.vault.folder, toPath: backup.file("vault"))
        try FileManager.default.copyItem(atPath: machine.known.path, toPath: backup.file("known-vaults.json"))
        // ... the custodian removes the lawyer (a rotation) and keeps that state ...
        _ = try machine.vault.removeMember(machine.lawyer.fingerprint.hex, fromGroup: "wg", reason: "left", as: machine.custodian)
        _ = try machine.reopened().replay(for: machine.custodian)
        // ... and the attacker puts both old copies back, leaving the kept state alone.
        try FileManager.default.removeItem(atPath: machine.vault.folder)
        try FileManager.default.copyItem(atPath: backup.file("vault"), toPath: machine.vault.folder)
        try FileManager.default.removeItem(atPath: machine.known.path)
        try FileManager.default.copyItem(atPath: backup.file("known-vaults.json"), toPath: machine.known.path)
        let opened = try machine.reopened()
        expectVaultError(.integrity, "rolled back") { _ = try opened.cases(inGroup: "wg", as: machine.custodian) }
        let input = machine.folder.file("on-top.txt")
        try Data("on top of the old copy".utf8).write(to: URL(fileURLWithPath: input))
        expectVaultError(.integrity, "rolled back") {
            _ = try machine.reopened().addDocuments([NewDocument(path: input, kind: .testimony)], toCase: machine.caseIDs[0].hex, as: machine.custodian)
        }
        // The commands that replay from genesis with an identity refuse it too; the reader's verify reports it.
        expectVaultError(.integrity, "rolled back") { _ = try machine.reopened().log(as: machine.custodian) }
        expectVaultError(.integrity, "rolled back") { _ = try machine.reopened().exposure(of: machine.lawyer.fingerprint.hex, reader: machine.custodian) }
        let report = try machine.reopened().verify(reader: machine.custodian)
        #expect(report.findings.contains { $0.object == "ledger" && $0.problem.contains("rolled back") }, "\(report.findings)")
        #expect(try machine.reopened().verify().isClean, "keyless, the old copy is consistent: only the identity's kept head proves more")
        // Nothing was signed on the old copy.
        #expect(try Vault.open(at: machine.vault.folder).replay().count == (try Vault.open(at: backup.file("vault")).replay().count))
        // Accepting the older copy, explicitly, clears the kept states of the newer one.
        _ = try Vault.open(at: machine.vault.folder, knownVaults: machine.known).trust(.confirmedAtTerminal, acceptOlder: true)
        #expect(try machine.reopened().cases(inGroup: "wg", as: machine.custodian).count == 20)
    }

    /// Found by the fresh review of 2026-12-03: a missing case-field bucket was taken
    /// for cases whose references do not open, so a lookup by reference failed, and
    /// the duplicate-reference check of `case new` let a second case of the same reference in.
    @Test("against an identity's kept head, another vault at the path and a rewritten history are named as such, not as a rollback to accept")
    func keptHeadNamesReplacedAndRewritten() throws {
        let machine = try Machine(cases: 3)
        _ = try machine.reopened().replay(for: machine.lawyer)
        let backup = try TemporaryFolder()
        try FileManager.default.copyItem(atPath: machine.vault.folder, toPath: backup.file("vault"))
        try machine.add("one more", to: machine.caseIDs[0], as: machine.custodian)
        _ = try machine.reopened().replay(for: machine.lawyer)  // the lawyer's kept head is now that event
        func put(_ folder: String) throws {
            try FileManager.default.removeItem(atPath: machine.vault.folder)
            try FileManager.default.copyItem(atPath: folder, toPath: machine.vault.folder)
        }
        // A fork: the old copy, with another event in the place of the kept head.
        try put(backup.file("vault"))
        let input = machine.folder.file("other.txt")
        try Data("another event".utf8).write(to: URL(fileURLWithPath: input))
        _ = try Vault.open(at: machine.vault.folder, knownVaults: nil).addDocuments([NewDocument(path: input, kind: .other)],
                                                                                   toCase: machine.caseIDs[0].hex, as: machine.custodian)
        do {
            _ = try machine.reopened().cases(inGroup: "wg", as: machine.lawyer)
            Issue.record("a rewritten history was used")
        } catch let error as VaultError {
            #expect(error.message.contains("history was rewritten") && !(error.hint ?? "").contains("accept-older"), "\(error.message) \(error.hint ?? "")")
        }
        // Another vault, one that admits the lawyer, at the same path.
        let mallory = try UnlockedIdentity.generate(name: "mallory")
        let forged = try TemporaryFolder()
        let fake = try Vault.create(at: forged.file("vault"), creator: mallory)
        try fake.createGroup(named: "wg", as: mallory)
        try fake.addMember(machine.lawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: mallory)
        try put(forged.file("vault"))
        do {
            _ = try machine.reopened().cases(inGroup: "wg", as: machine.lawyer)
            Issue.record("another vault was used")
        } catch let error as VaultError {
            #expect(error.message.contains("replaced by another vault") && !(error.hint ?? "").contains("accept-older"), "\(error.message) \(error.hint ?? "")")
        }
    }

    @Test("a damaged case-field bucket is damage for lookups by reference and for the duplicate check, never a case that does not open")
    func damagedFieldBucketIsNotAnUnreadableCase() throws {
        let machine = try Machine(cases: 20)
        _ = try machine.reopened().replay(for: machine.lawyer)
        let path = try machine.keptFile(of: machine.lawyer)
        let pristine = machine.folder.file("pristine.sqlite")
        try machine.copyStore(path, to: pristine)
        let fieldBucket = try machine.root(path).table.caseFieldBuckets[Int(machine.caseIDs[3].rawValue[0])]
        func damage() throws {
            try machine.copyStore(pristine, to: path)
            try machine.edit(path) { db in try db.execute(sql: "DELETE FROM pages WHERE hash = ?", arguments: [Data(fieldBucket)]) }
        }
        try damage()
        let byReference = try machine.reopened()
        #expect(try byReference.documents(inCase: "CASE-3", as: machine.lawyer).count >= 0)
        guard case .rejected = byReference.keptStateOutcome else {
            Issue.record("a missing field bucket was not reported: \(byReference.keptStateOutcome)")
            return
        }
        try damage()
        let creating = try machine.reopened()
        // Refused (a write that meets a damaged page stops, having written nothing), and refused again once rebuilt.
        #expect(throws: VaultError.self) { _ = try creating.createCase(inGroup: "wg", reference: "CASE-3", as: machine.lawyer) }
        expectVaultError(.alreadyExists, "already exists") { _ = try machine.reopened().createCase(inGroup: "wg", reference: "CASE-3", as: machine.lawyer) }
        #expect(try machine.reopened().cases(inGroup: "wg", as: machine.lawyer).filter { $0.reference == "CASE-3" }.count == 1)
    }

    @Test("a damaged page the extension of an older kept state does not rewrite is refused, and the answer is a full replay's")
    func damageBehindAnOlderKeptState() throws {
        let machine = try Machine(cases: 20)
        let expected = try machine.answers(as: machine.lawyer, in: try machine.reopened())
        let path = try machine.keptFile(of: machine.lawyer)
        let pristine = machine.folder.file("pristine.sqlite")
        try machine.copyStore(path, to: pristine)
        // Another member adds to case 5: the lawyer's kept state is now one event behind.
        try machine.add("later", to: machine.caseIDs[5], as: machine.custodian)
        let table = try machine.root(pristine).table
        for (what, hash) in [("case fields", table.caseFieldBuckets[Int(machine.caseIDs[3].rawValue[0])]),
                             ("case bucket", table.caseBuckets[Int(machine.caseIDs[3].rawValue[0])])] {
            try machine.copyStore(pristine, to: path)
            try machine.edit(path) { db in
                var bytes = Array(try #require(try Data.fetchOne(db, sql: "SELECT bytes FROM pages WHERE hash = ?", arguments: [Data(hash)])))
                bytes[bytes.count / 2] ^= 0x01
                try db.execute(sql: "UPDATE pages SET bytes = ? WHERE hash = ?", arguments: [Data(bytes), Data(hash)])
            }
            let opened = try machine.reopened()
            let cases = try opened.cases(inGroup: "wg", as: machine.lawyer).map { "\($0.id.hex) \($0.reference ?? "?")" }
            #expect(cases == expected.cases, "\(what): case list answers as a full replay")
            guard case .rejected = opened.keptStateOutcome else {
                Issue.record("\(what): the damaged page was not reported: \(opened.keptStateOutcome)")
                continue
            }
            try machine.copyStore(pristine, to: path)
            try machine.edit(path) { db in try db.execute(sql: "DELETE FROM pages WHERE hash = ?", arguments: [Data(hash)]) }
            let again = try machine.reopened()
            #expect(try again.documents(inCase: "CASE-3", as: machine.lawyer).isEmpty, "\(what): case 3 holds no documents, as in a full replay")
            guard case .rejected = again.keptStateOutcome else {
                Issue.record("\(what): the missing page was not reported: \(again.keptStateOutcome)")
                continue
            }
        }
    }

    @Test("a FIFO, a link or a folder where the kept store or its side files belong, or a schema of someone else's, is refused without hanging")
    func hostileKeptFiles() throws {
        let machine = try Machine(cases: 5)
        let path = try machine.keptFile(of: machine.lawyer)
        for (what, plant) in [
            ("a FIFO as the store", { (path: String) in
                KeptStore.remove(path)
                #expect(mkfifo(path, 0o600) == 0)
            }),
            ("a FIFO as its journal", { (path: String) in #expect(mkfifo(path + "-journal", 0o600) == 0) }),
            ("a link as the store", { (path: String) in
                KeptStore.remove(path)
                #expect(symlink(machine.folder.file("elsewhere.sqlite"), path) == 0)
            }),
            ("a folder as its WAL", { (path: String) in
                try? FileManager.default.removeItem(atPath: path + "-wal")
                try FileManager.default.createDirectory(atPath: path + "-wal", withIntermediateDirectories: false)
            }),
            ("a view in it", { (path: String) in try machine.edit(path) { try $0.execute(sql: "CREATE VIEW v AS SELECT 1") } }),
            ("a trigger in it", { (path: String) in
                try machine.edit(path) { try $0.execute(sql: "CREATE TRIGGER t AFTER INSERT ON pages BEGIN DELETE FROM root; END") }
            }),
        ] as [(String, (String) throws -> Void)] {
            _ = try machine.reopened().replay(for: machine.lawyer)  // a good store first
            try plant(path)
            let opened = try machine.reopened()
            #expect(try opened.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer).count == 3, "\(what)")
            guard case .rejected = opened.keptStateOutcome else {
                Issue.record("\(what): not refused (\(opened.keptStateOutcome))")
                continue
            }
            // Replaced by a good store, used by the next commands, reads and writes alike.
            try machine.add("after \(what)", to: machine.caseIDs[2], as: machine.lawyer)
            let next = try machine.reopened()
            #expect(try next.documents(inCase: machine.caseIDs[2].hex, as: machine.lawyer).count >= 1, "\(what)")
            #expect(next.keptStateOutcome == .used(count: try machine.ledgerCount()), "\(what): not rebuilt")
            var info = stat()
            #expect(lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && info.st_mode & 0o077 == 0, "\(what): mode")
        }
    }

    @Test("an empty kept store (a first save killed before its schema) is no kept state, not an altered one; an oversized root is refused unread")
    func emptyAndOversizedStores() throws {
        let machine = try Machine(cases: 3)
        let path = try machine.keptFile(of: machine.lawyer)
        KeptStore.remove(path)
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]))
        let opened = try machine.reopened()
        #expect(try opened.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer).count == 3)
        #expect(opened.keptStateOutcome == .absent, "\(opened.keptStateOutcome)")
        #expect(try machine.root(path).state.count == machine.vault.replay().count, "kept anew by that command")

        try machine.edit(path) { db in
            try db.execute(sql: "UPDATE root SET bytes = zeroblob(?)", arguments: [KeptStore.maxRecordLength + 1])
        }
        let oversized = try machine.reopened()
        #expect(try oversized.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer).count == 3)
        guard case .rejected(let why) = oversized.keptStateOutcome else {
            Issue.record("an oversized root was not refused: \(oversized.keptStateOutcome)")
            return
        }
        #expect(why.contains("at most 64 MiB"), "\(why)")
    }

    @Test("a state loaded before two saves by others still reads its pages")
    func concurrentSaves() throws {
        let machine = try Machine(cases: 5)
        let early = try machine.reopened()
        let state = try early.replay(for: machine.lawyer)
        for index in 0..<3 { try machine.add("meanwhile \(index)", to: machine.caseIDs[0], as: machine.lawyer) }
        #expect(try state.documents(inCase: machine.caseIDs[0]).count == 3)
        #expect(try state.eventHash(at: 1) == (try machine.vault.replay().eventHash(at: 1)))
        #expect(try early.documents(inCase: machine.caseIDs[0].hex, as: machine.lawyer).count == 6)
    }
}
