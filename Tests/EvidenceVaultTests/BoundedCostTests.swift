import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md 46: a member cannot make every later command slow or heavy. The
/// figures (replay per event, members x8, memory) come from `vault-bench scale`,
/// not from timed tests; these tests check the mechanisms.
@Suite("Bounded cost per event")
struct BoundedCostTests {
    @Test("the replayed state keeps no sealed bytes; they are read back from the event, checked against its verified hash")
    func sealedFieldsAreReadBackAndChecked() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(100), title: "read back")
        let state = try env.vault.replay()
        let fields = env.vault.sealedFields(state)
        let record = try fields.record(of: #require(state.documents[document.id]))
        #expect(record.blobHash == document.blobHash && !record.sealedMetadata.isEmpty)
        // The storage swaps the event's bytes after the replay: reading back refuses them.
        let other = try env.add(sampleBytes(50), title: "other")
        try env.sql("UPDATE events SET bytes = (SELECT bytes FROM events WHERE seq = ?) WHERE seq = ?",
                    [Int64(other.sequence), Int64(document.sequence)])
        expectVaultError(.integrity, "changed after it was verified") { _ = try fields.record(of: #require(state.documents[document.id])) }
    }

    @Test("sealed fields larger than evault ever writes are refused when read, and new ones are capped at what is needed")
    func fieldLimits() throws {
        let env = try TestVault()
        expectVaultError(.invalidInput, "case reference is 1 to 256 bytes") {
            _ = try env.vault.createCase(inGroup: "wg", reference: String(repeating: "r", count: 257), as: env.lawyer)
        }
        expectVaultError(.invalidInput, "at most 1024") { _ = try env.add(sampleBytes(10), title: String(repeating: "t", count: 1025)) }
        // A signed case.create whose sealed reference is 8 KiB: well-formed once, refused now.
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let body = EventBody.caseCreated(caseID: try .random(), groupID: group.id, epoch: 1, generation: 1, wrappedKey: [UInt8](repeating: 1, count: 72),
                                         sealedReference: [UInt8](repeating: 2, count: 8192), sealedTitle: [UInt8](repeating: 3, count: 40),
                                         commitment: [UInt8](repeating: 4, count: 32))
        let event = try Event(sequence: state.count, previousHash: state.headHash, time: 0, signer: env.lawyer, body: body)
        #expect(throws: FormatError.self) { _ = try Event.decode(event.encoded) }
    }

    @Test("member admissions update the group in place: replay of many members applies each once and keeps every member")
    func manyMembersReplay() throws {
        let env = try TestVault()
        for index in 0..<150 {
            try env.vault.addMember(try UnlockedIdentity.generate(name: "auditor-\(index)").publicIdentity, role: .auditor,
                                    toGroup: "wg", as: env.custodian)
        }
        let state = try env.vault.replay()
        #expect(try state.requireGroup(named: "wg").members.count == 154)
        #expect(env.findings().isEmpty)
    }
}
