import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md 45: one signed record a reader cannot open denies nothing else.
@Suite("Unreadable records")
struct UnreadableRecordTests {
    /// A document.add whose blob is real but whose sealed metadata was damaged before signing.
    static func addBrokenDocument(_ env: TestVault) throws -> ObjectID {
        let path = env.folder.file("broken-input")
        try Data(sampleBytes(4000)).write(to: URL(fileURLWithPath: path))
        let documentID = try ObjectID.random(), key = try DocumentKey.random()
        let encrypted = try DocumentStream.encrypt(inputPath: path, documentID: documentID, version: 1, key: key, store: env.vault.blobs)
        let state = try env.vault.replay()
        let caseKey = try env.vault.keyRing(for: env.lawyer, state: state).caseKey(try #require(try state.lookupCase(env.caseID)), to: "test")
        var sealed = try KeyWrap.sealField([1, 2, 3], caseKey: caseKey, caseID: env.caseID, objectID: documentID, version: 1, field: "metadata")
        sealed[sealed.count / 2] ^= 0x40
        let record = DocumentRecord(documentID: documentID, caseID: env.caseID, version: 1, generation: 1,
                                    wrappedKey: try KeyWrap.wrapDocumentKey(key, under: caseKey, caseID: env.caseID, documentID: documentID,
                                                                            version: 1, generation: 1),
                                    blobHash: encrypted.blobHash, blobSize: encrypted.blobSize, sealedMetadata: sealed)
        try env.vault.append(as: env.lawyer) { _ in .documentAdded(record) }
        return documentID
    }

    @Test("a document whose metadata does not open is listed as unreadable (event, author) and the listing goes on")
    func unreadableDocumentIsListed() throws {
        let env = try TestVault()
        let good = try env.add(sampleBytes(100), title: "good one")
        let broken = try Self.addBrokenDocument(env)
        let later = try env.add(sampleBytes(200), title: "added later")
        let listed = try env.vault.documents(inCase: env.caseID.hex, as: env.secondLawyer)
        #expect(listed.map(\.id) == [good.id, broken, later.id])
        #expect(listed[0].metadata?.title == "good one" && listed[2].metadata?.title == "added later")
        let problem = try #require(listed[1].problem)
        #expect(listed[1].metadata == nil)
        #expect(problem.contains("ledger event \(listed[1].sequence)") && problem.contains("by lawyer"))
        #expect(try env.vault.document(broken.hex, as: env.lawyer).problem != nil)
        // Keyless verify sees a well-formed vault; a reader's verify names what does not open.
        #expect(env.findings().isEmpty)
        let findings = env.vault.verify(reader: env.secondLawyer).findings.map(\.description)
        #expect(findings.contains { $0.hasPrefix("document \(broken.hex)") && $0.contains("does not open") }, "\(findings)")
    }

    @Test("a case whose title does not open, or is not UTF-8, is listed with its problem; other cases are unaffected")
    func unreadableCaseIsListed() throws {
        let env = try TestVault()
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let epochKey = try env.vault.keyRing(for: env.lawyer, state: state).epochKey(in: group, to: "test")
        var made: [ObjectID] = []
        for (index, title) in [[UInt8](repeating: 0x41, count: 5), [0xC3, 0x28, 0xFF]].enumerated() {
            let caseID = try ObjectID.random(), caseKey = try CaseKey.random()
            var sealedTitle = try KeyWrap.sealField(title, caseKey: caseKey, caseID: caseID, objectID: caseID, version: 1, field: "title")
            if index == 0 { sealedTitle[0] ^= 1 }  // does not authenticate; the second is valid AEAD around invalid UTF-8
            try env.vault.append(as: env.lawyer) { _ in
                .caseCreated(caseID: caseID, groupID: group.id, epoch: 1, generation: 1,
                             wrappedKey: try KeyWrap.wrapCaseKey(caseKey, under: epochKey, groupID: group.id, caseID: caseID, generation: 1, epoch: 1),
                             sealedReference: try KeyWrap.sealField(Array("BROKEN-\(index)".utf8), caseKey: caseKey, caseID: caseID, objectID: caseID,
                                                                    version: 1, field: "reference"),
                             sealedTitle: sealedTitle,
                             commitment: try KeyCommitment.caseKey(caseKey, groupID: group.id, caseID: caseID, generation: 1, epoch: 1,
                                                                   previous: KeyCommitment.none))
            }
            made.append(caseID)
        }
        let cases = try env.vault.cases(as: env.secondLawyer)
        #expect(cases.count == 3)
        #expect(cases.first { $0.id == env.caseID }?.title == "first case")
        for id in made {
            let listed = try #require(cases.first { $0.id == id })
            #expect(listed.problem != nil && listed.title == nil && listed.reference == nil)
        }
        #expect(cases.first { $0.id == made[1] }?.problem?.contains("not UTF-8") == true)
        let findings = env.vault.verify(reader: env.lawyer).findings.map(\.description)
        #expect(made.allSatisfy { id in findings.contains { $0.hasPrefix("case \(id.hex)") } }, "\(findings)")
        #expect(env.findings().isEmpty, "a keyless verify cannot see inside sealed fields")
    }
}
