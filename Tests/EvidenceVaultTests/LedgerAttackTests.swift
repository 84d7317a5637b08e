import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md B (keys, membership, key commitment) and G39 against the ledger.
@Suite("Keys, membership and the ledger (THREATS.md B)")
struct LedgerAttackTests {
    /// Builds and stores an event as someone with write access to the storage would.
    func inject(_ env: TestVault, signer: UnlockedIdentity, body: EventBody, context: SignatureContext? = nil) throws -> Event {
        let state = try env.vault.replay()
        var event = try Event(sequence: state.count, previousHash: state.headHash, time: 1_800_000_000, signer: signer, body: body)
        if let context {  // re-sign under another purpose's context
            let unsigned = event.signedPart
            event = try Event.decode(unsigned + signer.signing.sign(unsigned, context: context))
        }
        try env.sql("INSERT INTO events (seq, hash, bytes) VALUES (?, ?, ?)",
                    [Int64(event.sequence), Data(event.hash), Data(event.encoded)])
        return event
    }

    func record(_ env: TestVault, id: ObjectID? = nil, caseID: ObjectID? = nil) throws -> DocumentRecord {
        DocumentRecord(documentID: try id ?? .random(), caseID: caseID ?? env.caseID, version: 1, generation: 1,
                       wrappedKey: try Random.bytes(72), blobHash: try Random.bytes(32), blobSize: 100, sealedMetadata: try Random.bytes(60))
    }

    @Test("B11: a substituted member key in storage is refused: the signed ledger, not the index, decides")
    func substitutedMemberKey() throws {
        let env = try TestVault()
        let mallory = try UnlockedIdentity.generate(name: "second-lawyer")
        // In the index: swap the second lawyer's public identity for Mallory's.
        try env.sql("UPDATE identities SET public = ? WHERE fingerprint = ?",
                    [Data(mallory.publicIdentity.encoded()), Data(env.secondLawyer.fingerprint.rawValue)])
        #expect(env.findings().contains { $0.contains("index row identities/\(env.secondLawyer.fingerprint.hex)") && $0.contains("public") })
        let group = try env.vault.group("wg")
        #expect(group.members.contains { $0.fingerprint == env.secondLawyer.fingerprint })
        #expect(!group.members.contains { $0.fingerprint == mallory.fingerprint })
        // In the ledger: the custodian's signed member.add no longer verifies, so everything fails closed.
        let state = try env.vault.replay()
        let seq = try #require(state.groups.values.first { $0.name == "wg" }?.members[env.secondLawyer.fingerprint]?.sequence)
        let original = try #require(try DatabaseQueue(path: "\(env.path)/vault.sqlite").read {
            try Data.fetchOne($0, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(seq)])
        })
        var bytes = Array(original)
        let keyOffset = try #require(firstRange(of: env.secondLawyer.publicIdentity.encryptionKey.rawValue, in: bytes))
        bytes.replaceSubrange(keyOffset..<keyOffset + 32, with: mallory.publicIdentity.encryptionKey.rawValue)
        try env.sql("UPDATE events SET bytes = ? WHERE seq = ?", [Data(bytes), Int64(seq)])
        expectVaultError(.integrity, "ledger event \(seq)") { _ = try env.vault.replay() }
        expectVaultError(.integrity, "ledger event \(seq)") { try env.add([1, 2, 3]) }
        #expect(env.findings().contains { $0.hasPrefix("event \(seq):") })
    }

    @Test("B12: wraps swapped between members, documents and cases never open")
    func swappedWraps() throws {
        let env = try TestVault()
        let a = try env.add(sampleBytes(100, seed: 1), name: "a")
        let b = try env.add(sampleBytes(100, seed: 2), name: "b")
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let lawyerWrap = try #require(group.members[env.lawyer.fingerprint]?.wrap)
        let secondWrap = try #require(group.members[env.secondLawyer.fingerprint]?.wrap)
        #expect(throws: CryptoError.self) { try KeyWrap.openEpochKey(secondWrap, groupID: group.id, epoch: 1, with: env.lawyer) }
        #expect(throws: CryptoError.self) { try KeyWrap.openEpochKey(lawyerWrap, groupID: try .random(), epoch: 1, with: env.lawyer) }
        #expect(throws: CryptoError.self) { try KeyWrap.openEpochKey(lawyerWrap, groupID: group.id, epoch: 2, with: env.lawyer) }
        let theCase = try #require(try state.lookupCase(env.caseID))
        let caseKey = try env.vault.keyRing(for: env.lawyer, state: state).caseKey(theCase, to: "test")
        let wrapOfB = try env.vault.sealedFields(state).record(of: #require(state.documents[b.id])).wrappedKey
        #expect(throws: CryptoError.self) {
            try KeyWrap.unwrapDocumentKey(wrapOfB, under: caseKey, caseID: env.caseID, documentID: a.id, version: 1, generation: 1)
        }
        let other = try env.vault.createCase(inGroup: "wg", reference: "CASE-2", as: env.lawyer)
        let state2 = try env.vault.replay()
        let epochKey = try env.vault.keyRing(for: env.lawyer, state: state2).epochKey(in: group, to: "test")
        #expect(throws: CryptoError.self) {
            try KeyWrap.unwrapCaseKey(env.vault.sealedFields(state).fields(of: theCase).wrappedKey, under: epochKey, groupID: group.id, caseID: other.id, generation: 1, epoch: 1)
        }
        // Swapping the member wraps in the index changes nothing a reader uses, and verify names both rows.
        try env.sql("UPDATE members SET wrap = ? WHERE fingerprint = ?", [Data(secondWrap), Data(env.lawyer.fingerprint.rawValue)])
        #expect(try env.export(a.id) == sampleBytes(100, seed: 1))
        #expect(env.findings().contains { $0.contains("index row members/") && $0.contains("wrap") })
    }

    @Test("B13: a well-formed document written by an outsider is rejected by verify and never shown")
    func outsiderDocument() throws {
        let env = try TestVault()
        let stranger = try UnlockedIdentity.generate(name: "stranger")
        let event = try inject(env, signer: stranger, body: .documentAdded(try record(env)))
        #expect(env.findings().contains { $0.hasPrefix("event \(event.sequence):") && $0.contains("no event of this vault admitted") })
        expectVaultError(.integrity, "ledger event \(event.sequence)") { _ = try env.vault.documents(inCase: "CASE-1", as: env.lawyer) }

        let env2 = try TestVault()
        let event2 = try inject(env2, signer: env2.outsider, body: .documentAdded(try record(env2)))
        #expect(env2.findings().contains { $0.hasPrefix("event \(event2.sequence):") && $0.contains("not a lawyer or custodian") })
        // Once the ledger holds such an event, every operation fails closed.
        expectVaultError(.integrity, "ledger event \(event2.sequence)") { try env2.add([1], as: env2.lawyer) }
        // And the library refuses to sign such an event in the first place, leaving no blob behind.
        let env3 = try TestVault()
        expectVaultError(.notPermitted, "not a member of group wg") { try env3.add([1], as: env3.outsider) }
        expectVaultError(.notPermitted, "auditor") { try env3.add([1], as: env3.auditor) }
        expectVaultError(.notPermitted, "not a custodian") {
            try env3.vault.addMember(stranger.publicIdentity, role: .lawyer, toGroup: "wg", as: env3.lawyer)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: env3.blobFolder).isEmpty)
        #expect(env3.findings().isEmpty)
    }

    @Test("B14: a document whose wrapped key differs from its encryption key is caught by the key commitment")
    func invisibleSalamander() throws {
        let env = try TestVault()
        let path = env.folder.file("plain")
        try Data(sampleBytes(5000)).write(to: URL(fileURLWithPath: path))
        let documentID = try ObjectID.random()
        let realKey = try DocumentKey.random(), otherKey = try DocumentKey.random()
        let encrypted = try DocumentStream.encrypt(inputPath: path, documentID: documentID, version: 1, key: realKey, store: env.vault.blobs)
        let state = try env.vault.replay()
        let caseKey = try env.vault.keyRing(for: env.lawyer, state: state).caseKey(try #require(try state.lookupCase(env.caseID)), to: "test")
        let metadata = DocumentMetadata(fileName: "plain", title: "", kind: .other, tags: [], size: encrypted.plaintextSize,
                                        commitmentSalt: encrypted.commitmentSalt, plaintextCommitment: encrypted.plaintextCommitment)
        let record = DocumentRecord(
            documentID: documentID, caseID: env.caseID, version: 1, generation: 1,
            wrappedKey: try KeyWrap.wrapDocumentKey(otherKey, under: caseKey, caseID: env.caseID, documentID: documentID, version: 1, generation: 1),
            blobHash: encrypted.blobHash, blobSize: encrypted.blobSize,
            sealedMetadata: try KeyWrap.sealField(metadata.encoded(), caseKey: caseKey, caseID: env.caseID, objectID: documentID, version: 1, field: "metadata"))
        try env.vault.append(as: env.lawyer) { _ in .documentAdded(record) }
        expectVaultError(.integrity, documentID.hex, "key commitment does not match") { _ = try env.export(documentID, as: env.secondLawyer) }
        #expect(try env.filesInScratch().allSatisfy { !$0.hasPrefix("export-") })
    }

    @Test("B17: every add, export and membership change is attributed in the log")
    func attribution() throws {
        let env = try TestVault()
        let document = try env.add([1, 2, 3])
        _ = try env.export(document.id, as: env.secondLawyer)
        let log = try env.vault.log()
        let byAction = Dictionary(grouping: log, by: \.action)
        #expect(byAction["member.add"]?.allSatisfy { $0.actor == env.custodian.fingerprint } == true)
        #expect(byAction["member.add"]?.count == 4)
        #expect(byAction["document.add"]?.map(\.actor) == [env.lawyer.fingerprint])
        #expect(byAction["document.export"]?.map(\.actor) == [env.secondLawyer.fingerprint])
        #expect(byAction["document.export"]?.first?.objects.contains { $0.kind == "document" && $0.id == document.id.hex } == true)
        #expect(log.map(\.sequence) == Array(0..<UInt64(log.count)))
    }

    @Test("B18: a public identity with a low-order X25519 key is refused even when properly self-signed")
    func lowOrderKeyInIdentity() throws {
        let signing = try SigningKeyPair.generate()
        var writer = ByteWriter()
        writer.header(.publicIdentity, version: 1)
        writer.string8("mallory")
        writer.u64(0)
        writer.raw(signing.publicKey.rawValue)
        writer.raw([UInt8](repeating: 0, count: 32))
        let bytes = writer.bytes + (try signing.sign(writer.bytes, context: PublicIdentity.signatureContext))
        let error = try #require(throws: FormatError.self) { try PublicIdentity.decode(bytes) }
        #expect("\(error)".contains("public key"))
    }

    @Test("B19: a malleated (non-canonical) event signature is refused")
    func malleatedSignature() throws {
        let env = try TestVault()
        let seq = try env.vault.replay().count - 1
        let queue = try DatabaseQueue(path: "\(env.path)/vault.sqlite")
        var bytes = Array(try #require(try queue.read { try Data.fetchOne($0, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [Int64(seq)]) }))
        let order: [UInt8] = Hex.decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")!
        var carry = 0
        for index in 0..<32 {
            let position = bytes.count - 32 + index
            let sum = Int(bytes[position]) + Int(order[index]) + carry
            bytes[position] = UInt8(sum & 0xff)
            carry = sum >> 8
        }
        try env.sql("UPDATE events SET bytes = ? WHERE seq = ?", [Data(bytes), Int64(seq)])
        #expect(env.findings().contains { $0.hasPrefix("event \(seq):") && $0.contains("does not verify") })
    }

    @Test("B20: a signature made under another event type's context is refused")
    func crossPurposeSignature() throws {
        let env = try TestVault()
        let newcomer = try UnlockedIdentity.generate(name: "newcomer")
        let group = try env.vault.replay().requireGroup(named: "wg")
        let event = try inject(env, signer: env.custodian,
                               body: .memberAdded(groupID: group.id, member: newcomer.publicIdentity, role: .auditor, epoch: 1, wrap: []),
                               context: SignatureContext("evidencevault/event/document.add/v1"))
        #expect(env.findings().contains { $0.hasPrefix("event \(event.sequence):") && $0.contains("does not verify for a member.add") })
    }

    @Test("G39: one corrupt ledger event is reported at its sequence number")
    func corruptEvent() throws {
        let env = try TestVault()
        try env.add([1, 2, 3])
        let queue = try DatabaseQueue(path: "\(env.path)/vault.sqlite")
        for seq: Int64 in [0, 3, 7] {
            let fresh = try TestVault()
            let original = Array(try #require(try queue.read { try Data.fetchOne($0, sql: "SELECT bytes FROM events WHERE seq = ?", arguments: [seq]) }))
            for position in [10, original.count / 2, original.count - 1] {
                var bad = original
                bad[position] ^= 0x20
                try env.sql("UPDATE events SET bytes = ? WHERE seq = ?", [Data(bad), seq])
                let findings = env.findings()
                #expect(findings.contains { $0.hasPrefix("event \(seq):") }, "\(findings)")
            }
            try env.sql("UPDATE events SET bytes = ? WHERE seq = ?", [Data(original), seq])
            _ = fresh
        }
        #expect(env.findings().isEmpty)
        // Removing an event breaks the chain at the next one.
        try env.sql("DELETE FROM events WHERE seq = 4")
        #expect(env.findings().contains { $0.hasPrefix("event 5:") && $0.contains("out of order") })
    }
}

func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    for start in 0...(haystack.count - needle.count) where Array(haystack[start..<start + needle.count]) == needle { return start }
    return nil
}
