import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// A vault with a working group "wg" (custodian, two lawyers, an auditor), an
/// outsider who belongs to another group "other", and a case "CASE-1".
/// Identities are generated without a KDF: the library takes unlocked identities.
final class TestVault: @unchecked Sendable {
    let folder: TemporaryFolder
    let vault: Vault
    let custodian: UnlockedIdentity
    let lawyer: UnlockedIdentity
    let secondLawyer: UnlockedIdentity
    let auditor: UnlockedIdentity
    let outsider: UnlockedIdentity
    let caseID: ObjectID

    var path: String { vault.folder }
    /// Everyone this vault knows, for `trust(_:for:)`.
    var everyone: [UnlockedIdentity] { [custodian, lawyer, secondLawyer, auditor, outsider] }
    var blobFolder: String { "\(vault.folder)/blobs" }

    init(calls: SystemCalls = POSIXCalls()) throws {
        folder = try TemporaryFolder()
        custodian = try .generate(name: "custodian")
        lawyer = try .generate(name: "lawyer")
        secondLawyer = try .generate(name: "second-lawyer")
        auditor = try .generate(name: "auditor")
        outsider = try .generate(name: "outsider")
        vault = try Vault.create(at: folder.file("vault"), creator: custodian, calls: calls)
        try vault.createGroup(named: "wg", as: custodian)
        try vault.addMember(lawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: custodian)
        try vault.addMember(secondLawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: custodian)
        try vault.addMember(auditor.publicIdentity, role: .auditor, toGroup: "wg", as: custodian)
        try vault.createGroup(named: "other", as: custodian)
        try vault.addMember(outsider.publicIdentity, role: .lawyer, toGroup: "other", as: custodian)
        caseID = try vault.createCase(inGroup: "wg", reference: "CASE-1", title: "first case", as: lawyer).id
    }

    /// Writes `bytes` to a file in the scratch folder and adds it to CASE-1.
    @discardableResult
    func add(_ bytes: [UInt8], name: String = "evidence.bin", kind: DocumentKind = .testimony, title: String = "a title",
             tags: [String] = [], as actor: UnlockedIdentity? = nil) throws -> DocumentSummary {
        let path = folder.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try vault.addDocuments([NewDocument(path: path, kind: kind, title: title, tags: tags)], toCase: caseID.hex,
                                      as: actor ?? lawyer)[0]
    }

    /// Exports a document and returns its bytes.
    func export(_ id: ObjectID, as actor: UnlockedIdentity? = nil) throws -> [UInt8] {
        let out = folder.file("export-\(UUID().uuidString)")
        _ = try vault.export(id.hex, to: out, as: actor ?? lawyer)
        return Array(try Data(contentsOf: URL(fileURLWithPath: out)))
    }

    func blobPath(_ document: DocumentSummary) -> String { "\(blobFolder)/\(Hex.encode(document.blobHash))" }

    func readBlob(_ document: DocumentSummary) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: blobPath(document)))) }

    func writeBlob(_ document: DocumentSummary, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: blobPath(document)))
    }

    /// The vault opened again with a fresh list of known vaults of its own (a
    /// machine of its own), trusted there when `trusted`.
    func onMachine(trusted: Bool) throws -> (Vault, KnownVaults, TemporaryFolder) {
        let state = try TemporaryFolder()
        let known = KnownVaults(path: state.file("known-vaults.json"))
        let vault = try Vault.open(at: path, knownVaults: known)
        if trusted { try trust(vault, for: everyone) }
        return (vault, known, state)
    }

    /// Runs raw SQL against the vault database, as an attacker with the storage would.
    func sql(_ statement: String, _ arguments: StatementArguments = []) throws {
        let queue = try DatabaseQueue(path: "\(path)/vault.sqlite")
        try queue.write { try $0.execute(sql: statement, arguments: arguments) }
    }

    /// The findings of a keyless verify, as text.
    func findings() -> [String] { vault.verify().findings.map(\.description) }

    /// Files left in the folder of a would-be export destination (none expected after a failure).
    func filesInScratch() throws -> [String] { try folder.contents() }
}

/// Pseudo-random but reproducible bytes.
/// Trusts `vault` on its machine, and for each of `people` (as each would with
/// `evault trust --identity`, having checked the genesis hash out of band).
func trust(_ vault: Vault, for people: [UnlockedIdentity]) throws {
    _ = try vault.trust(.confirmedAtTerminal)
    for person in people { _ = try vault.trust(.confirmedAtTerminal, for: person) }
}

func sampleBytes(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<count).map { _ in
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return UInt8(truncatingIfNeeded: state)
    }
}

/// Expects a `VaultError` of `kind` whose message contains every fragment.
func expectVaultError(_ kind: VaultError.Kind, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation,
                      _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected a \(kind) error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let error as VaultError {
        #expect(error.kind == kind, "\(error.message)", sourceLocation: sourceLocation)
        for fragment in fragments {
            #expect(error.message.contains(fragment), "\"\(error.message)\" lacks \"\(fragment)\"", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a VaultError, got \(error)", sourceLocation: sourceLocation)
    }
}
