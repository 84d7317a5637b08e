import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// The frozen version-1 vault (Fixtures/vault-v1): every future version must open it.
@Suite("Frozen fixture vault")
struct VaultFixtureTests {
    struct Expected: Decodable {
        struct Document: Decodable {
            let id: String
            let fileName, title, kind, sha256: String
            let tags: [String]
            let size: UInt64
        }
        let passphrase, lawyer, vaultId, caseId, caseReference, caseTitle: String
        let events: UInt64
        let documents: [Document]
    }

    @Test("fixtureVaultStillOpens: verifies clean and exports its documents to their known plaintext")
    func fixtureVaultStillOpens() throws {
        let source = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/vault-v1"))
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: source.appendingPathComponent("expected.json")))
        let scratch = try TemporaryFolder()
        try FileManager.default.copyItem(atPath: source.appendingPathComponent("vault").path, toPath: scratch.file("vault"))
        let vault = try Vault.open(at: scratch.file("vault"))
        let report = vault.verify()
        #expect(report.isClean, "\(report.findings)")
        #expect(report.vaultID?.hex == expected.vaultId)
        #expect(report.eventsVerified == expected.events)
        let lawyer = try IdentityStore.unlock(source.appendingPathComponent(expected.lawyer).path,
                                              passphrase: SecureBytes(copying: Array(expected.passphrase.utf8)))
        let cases = try vault.cases(as: lawyer)
        #expect(cases.map(\.id.hex) == [expected.caseId])
        #expect(cases.first?.reference == expected.caseReference)
        #expect(cases.first?.title == expected.caseTitle)
        for document in expected.documents {
            let out = scratch.file("out-\(document.id)")
            let summary = try vault.export(document.id, to: out, as: lawyer)
            #expect(Hex.encode(SHA256Stream.hash(try Data(contentsOf: URL(fileURLWithPath: out)))) == document.sha256)
            let metadata = try #require(summary.metadata)
            #expect(metadata.fileName == document.fileName)
            #expect(metadata.title == document.title)
            #expect(metadata.kind.description == document.kind)
            #expect(metadata.tags == document.tags)
            #expect(metadata.size == document.size)
        }
    }
}
