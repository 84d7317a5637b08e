import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md 62: `known-vaults.json` is not authenticated, so each identity
/// keeps its own record of which vault it trusts at each folder, under a key
/// derived from its secret key (Docs/FORMAT.md §12).
@Suite("Identity trust records (a trusted folder pointed at another vault)")
struct TrustRecordTests {
    /// The vector of Docs/FORMAT.md §12, computed independently with Python's
    /// hashlib (BLAKE2b with key, salt and personalisation is libsodium's
    /// `crypto_kdf_derive_from_key`):
    /// key = blake2b(b'', key=sk, salt=(2).to_bytes(8,'little')+bytes(8), person=b'EVtrustr'+bytes(8), digest_size=32).
    @Test("the record's bytes and tag match the published vector; they decode back, and paths are sorted by their bytes")
    func vector() throws {
        let secret = try SymmetricKey(bytes: SecureBytes(copying: Array(1...32)))
        let key = try secret.derive(subkeyID: 2, context: "EVtrustr")
        #expect(key.bytes.withUnsafeBytes { Hex.encode(Array($0)) } == "b632e3c9c39924c92f2dcf766c94f0ef380b9df717709624eaf33d21955cf01f")
        let folder = try TemporaryFolder()
        let record = TrustRecord(path: folder.file("trust/record"), key: key, owner: try Fingerprint(rawValue: [UInt8](repeating: 0xF0, count: 32)))
        let binding = TrustRecord.Binding(vaultID: try #require(ObjectID(hex: "bd5897dc8c14ea23c24e731657e93de6")),
                                          genesisHash: try #require(Hex.decode("b63eb9f63ecbb298f0236008852387cbafff4d9aa96e503c4fe7adf3d5e1d428")))
        let encoded = try record.encode(["/home/amina/vaults/latam": binding])
        #expect(Hex.encode(encoded) == "45564c544101" + String(repeating: "f0", count: 32) + "00000001" + "0018"
            + "2f686f6d652f616d696e612f7661756c74732f6c6174616d" + "bd5897dc8c14ea23c24e731657e93de6"
            + "b63eb9f63ecbb298f0236008852387cbafff4d9aa96e503c4fe7adf3d5e1d428"
            + "0b2ab70cf2d8bfe3a5d4b6a96f1c288a528681bde9bc2ed964624c9fc0efdb24")
        #expect(try record.decode(encoded) == ["/home/amina/vaults/latam": binding])
        // Two bindings: "/a/b" before "/a·" (0x2F < 0xC2), whatever Swift's String order says.
        try record.bind("/a\u{B7}", to: binding)
        try record.bind("/a/b", to: binding)
        let bytes = try folder.read("trust/record")
        let first = try #require(bytes.firstRange(of: Array("/a/b".utf8)))
        let second = try #require(bytes.firstRange(of: Array("/a\u{B7}".utf8)))
        #expect(first.lowerBound < second.lowerBound)
        #expect(try record.bindings().count == 2)
    }

    @Test("F1: a trusted folder pointed at another vault that admits you is refused for your identity, and nothing is written to it")
    func redirectedFolderIsRefused() throws {
        let anchored = try KnownVaultsTests.Anchored()
        let env = anchored.env
        _ = try anchored.open().documents(inCase: env.caseID.hex, as: env.lawyer)  // the lawyer's kept state of the real vault
        // Mallory runs a vault of her own that admits the lawyer.
        let forged = try TemporaryFolder()
        let mallory = try UnlockedIdentity.generate(name: "mallory")
        let fake = try Vault.create(at: forged.file("vault"), creator: mallory)
        try fake.createGroup(named: "wg", as: mallory)
        try fake.addMember(env.lawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: mallory)
        // Whoever can write the vault folder and the state folder puts it at the trusted path
        // and makes known-vaults.json say that is the vault trusted there.
        let real = env.folder.file("real-vault")
        try FileManager.default.moveItem(atPath: env.path, toPath: real)
        try FileManager.default.copyItem(atPath: forged.file("vault"), toPath: env.path)
        _ = try anchored.open().trust(.confirmedAtTerminal)  // the edit of known-vaults.json, as the attacker would write it
        let before = try anchored.eventCount()
        expectVaultError(.integrity, "not vault", "your identity was told to trust there") {
            _ = try anchored.open().createCase(inGroup: "wg", reference: "LEAK-1", title: "a victim's name", as: env.lawyer)
        }
        expectVaultError(.integrity, "not vault") { _ = try anchored.open().cases(as: env.lawyer) }
        expectVaultError(.integrity, "not vault") { _ = try anchored.open().log(as: env.lawyer) }
        #expect(try anchored.eventCount() == before, "nothing was signed on top of the other vault")
        #expect(try anchored.open().verify(reader: env.lawyer).findings.contains { $0.problem.contains("your identity was told to trust there") })
        // The record deleted too: still refused, since this identity never verified that vault here.
        try FileManager.default.removeItem(atPath: anchored.state.file("trust"))
        expectVaultError(.untrusted, "has not been told to trust", "Nothing was written") {
            _ = try anchored.open().createCase(inGroup: "wg", reference: "LEAK-1", as: env.lawyer)
        }
        #expect(try anchored.eventCount() == before)
        // What the machine's list says is no evidence for an identity.
        expectVaultError(.untrusted, "not evidence for an identity") { _ = try anchored.open().trust(.alreadyTrustedHere, for: env.lawyer) }
        #expect(try anchored.open().trustCandidate(for: env.lawyer).alreadyTrustedByIdentity == false)
        // The real vault back: its own kept state is no evidence either (F2 of the same review: the attacker
        // may run a vault this identity also uses); the genesis hash from the custodian is.
        try FileManager.default.removeItem(atPath: env.path)
        try FileManager.default.moveItem(atPath: real, toPath: env.path)
        #expect(try anchored.open().trustCandidate(for: env.lawyer).alreadyTrustedByIdentity == false)
        expectVaultError(.untrusted, "not evidence for an identity") { _ = try anchored.open().trust(.alreadyTrustedHere, for: env.lawyer) }
        _ = try anchored.open().trust(.genesis(Hex.encode(try #require(anchored.open().trustCandidate().genesisHash))), for: env.lawyer)
        #expect(try anchored.open().trustCandidate(for: env.lawyer).alreadyTrustedByIdentity == true)
        #expect(try anchored.open().documents(inCase: env.caseID.hex, as: env.lawyer).isEmpty)
        let record = try TrustRecord(stateFolder: anchored.known.folder, actor: env.lawyer)
        #expect(try record.bindings()[KnownVaults.key(env.path)]?.vaultID == env.vault.replay().vaultID)
    }

    @Test("F2: a folder without a binding is refused even when the identity's own kept state of the vault there authenticates")
    func noBindingFromKeptState() throws {
        let anchored = try KnownVaultsTests.Anchored()
        let env = anchored.env
        // Mallory's vault, which the lawyer also uses (trusted with its genesis, kept state and all).
        let other = try TemporaryFolder()
        let mallory = try UnlockedIdentity.generate(name: "mallory")
        let theirs = try Vault.create(at: other.file("vault"), creator: mallory, knownVaults: anchored.known)
        try theirs.createGroup(named: "wg", as: mallory)
        try theirs.addMember(env.lawyer.publicIdentity, role: .lawyer, toGroup: "wg", as: mallory)
        _ = try theirs.trust(.confirmedAtTerminal, for: env.lawyer)
        _ = try theirs.cases(as: env.lawyer)
        #expect(FileManager.default.fileExists(atPath: anchored.state.file("kept")))
        // Her vault at the trusted folder, known-vaults.json edited, the trust records deleted.
        try FileManager.default.removeItem(atPath: env.path)
        try FileManager.default.copyItem(atPath: other.file("vault"), toPath: env.path)
        _ = try anchored.open().trust(.confirmedAtTerminal)
        try FileManager.default.removeItem(atPath: anchored.state.file("trust"))
        let before = try anchored.eventCount()
        expectVaultError(.untrusted, "lawyer has not been told to trust", "Nothing was written") {
            _ = try anchored.open().createCase(inGroup: "wg", reference: "VICTIM-REF", title: "a survivor's name", as: env.lawyer)
        }
        #expect(try anchored.eventCount() == before)
        #expect(!FileManager.default.fileExists(atPath: anchored.state.file("trust/\(env.lawyer.fingerprint.hex).trust")), "nothing re-bound")
    }

    @Test("an edited, truncated, extended, swapped, linked or FIFO record is refused, never partly used; trust with evidence replaces it")
    func tamperedRecordIsRefused() throws {
        let anchored = try KnownVaultsTests.Anchored()
        let env = anchored.env
        let record = try TrustRecord(stateFolder: anchored.known.folder, actor: env.lawyer)
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: record.path)))
        func write(_ bytes: [UInt8]) throws {
            try? FileManager.default.removeItem(atPath: record.path)
            try Data(bytes).write(to: URL(fileURLWithPath: record.path))
        }
        for index in good.indices {
            var bytes = good
            bytes[index] ^= 0x01
            try write(bytes)
            #expect(throws: VaultError.self, "byte \(index) flipped") { _ = try record.bindings() }
        }
        for bytes in [Array(good.dropLast()), good + [0], [], Array(good.prefix(40))] {
            try write(bytes)
            #expect(throws: VaultError.self) { _ = try record.bindings() }
        }
        // The command refuses it, naming the record; nothing is signed.
        try write(Array(good.dropLast()) + [good.last! ^ 0x80])
        let before = try anchored.eventCount()
        expectVaultError(.integrity, "trust record", "authentication check") {
            _ = try anchored.open().createCase(inGroup: "wg", reference: "CASE-2", as: env.lawyer)
        }
        #expect(try anchored.eventCount() == before)
        // Another identity's record under this identity's name.
        let other = try TrustRecord(stateFolder: anchored.known.folder, actor: env.secondLawyer)
        try write(Array(try Data(contentsOf: URL(fileURLWithPath: other.path))))
        expectVaultError(.integrity, "authentication check") { _ = try record.bindings() }
        // A link (even to a good record) and a FIFO: refused at once, never followed or waited on.
        try FileManager.default.removeItem(atPath: record.path)
        try FileManager.default.createSymbolicLink(atPath: record.path, withDestinationPath: other.path)
        expectVaultError(.integrity, "is a symbolic link") { _ = try record.bindings() }
        try FileManager.default.removeItem(atPath: record.path)
        #expect(mkfifo(record.path, 0o600) == 0)
        expectVaultError(.integrity, "not a regular file") { _ = try record.bindings() }
        try FileManager.default.removeItem(atPath: record.path)
        // Trust with out-of-band evidence replaces a damaged record.
        try write(Array(good.dropLast()))
        _ = try anchored.open().trust(.confirmedAtTerminal, for: env.lawyer)
        #expect(try record.bindings().count == 1)
        #expect(throws: Never.self) { _ = try anchored.open().cases(as: env.lawyer) }
    }

    @Test("creating a vault binds it for its creator; a vault created anew at that folder rebinds it")
    func creatorIsBound() throws {
        let state = try TemporaryFolder()
        let known = KnownVaults(path: state.file("known-vaults.json"))
        let creator = try UnlockedIdentity.generate(name: "creator")
        let folder = try TemporaryFolder()
        let first = try Vault.create(at: folder.file("vault"), creator: creator, knownVaults: known)
        let record = try TrustRecord(stateFolder: known.folder, actor: creator)
        #expect(try record.bindings()[KnownVaults.key(folder.file("vault"))]?.vaultID == first.replay().vaultID)
        try first.createGroup(named: "wg", as: creator)
        try FileManager.default.removeItem(atPath: folder.file("vault"))
        let second = try Vault.create(at: folder.file("vault"), creator: creator, knownVaults: known)
        #expect(try record.bindings()[KnownVaults.key(folder.file("vault"))]?.vaultID == second.replay().vaultID)
        #expect(throws: Never.self) { try second.createGroup(named: "wg", as: creator) }
    }
}
