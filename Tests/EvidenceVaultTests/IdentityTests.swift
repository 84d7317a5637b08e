import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// The inputs of the identity test vector in Docs/FORMAT.md §2-3. The fixture
/// files under Fixtures/identity-v1 are exactly these bytes, frozen: every future
/// version must still open them.
enum IdentityVector {
    static let name = "alice"
    static let createdAt: UInt64 = 1_767_225_600  // 2026-01-01T00:00:00Z
    static let seed: [UInt8] = Array(0x00...0x1f)
    static let scalar: [UInt8] = Array(0x20...0x3f)
    static let salt: [UInt8] = Array(0x40...0x4f)
    static let nonce: [UInt8] = Array(0x50...0x67)
    static let passphrase = "correct horse battery staple"

    static func identity() throws -> UnlockedIdentity {
        try UnlockedIdentity.fromSecrets(name: name, createdAt: createdAt, seed: SecureBytes(copying: seed),
                                         scalar: SecureBytes(copying: scalar))
    }

    static func identityFile() throws -> [UInt8] {
        try identity().sealed(passphrase: EvidenceVaultTests.passphrase(passphrase), parameters: .interactive, salt: salt, nonce: nonce)
    }
}

@Suite("Identity format and files")
struct IdentityTests {
    @Test("the frozen v1 fixtures open with their passphrase")
    func fixturesOpen() throws {
        let locked = try LockedIdentity(bytes: fixture("identity-v1/alice.identity"))
        let identity = try locked.unlock(passphrase: passphrase(IdentityVector.passphrase))
        #expect(identity.publicIdentity.name == "alice")
        let pub = try PublicIdentity.decode(fixture("identity-v1/alice.pub"))
        #expect(pub == identity.publicIdentity)
        #expect(pub.fingerprint.hex == "\(try fixtureText("identity-v1/alice.fingerprint"))")
    }

    @Test("the FORMAT.md vectors are reproduced from their inputs")
    func vectorsReproduce() throws {
        let identity = try IdentityVector.identity()
        #expect(identity.publicIdentity.encoded() == (try fixture("identity-v1/alice.pub")))
        #expect(try IdentityVector.identityFile() == (try fixture("identity-v1/alice.identity")))
    }

    @Test("public identity round-trips and its fingerprint reads in groups")
    func publicIdentityRoundTrip() throws {
        let identity = try UnlockedIdentity.generate(name: "Maître Diallo")
        let decoded = try PublicIdentity.decode(identity.publicIdentity.encoded())
        #expect(decoded == identity.publicIdentity)
        let readable = decoded.fingerprint.readable
        #expect(readable.count == 39)
        #expect(readable.split(separator: "-").count == 8)
        #expect(readable.allSatisfy { "0123456789ABCDEFGHJKMNPQRSTVWXYZ-".contains($0) })
    }

    @Test("any altered byte of a public identity is refused")
    func tamperedPublicIdentity() throws {
        let bytes = try fixture("identity-v1/alice.pub")
        for index in bytes.indices {
            var tampered = bytes
            tampered[index] ^= 0x01
            #expect(throws: (any Error).self, "byte \(index)") { try PublicIdentity.decode(tampered) }
        }
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self) { try PublicIdentity.decode(Array(bytes.prefix(length))) }
        }
        #expect(throws: FormatError.trailingBytes(structure: "public identity", count: 1)) { try PublicIdentity.decode(bytes + [0]) }
    }

    @Test("THREATS.md 30: a wrong passphrase is a clear authentication failure")
    func wrongPassphrase() throws {
        let locked = try LockedIdentity(bytes: fixture("identity-v1/alice.identity"))
        let error = try #require(throws: VaultError.self) { try locked.unlock(passphrase: passphrase("not the passphrase")) }
        #expect(error.kind == .authenticationFailed)
        #expect(error.message.contains("wrong passphrase"))
    }

    @Test("any altered byte of an identity file is refused")
    func tamperedIdentityFile() throws {
        let bytes = try fixture("identity-v1/alice.identity")
        let original = try LockedIdentity(bytes: bytes)
        let secret = try passphrase(IdentityVector.passphrase)
        let cachedKey = try original.deriveKey(passphrase: secret)
        for index in bytes.indices {
            var tampered = bytes
            tampered[index] ^= 0x01
            #expect(throws: (any Error).self, "byte \(index)") {
                let locked = try LockedIdentity(bytes: tampered)
                // Only the salt and KDF parameters change the derived key; reuse it otherwise.
                let key = locked.salt == original.salt && locked.kdfParameters == original.kdfParameters
                    ? cachedKey : try locked.deriveKey(passphrase: secret)
                _ = try locked.open(with: key, structure: "identity file")
            }
        }
    }

    @Test("a truncated identity file is refused at every length")
    func truncatedIdentityFile() throws {
        let bytes = try fixture("identity-v1/alice.identity")
        for length in 0..<bytes.count {
            #expect(throws: FormatError.self, "length \(length)") { try LockedIdentity(bytes: Array(bytes.prefix(length))) }
        }
    }

    @Test("THREATS.md 29: KDF parameters below the floor or absurdly high are refused before deriving")
    func kdfParametersInFileAreChecked() throws {
        let bytes = try fixture("identity-v1/alice.identity")
        // opslimit is bytes 7..<11, memlimit bytes 11..<19 (Docs/FORMAT.md §3).
        func with(ops: UInt32? = nil, mem: UInt64? = nil) -> [UInt8] {
            var copy = bytes
            if let ops { copy.replaceSubrange(7..<11, with: withUnsafeBytes(of: ops.bigEndian, Array.init)) }
            if let mem { copy.replaceSubrange(11..<19, with: withUnsafeBytes(of: mem.bigEndian, Array.init)) }
            return copy
        }
        for tampered in [with(ops: 1), with(ops: 0), with(ops: UInt32.max), with(mem: 8 << 20), with(mem: 1 << 40), with(mem: UInt64.max)] {
            let error = try #require(throws: FormatError.self) { try LockedIdentity(bytes: tampered) }
            #expect("\(error)".contains("KDF parameters"))
        }
    }

    @Test("unknown versions and other structure types are refused (THREATS.md 24)")
    func versionAndTypeAreChecked() throws {
        var bytes = try fixture("identity-v1/alice.identity")
        bytes[5] = 2
        #expect(throws: FormatError.unsupportedVersion(structure: "identity file", version: 2)) { try LockedIdentity(bytes: bytes) }
        #expect(throws: FormatError.wrongType(structure: "identity file", expected: .secretIdentity, found: 0x02)) {
            try LockedIdentity(bytes: try fixture("identity-v1/alice.pub"))
        }
        #expect(throws: FormatError.wrongType(structure: "public identity", expected: .publicIdentity, found: 0x01)) {
            try PublicIdentity.decode(try fixture("identity-v1/alice.identity"))
        }
        #expect(throws: FormatError.badMagic(structure: "public identity")) { try PublicIdentity.decode(Array("PK\u{3}\u{4}xxxxxxxx".utf8)) }
    }

    @Test("create writes both files once and refuses to overwrite")
    func createRefusesOverwrite() throws {
        let folder = try TemporaryFolder()
        let created = try IdentityStore.create(name: "bob", in: folder.path, passphrase: passphrase("a long passphrase"), parameters: .interactive)
        #expect(try folder.contents() == ["bob.identity", "bob.pub"])
        let before = try folder.read("bob.identity")
        let error = try #require(throws: VaultError.self) {
            try IdentityStore.create(name: "bob", in: folder.path, passphrase: passphrase("other passphrase"), parameters: .interactive)
        }
        #expect(error.kind == .alreadyExists)
        #expect(try folder.read("bob.identity") == before)
        #expect(try folder.contents() == ["bob.identity", "bob.pub"])
        #expect(try IdentityStore.loadPublic(created.publicPath) == created.publicIdentity)
        #expect(throws: VaultError.self) { try IdentityStore.loadPublic(created.secretPath) }
    }

    @Test("passwd re-encrypts under the new passphrase, atomically, keeping the keys")
    func changePassphrase() throws {
        let folder = try TemporaryFolder()
        let created = try IdentityStore.create(name: "carol", in: folder.path, passphrase: passphrase("first passphrase"), parameters: .interactive)
        let before = try folder.read("carol.identity")
        #expect(throws: VaultError.self) {
            try IdentityStore.changePassphrase(created.secretPath, old: passphrase("wrong passphrase"), new: passphrase("second passphrase"))
        }
        #expect(try folder.read("carol.identity") == before, "a failed passwd leaves the file untouched")
        try IdentityStore.changePassphrase(created.secretPath, old: passphrase("first passphrase"), new: passphrase("second passphrase"))
        #expect(try folder.contents() == ["carol.identity", "carol.pub"], "no temporary file is left behind")
        #expect(throws: VaultError.self) { try IdentityStore.unlock(created.secretPath, passphrase: passphrase("first passphrase")) }
        let reopened = try IdentityStore.unlock(created.secretPath, passphrase: passphrase("second passphrase"))
        #expect(reopened.publicIdentity == created.publicIdentity)
    }

    @Test("names that would escape the folder or hide the file are refused")
    func namesAreValidated() {
        for name in ["", "../x", "a/b", ".hidden", "tab\there", String(repeating: "x", count: 65)] {
            #expect(throws: VaultError.self, "\(name)") { try PublicIdentity.validate(name: name) }
        }
        #expect(throws: Never.self) { try PublicIdentity.validate(name: "Dr. Amina Okafor") }
    }
}

/// Keys/ holds public identities only (Keys/README.md).
@Suite("Keys folder")
struct KeysFolderTests {
    @Test("nothing under Keys/ is a secret identity")
    func keysHoldNoSecrets() throws {
        let root = "\(packageRoot)/Keys"
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        var checked = 0
        for case let relative as String in enumerator {
            let path = "\(root)/\(relative)"
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            checked += 1
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect((try? LockedIdentity(bytes: bytes)) == nil, "\(relative) parses as a secret identity")
            let isSecretTag = bytes.count > 4 && Array(bytes.prefix(4)) == Array("EVLT".utf8) && bytes[4] == TypeTag.secretIdentity.rawValue
            #expect(!isSecretTag, "\(relative) carries the secret-identity type tag")
        }
        #expect(checked >= 1, "Keys/ should at least hold its README")
    }
}

private func fixtureText(_ path: String) throws -> String {
    String(decoding: try fixture(path), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
