import Foundation
import Testing
@testable import VaultCrypto

@Suite("Secret bytes")
struct SecureBytesTests {
    @Test func descriptionIsRedacted() throws {
        let secret = try SecureBytes(copying: Array("top secret marker".utf8))
        #expect(!secret.description.contains("secret marker"))
        #expect(!"\(secret)".contains("746f70"))
        #expect(!String(reflecting: secret).contains("top"))
        let key = try SymmetricKey.random()
        #expect(!"\(key)".contains(Hex.encode(key.bytes.unprotectedCopy())))
    }

    @Test func equalityComparesContentAndLength() throws {
        let a = try SecureBytes(copying: [1, 2, 3])
        #expect(a == (try SecureBytes(copying: [1, 2, 3])))
        #expect(a != (try SecureBytes(copying: [1, 2, 4])))
        #expect(a != (try SecureBytes(copying: [1, 2])))
    }

    @Test func randomKeysDiffer() throws {
        #expect(try SecureBytes.random(count: 32) != (try SecureBytes.random(count: 32)))
    }

    @Test func typedKeysCheckTheirSize() throws {
        #expect(throws: CryptoError.invalidLength(what: "symmetric key", expected: 32, actual: 31)) {
            try SymmetricKey(bytes: SecureBytes(zeroedCount: 31))
        }
        #expect(throws: CryptoError.self) { try SigningKeyPair(seed: SecureBytes(zeroedCount: 33)) }
        #expect(throws: CryptoError.self) { try EncryptionKeyPair(secretKey: SecureBytes(zeroedCount: 16)) }
        #expect(throws: CryptoError.self) { try SigningPublicKey(rawValue: [UInt8](repeating: 1, count: 31)) }
    }
}

@Suite("AEAD and sealed boxes")
struct AEADTests {
    @Test func roundTripBindsAssociatedData() throws {
        let key = try SymmetricKey.random()
        let box = try AEAD.seal(Array("hello".utf8), associatedData: [1, 2], key: key)
        #expect(try AEAD.open(box, associatedData: [1, 2], key: key, what: "box").unprotectedCopy() == Array("hello".utf8))
        #expect(throws: CryptoError.authenticationFailed(what: "box")) {
            try AEAD.open(box, associatedData: [1, 3], key: key, what: "box")
        }
        #expect(throws: CryptoError.self) { try AEAD.open(box, associatedData: [1, 2], key: try SymmetricKey.random(), what: "box") }
    }

    @Test func everyFlippedByteIsRejected() throws {
        let key = try SymmetricKey.random()
        let box = try AEAD.seal([UInt8](repeating: 7, count: 40), associatedData: [], key: key)
        for index in box.indices {
            var tampered = box
            tampered[index] ^= 0x01
            #expect(throws: CryptoError.self) { try AEAD.open(tampered, associatedData: [], key: key, what: "box") }
        }
        for length in [0, 1, AEAD.overhead - 1, box.count - 1] {
            #expect(throws: CryptoError.self) { try AEAD.open(Array(box.prefix(length)), associatedData: [], key: key, what: "box") }
        }
    }

    @Test func sealingTwiceGivesDifferentBoxes() throws {
        let key = try SymmetricKey.random()
        #expect(try AEAD.seal([1], associatedData: [], key: key) != (try AEAD.seal([1], associatedData: [], key: key)))
    }

    @Test func sealedBoxOpensOnlyForItsRecipient() throws {
        let alice = try EncryptionKeyPair.generate()
        let mallory = try EncryptionKeyPair.generate()
        let box = try SealedBox.seal(Array("epoch key".utf8), to: alice.publicKey)
        #expect(try SealedBox.open(box, with: alice, what: "wrap").unprotectedCopy() == Array("epoch key".utf8))
        #expect(throws: CryptoError.authenticationFailed(what: "wrap")) { try SealedBox.open(box, with: mallory, what: "wrap") }
        var tampered = box
        tampered[tampered.count - 1] ^= 0x80
        #expect(throws: CryptoError.self) { try SealedBox.open(tampered, with: alice, what: "wrap") }
        #expect(throws: CryptoError.self) { try SealedBox.open(Array(box.prefix(10)), with: alice, what: "wrap") }
    }

    /// THREATS.md 18: low-order X25519 points, including all-zero, are refused.
    @Test func lowOrderEncryptionKeysAreRefused() throws {
        // The points of order 1, 2, 4 and 8 on Curve25519 and their non-canonical
        // encodings (the list libsodium itself blacklists).
        let lowOrder = [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ]
        for point in lowOrder {
            #expect(throws: CryptoError.unacceptablePublicKey(what: "X25519 public key"), "\(point)") {
                try EncryptionPublicKey(rawValue: try hex(point))
            }
        }
        #expect(throws: Never.self) { try EncryptionPublicKey(rawValue: EncryptionKeyPair.generate().publicKey.rawValue) }
    }
}

@Suite("Signatures")
struct SignatureTests {
    let document = SignatureContext("evidencevault/test/document/v1")
    let membership = SignatureContext("evidencevault/test/membership/v1")

    /// THREATS.md 20: a signature for one purpose never verifies for another.
    @Test func contextsSeparateDomains() throws {
        let pair = try SigningKeyPair.generate()
        let signature = try pair.sign(Array("event".utf8), context: document)
        #expect(pair.publicKey.isValidSignature(signature, for: Array("event".utf8), context: document))
        #expect(!pair.publicKey.isValidSignature(signature, for: Array("event".utf8), context: membership))
        // Nor as a context-free signature over the same bytes.
        #expect(!Ed25519Raw.verify(signature, message: Array("event".utf8), publicKey: pair.publicKey.rawValue))
    }

    /// THREATS.md 19: S + L (same point arithmetic, non-canonical scalar) is refused.
    @Test func nonCanonicalSignatureIsRefused() throws {
        let pair = try SigningKeyPair.generate()
        let message = Array("membership".utf8)
        let signature = try pair.sign(message, context: membership)
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let order: [UInt8] = try hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")
        var s = Array(signature[32...])
        var carry = 0
        for index in 0..<32 {
            let sum = Int(s[index]) + Int(order[index]) + carry
            s[index] = UInt8(sum & 0xff)
            carry = sum >> 8
        }
        #expect(carry == 0)
        let malleated = Array(signature[..<32]) + s
        #expect(malleated != signature)
        #expect(!pair.publicKey.isValidSignature(malleated, for: message, context: membership))
        #expect(throws: CryptoError.invalidSignature) { try pair.publicKey.verify(malleated, for: message, context: membership) }
    }

    /// THREATS.md 19: small-order and non-canonical public keys are refused up front.
    @Test func weakSigningKeysAreRefused() throws {
        let weak = [
            "0100000000000000000000000000000000000000000000000000000000000000",  // identity point
            "0000000000000000000000000000000000000000000000000000000000000000",  // order 4
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // order 2
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",  // order 8
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // non-canonical
        ]
        for key in weak {
            #expect(throws: CryptoError.unacceptablePublicKey(what: "Ed25519 public key"), "\(key)") {
                try SigningPublicKey(rawValue: try hex(key))
            }
        }
    }

    @Test func everyFlippedSignatureBitFails() throws {
        let pair = try SigningKeyPair.generate()
        let signature = try pair.sign([1, 2, 3], context: document)
        for index in signature.indices {
            var bad = signature
            bad[index] ^= 0x04
            #expect(!pair.publicKey.isValidSignature(bad, for: [1, 2, 3], context: document))
        }
        #expect(!pair.publicKey.isValidSignature(Array(signature.prefix(63)), for: [1, 2, 3], context: document))
    }
}

@Suite("Argon2id parameters")
struct KDFTests {
    /// THREATS.md 29: below the floor or absurdly high is refused before deriving anything.
    @Test func parametersOutsideBoundsAreRefused() {
        let floorOps = KDFParameters.minOpsLimit, floorMem = KDFParameters.minMemLimit
        for (ops, mem) in [(floorOps - 1, floorMem), (floorOps, floorMem - 1), (0, 0),
                           (KDFParameters.maxOpsLimit + 1, floorMem), (floorOps, KDFParameters.maxMemLimit + 1),
                           (UInt64(UInt32.max), UInt64.max)] {
            #expect(throws: CryptoError.self, "ops \(ops) mem \(mem)") { try KDFParameters(opsLimit: ops, memLimit: mem) }
        }
        #expect(throws: Never.self) { try KDFParameters(opsLimit: floorOps, memLimit: floorMem) }
        #expect(KDFParameters.interactive.opsLimit == 2 && KDFParameters.interactive.memLimit == 64 << 20)
    }

    @Test func derivationDependsOnPassphraseAndSalt() throws {
        let salt = [UInt8](repeating: 1, count: PasswordKDF.saltLength)
        let a = try PasswordKDF.deriveKey(passphrase: SecureBytes(copying: Array("passphrase one".utf8)), salt: salt, parameters: .interactive)
        let b = try PasswordKDF.deriveKey(passphrase: SecureBytes(copying: Array("passphrase one".utf8)), salt: salt, parameters: .interactive)
        let c = try PasswordKDF.deriveKey(passphrase: SecureBytes(copying: Array("passphrase two".utf8)), salt: salt, parameters: .interactive)
        #expect(a == b)
        #expect(a != c)
        #expect(throws: CryptoError.self) {
            try PasswordKDF.deriveKey(passphrase: SecureBytes(copying: [1]), salt: [1, 2], parameters: .interactive)
        }
    }
}

/// THREATS.md 49: no core file, no same-user tracing, passphrase variables scrubbed.
@Suite("Process hygiene")
struct ProcessHygieneTests {
    @Test("lockDown makes the process non-dumpable with no core file")
    func lockDown() throws {
        try ProcessHygiene.lockDown()
        #expect(!ProcessHygiene.isDumpable)
        #expect(ProcessHygiene.coreFileLimit == 0)
    }

    @Test("a captured secret variable leaves the environment and is kept only in secure memory")
    func secretEnvironment() throws {
        setenv("EVAULT_TEST_SECRET", "correct horse battery", 1)
        try SecretEnvironment.capture(["EVAULT_TEST_SECRET"])
        #expect(getenv("EVAULT_TEST_SECRET") == nil)
        #expect(ProcessInfo.processInfo.environment["EVAULT_TEST_SECRET"] == nil)
        let value = try #require(SecretEnvironment.take("EVAULT_TEST_SECRET"))
        #expect(value.withUnsafeBytes { Array($0) } == Array("correct horse battery".utf8))
    }
}
