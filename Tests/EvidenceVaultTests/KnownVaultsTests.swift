import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md 26 and the swapped-vault attack: what a machine remembers about a
/// vault (id, genesis, last head) is checked before anything is read or signed.
@Suite("Remembered vaults (rollback, swap, cut)")
struct KnownVaultsTests {
    final class Anchored: @unchecked Sendable {
        let env: TestVault
        let known: KnownVaults
        let state: TemporaryFolder

        init() throws {
            env = try TestVault()
            state = try TemporaryFolder()
            known = KnownVaults(path: state.file("known-vaults.json"))
            // First use is explicit (THREATS.md 48): this machine is told to trust the vault.
            try trust(Vault.open(at: env.path, knownVaults: known), for: env.everyone)
        }

        func open() throws -> Vault { try Vault.open(at: env.path, knownVaults: known) }

        /// Copies the whole vault folder aside (as a backup or a malicious provider would).
        func snapshot(_ name: String) throws -> String {
            let copy = env.folder.file(name)
            try checkpoint()
            try FileManager.default.copyItem(atPath: env.path, toPath: copy)
            return copy
        }

        func restore(_ copy: String) throws {
            try FileManager.default.removeItem(atPath: env.path)
            try FileManager.default.copyItem(atPath: copy, toPath: env.path)
        }

        func checkpoint() throws {
            try DatabaseQueue(path: "\(env.path)/vault.sqlite").writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        }

        func add(_ vault: Vault, _ name: String) throws {
            let path = env.folder.file(name)
            try Data(sampleBytes(1000)).write(to: URL(fileURLWithPath: path))
            _ = try vault.addDocuments([NewDocument(path: path, kind: .other)], toCase: env.caseID.hex, as: env.lawyer)
        }

        /// Adds a document, copies the vault aside, adds another and replays (so this
        /// machine remembers the newer head). Returns the older copy.
        func copyThenMoveOn() throws -> String {
            let vault = try open()
            try add(vault, "one")
            let old = try snapshot("old-copy")
            try add(vault, "two")
            _ = try vault.replay()
            return old
        }

        func eventCount() throws -> Int {
            try DatabaseQueue(path: "\(env.path)/vault.sqlite").read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events") ?? -1 }
        }
    }

    @Test("first use is explicit: an untrusted vault is refused for reading and writing until trusted (THREATS.md 48)")
    func firstUseIsExplicit() throws {
        let env = try TestVault()
        let (vault, known, state) = try env.onMachine(trusted: false)
        defer { withExtendedLifetime(state) {} }  // its known-vaults.json must outlive the test
        let genesis = try Hex.encode(#require(vault.trustCandidate().genesisHash))
        expectVaultError(.untrusted, "not trusted on this machine", genesis) { _ = try vault.replay() }
        expectVaultError(.untrusted, "not trusted on this machine", "Nothing was written") {
            _ = try vault.createCase(inGroup: "wg", reference: "CASE-9", as: env.lawyer)
        }
        expectVaultError(.untrusted) { _ = try vault.log() }
        let report = vault.verify()
        #expect(!report.anchor.trusted && !report.anchor.rememberedNewHead && report.anchor.comparedAgainst == nil)
        #expect(try known.pin(for: env.path).vaults.isEmpty, "a keyless verify of an unknown vault remembers nothing")
        // A wrong genesis or creator is refused; the right one is recorded.
        expectVaultError(.integrity, "not the") { _ = try vault.trust(.genesis(String(repeating: "0", count: 64))) }
        expectVaultError(.integrity, "not the vault and creator") {
            _ = try vault.trust(.creator(vaultID: report.vaultID?.hex ?? "", fingerprint: env.lawyer.fingerprint.readable))
        }
        #expect(try vault.trust(.creator(vaultID: report.vaultID?.hex ?? "", fingerprint: env.custodian.fingerprint.readable)) == .trusted)
        #expect(throws: Never.self) { _ = try vault.replay() }
        #expect(try vault.trust(.genesis(genesis.uppercased())) == .alreadyTrusted)
    }

    @Test("a vault that reuses a known vault's group names or case ids is flagged as a possible impostor")
    func impostorReusingNamesIsFlagged() throws {
        let anchored = try Anchored()
        _ = try anchored.open().replay()
        let forged = try TemporaryFolder()
        let mallory = try UnlockedIdentity.generate(name: "mallory")
        let fake = try Vault.create(at: forged.file("vault"), creator: mallory)
        try fake.createGroup(named: "wg", as: mallory)
        let opened = try Vault.open(at: forged.file("vault"), knownVaults: anchored.known)
        expectVaultError(.untrusted, "reuses group name(s) wg", "impostor") { _ = try opened.replay() }
        #expect(opened.verify().findings.contains { $0.problem.contains("may be an impostor") })
        #expect(try opened.trustCandidate().reuse.count == 1)
    }

    @Test("accepting a restored older copy is explicit and says what moves back")
    func acceptOlder() throws {
        let anchored = try Anchored()
        let old = try anchored.copyThenMoveOn()
        let head = try anchored.open().replay().count - 1
        try anchored.restore(old)
        let vault = try anchored.open()
        expectVaultError(.integrity, "rolled back") { _ = try vault.replay() }
        expectVaultError(.integrity, "older copy") { _ = try vault.trust(.confirmedAtTerminal) }
        let outcome = try vault.trust(.confirmedAtTerminal, acceptOlder: true)
        #expect(outcome == .acceptedOlder(fromSequence: head, toSequence: head - 1))
        #expect(throws: Never.self) { _ = try anchored.open().replay() }
    }

    @Test("an edited remembered head never spares a signature: an unsigned event it names is refused by every command")
    func rememberedHeadSkipsNoSignature() throws {
        let anchored = try Anchored()
        let env = anchored.env
        let document = try env.add(sampleBytes(500))
        _ = try anchored.open().cases(as: env.lawyer)  // the lawyer keeps its verified state
        // The storage appends a custody record in the lawyer's name with no valid signature...
        let state = try env.vault.replay()
        let signed = try Event(sequence: state.count, previousHash: state.headHash, time: 1_800_000_000, signer: env.lawyer,
                               body: .documentExported(documentID: document.id, caseID: env.caseID))
        let forged = Array(signed.encoded.dropLast(64)) + [UInt8](repeating: 0, count: 64)
        let hash = SHA256Stream.hash(forged)
        try env.sql("INSERT INTO events (seq, hash, bytes) VALUES (?, ?, ?)", [Int64(state.count), Data(hash), Data(forged)])
        // ... and whoever writes the state folder says this machine verified up to it.
        var file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: anchored.known.path))) as? [String: Any])
        var vaults = try #require(file["vaults"] as? [String: [String: Any]])
        let id = try #require(state.vaultID?.hex)
        vaults[id]?["headSequence"] = Int(state.count)
        vaults[id]?["headHash"] = Hex.encode(hash)
        file["vaults"] = vaults
        try JSONSerialization.data(withJSONObject: file).write(to: URL(fileURLWithPath: anchored.known.path))
        expectVaultError(.integrity, "signature") { _ = try anchored.open().replay() }
        expectVaultError(.integrity, "signature") { _ = try anchored.open().log() }
        expectVaultError(.integrity, "signature") { _ = try anchored.open().exposure(of: "lawyer") }
        expectVaultError(.integrity, "signature") { _ = try anchored.open().cases(as: env.lawyer) }
        expectVaultError(.integrity, "signature") { _ = try anchored.open().createCase(inGroup: "wg", reference: "CASE-2", as: env.lawyer) }
        #expect(try !anchored.open().verify().isClean)
    }

    @Test("a known-vaults.json that is oversized, a link or a FIFO is refused at once, naming the file, never read whole or waited on")
    func hostileKnownVaultsFile() throws {
        let anchored = try Anchored()
        let path = anchored.known.path
        let good = try Data(contentsOf: URL(fileURLWithPath: path))
        // Sparse: 3 GiB on paper, read whole it would take gigabytes of memory.
        try FileManager.default.removeItem(atPath: path)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        #expect(truncate(path, 3 << 30) == 0)
        expectVaultError(.integrity, "list of known vaults", "more than the 16 MiB") { _ = try anchored.open().cases(as: anchored.env.lawyer) }
        try FileManager.default.removeItem(atPath: path)
        try good.write(to: URL(fileURLWithPath: anchored.state.file("elsewhere.json")))
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: anchored.state.file("elsewhere.json"))
        expectVaultError(.integrity, "is a symbolic link") { _ = try anchored.open().replay() }
        try FileManager.default.removeItem(atPath: path)
        #expect(mkfifo(path, 0o600) == 0)
        expectVaultError(.integrity, "not a regular file") { _ = try anchored.open().replay() }
        try FileManager.default.removeItem(atPath: path)
        try good.write(to: URL(fileURLWithPath: path))
        #expect(throws: Never.self) { _ = try anchored.open().cases(as: anchored.env.lawyer) }
    }

    @Test("a symbolic link swapped in for the vault folder is refused: paths are not resolved, vaults are known by id")
    func symlinkSwap() throws {
        let anchored = try Anchored()
        let old = try anchored.copyThenMoveOn()
        // The folder becomes a link to the old copy (same vault id, shorter ledger).
        let real = anchored.env.folder.file("real-vault")
        try FileManager.default.moveItem(atPath: anchored.env.path, toPath: real)
        try FileManager.default.createSymbolicLink(atPath: anchored.env.path, withDestinationPath: old)
        expectVaultError(.integrity, "rolled back or cut") { _ = try anchored.open().replay() }
        // And a link to another vault entirely.
        let other = try TestVault()
        try FileManager.default.removeItem(atPath: anchored.env.path)
        try FileManager.default.createSymbolicLink(atPath: anchored.env.path, withDestinationPath: other.path)
        expectVaultError(.integrity, "not vault") { _ = try anchored.open().replay() }
    }

    @Test("an emptied ledger, a cut log and an index rebuild on a cut vault are refused")
    func emptiedAndCut() throws {
        let anchored = try Anchored()
        let vault = try anchored.open()
        try anchored.add(vault, "one")
        let count = try anchored.eventCount()
        try anchored.env.sql("DELETE FROM events WHERE seq = ?", [count - 1])
        expectVaultError(.integrity, "rolled back or cut") { _ = try anchored.open().log() }
        expectVaultError(.integrity, "rolled back or cut") { _ = try anchored.open().rebuildIndex() }
        try anchored.env.sql("DELETE FROM events")
        expectVaultError(.integrity, "has no ledger") { _ = try anchored.open().groups() }
    }

    @Test("remembering re-checks under the lock: a fork remembered by a concurrent process is not overwritten")
    func forkNotOverwritten() throws {
        let anchored = try Anchored()
        _ = try anchored.open().replay()
        let copy = try anchored.snapshot("fork-b")
        // Fork A: one more event, remembered by this machine.
        let vaultA = try anchored.open()
        try anchored.add(vaultA, "a1")
        // Fork B, replayed elsewhere (no memory), then offered to this machine's memory
        // as a process holding a stale pin would: it lacks fork A's head and is refused.
        let unanchored = try Vault.open(at: copy)
        let path = anchored.env.folder.file("b1")
        try Data([1]).write(to: URL(fileURLWithPath: path))
        _ = try unanchored.addDocuments([NewDocument(path: path, kind: .other)], toCase: anchored.env.caseID.hex, as: anchored.env.lawyer)
        _ = try unanchored.addDocuments([NewDocument(path: path, kind: .other)], toCase: anchored.env.caseID.hex, as: anchored.env.lawyer)
        let stateB = try unanchored.replay()
        expectVaultError(.integrity, "history was rewritten") { try anchored.known.remember(stateB, folder: copy) }
        #expect(try anchored.open().replay().count == (try vaultA.replay().count), "fork A stays the remembered one")
    }

    @Test("remembering a state read before another process remembered a longer head is not an error (F36)")
    func staleButConsistentState() throws {
        let anchored = try Anchored()
        let earlier = try Vault.open(at: try anchored.snapshot("earlier")).replay()  // a prefix, read "before"
        let vault = try anchored.open()
        try anchored.add(vault, "later")
        let head = try vault.replay().count
        #expect(throws: Never.self) { try anchored.known.remember(earlier, folder: anchored.env.path) }
        #expect(try anchored.known.pin(for: anchored.env.path).rememberedHead == head - 1, "the head does not move back")
    }

    @Test("paths are keys as written: `..` is not resolved through a link")
    func pathKeys() {
        #expect(KnownVaults.key("/a/./b//c") == "/a/b/c")
        #expect(KnownVaults.key("/a/link/../v") == "/a/link/../v")
    }

    @Test("a new vault created by this machine at a reused path replaces the old memory")
    func recreateAtSamePath() throws {
        let anchored = try Anchored()
        _ = try anchored.open().replay()
        try FileManager.default.removeItem(atPath: anchored.env.path)
        let creator = try UnlockedIdentity.generate(name: "new-creator")
        let fresh = try Vault.create(at: anchored.env.path, creator: creator, knownVaults: anchored.known)
        #expect(try fresh.replay().count == 1)
        #expect(try anchored.open().replay().creator == creator.fingerprint)
    }

    @Test("D26: an older copy of the whole vault is refused for reading and writing, and verify reports it")
    func rollback() throws {
        let anchored = try Anchored()
        let old = try anchored.copyThenMoveOn()
        try anchored.restore(old)
        let restored = try anchored.open()
        let before = try anchored.eventCount()
        expectVaultError(.integrity, "rolled back or cut") { _ = try restored.replay() }
        expectVaultError(.integrity, "rolled back or cut") { try anchored.add(restored, "three") }
        #expect(try anchored.eventCount() == before, "no event is signed on top of a rolled-back ledger")
        #expect(restored.verify().findings.contains { $0.problem.contains("rolled back or cut") })
    }

    @Test("a remembered head beyond any ledger (2^64 - 1, 2^63) is a clear error naming the file, not a crash")
    func absurdHead() throws {
        for absurd in [UInt64.max, UInt64(1) << 63] {
            let anchored = try Anchored()
            _ = try anchored.open().replay()
            let file = anchored.state.file("known-vaults.json")
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as! [String: Any]
            var vaults = json["vaults"] as! [String: [String: Any]]
            for id in vaults.keys { vaults[id]!["headSequence"] = absurd }
            json["vaults"] = vaults
            try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
            expectVaultError(.integrity, "known vaults \(file) cannot be read") { _ = try anchored.open().replay() }
            #expect(try anchored.open().verify().findings.contains { $0.problem.contains("beyond any ledger") })
        }
    }

    @Test("a ledger cut back by deleting its last events is refused")
    func cutLedger() throws {
        let anchored = try Anchored()
        let vault = try anchored.open()
        try anchored.add(vault, "one")
        _ = try vault.export(try vault.replay().documents.keys.first!.hex, to: anchored.env.folder.file("out"), as: anchored.env.lawyer)
        let count = try anchored.eventCount()
        try anchored.env.sql("DELETE FROM events WHERE seq = ?", [count - 1])  // the export's custody record
        expectVaultError(.integrity, "rolled back or cut") { _ = try anchored.open().replay() }
        #expect(!(try anchored.open().verify().isClean))
    }

    @Test("a different vault swapped in at the same path is refused before the lawyer adds anything")
    func swappedVault() throws {
        let anchored = try Anchored()
        _ = try anchored.open().replay()
        // The provider builds its own vault that admits the same lawyer, with a case of the same reference.
        let mallory = try UnlockedIdentity.generate(name: "mallory")
        let forged = try TemporaryFolder()
        let fake = try Vault.create(at: forged.file("vault"), creator: mallory)
        try fake.createGroup(named: "wg", as: mallory)
        try fake.addMember(anchored.env.lawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: mallory)
        _ = try fake.createCase(inGroup: "wg", reference: "CASE-1", as: mallory)
        try DatabaseQueue(path: forged.file("vault/vault.sqlite")).writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        try anchored.restore(forged.file("vault"))
        let swapped = try anchored.open()
        expectVaultError(.integrity, "not vault") { try anchored.add(swapped, "secret") }
        #expect(try anchored.eventCount() == 4, "the lawyer's client signed nothing into the forged vault")
        #expect(try FileManager.default.contentsOfDirectory(atPath: anchored.env.blobFolder).isEmpty, "and encrypted nothing to it")
    }

    @Test("a rewritten history (a different event at a remembered position) is refused")
    func rewrittenHistory() throws {
        let anchored = try Anchored()
        let old = try anchored.snapshot("fork-point")
        let vault = try anchored.open()
        try anchored.add(vault, "seen")  // this machine sees event N
        try anchored.restore(old)
        try anchored.add(try Vault.open(at: anchored.env.path), "other")  // someone writes a different event N, unanchored
        expectVaultError(.integrity, "history was rewritten") { _ = try anchored.open().replay() }
    }
}
