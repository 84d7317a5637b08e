import Foundation
import Testing
@testable import VaultCrypto

/// Published known-answer vectors (see Vectors/README.md for sources and cross-checks).
@Suite("Known-answer vectors")
struct KnownAnswerTests {
    struct Ed25519File: Decodable {
        struct Case: Decodable { let name, seed, `public`, message, signature: String }
        let cases: [Case]
    }

    @Test("RFC 8032 Ed25519: key derivation, signature and verification")
    func ed25519() throws {
        let file = try loadVectors("ed25519", as: Ed25519File.self)
        #expect(file.cases.count >= 5)
        for vector in file.cases {
            let pair = try SigningKeyPair(seed: SecureBytes(copying: try hex(vector.seed)))
            #expect(pair.publicKey.rawValue == (try hex(vector.public)), "\(vector.name): public key")
            let message = try hex(vector.message)
            #expect(try pair.signRaw(message) == (try hex(vector.signature)), "\(vector.name): signature")
            #expect(Ed25519Raw.verify(try hex(vector.signature), message: message, publicKey: try hex(vector.public)))
            var bad = try hex(vector.signature)
            bad[0] ^= 1
            #expect(!Ed25519Raw.verify(bad, message: message, publicKey: try hex(vector.public)), "\(vector.name): flipped bit")
        }
    }

    struct X25519File: Decodable {
        struct Mult: Decodable { let name, scalar, u, output: String }
        struct DH: Decodable {
            let alice_private, alice_public, bob_private, bob_public, shared: String
        }
        let scalarmult: [Mult]
        let dh: DH
    }

    @Test("RFC 7748 X25519: scalar multiplication and Diffie-Hellman")
    func x25519() throws {
        let file = try loadVectors("x25519", as: X25519File.self)
        #expect(file.scalarmult.count == 2)
        for vector in file.scalarmult {
            #expect(try X25519.scalarMult(scalar: try hex(vector.scalar), u: try hex(vector.u)) == (try hex(vector.output)), "\(vector.name)")
        }
        let alice = try EncryptionKeyPair(secretKey: SecureBytes(copying: try hex(file.dh.alice_private)))
        let bob = try EncryptionKeyPair(secretKey: SecureBytes(copying: try hex(file.dh.bob_private)))
        #expect(alice.publicKey.rawValue == (try hex(file.dh.alice_public)))
        #expect(bob.publicKey.rawValue == (try hex(file.dh.bob_public)))
        #expect(try X25519.scalarMult(scalar: try hex(file.dh.alice_private), u: bob.publicKey.rawValue) == (try hex(file.dh.shared)))
        #expect(try X25519.scalarMult(scalar: try hex(file.dh.bob_private), u: alice.publicKey.rawValue) == (try hex(file.dh.shared)))
    }

    struct AEADFile: Decodable {
        struct Case: Decodable { let name, key, nonce, aad, plaintext, ciphertext, tag: String }
        let cases: [Case]
    }

    @Test("draft-irtf-cfrg-xchacha XChaCha20-Poly1305: seal and open")
    func xchacha20poly1305() throws {
        let file = try loadVectors("xchacha20poly1305", as: AEADFile.self)
        #expect(!file.cases.isEmpty)
        for vector in file.cases {
            let key = try SymmetricKey(bytes: SecureBytes(copying: try hex(vector.key)))
            let sealed = try AEAD.seal(try hex(vector.plaintext), associatedData: try hex(vector.aad), key: key, nonce: try hex(vector.nonce))
            #expect(sealed == (try hex(vector.ciphertext)) + (try hex(vector.tag)), "\(vector.name)")
            let opened = try AEAD.open(sealed, associatedData: try hex(vector.aad), key: key, nonce: try hex(vector.nonce), what: "vector")
            #expect(opened.unprotectedCopy() == (try hex(vector.plaintext)))
        }
    }

    struct Argon2File: Decodable {
        struct Case: Decodable {
            let name, password, salt, output: String
            let opslimit: UInt64
            let memlimit: UInt64
        }
        let cases: [Case]
    }

    @Test("Argon2id (libsodium's vectors and an independent implementation)")
    func argon2id() throws {
        let file = try loadVectors("argon2id", as: Argon2File.self)
        #expect(file.cases.count >= 4)
        for vector in file.cases {
            let expected = try hex(vector.output)
            let output = try PasswordKDF.derive(passphrase: SecureBytes(copying: try hex(vector.password)), salt: try hex(vector.salt),
                                                opsLimit: vector.opslimit, memLimit: vector.memlimit, outputLength: expected.count)
            #expect(output.unprotectedCopy() == expected, "\(vector.name)")
        }
    }

    struct HashFile: Decodable {
        struct Case: Decodable { let name, message, digest: String; let `repeat`: Int }
        let cases: [Case]
    }

    @Test("NIST SHA-256, streamed in uneven pieces")
    func sha256() throws {
        let file = try loadVectors("sha256", as: HashFile.self)
        #expect(file.cases.count >= 4)
        for vector in file.cases {
            let piece = try hex(vector.message)
            var stream = SHA256Stream()
            var remaining = vector.`repeat`
            // Feed in batches of up to 1000 repetitions so the million-'a' case streams.
            while remaining > 0 {
                let batch = min(remaining, 1000)
                stream.update(Array([[UInt8]](repeating: piece, count: batch).joined()))
                remaining -= batch
            }
            #expect(stream.finalize() == (try hex(vector.digest)), "\(vector.name)")
        }
    }

    struct Blake2File: Decodable {
        struct Case: Decodable { let name, key, message, output: String }
        let cases: [Case]
    }

    @Test("BLAKE2b keyed reference vectors")
    func blake2bKeyed() throws {
        let file = try loadVectors("blake2b_keyed", as: Blake2File.self)
        #expect(file.cases.count >= 5)
        for vector in file.cases {
            let expected = try hex(vector.output)
            let output = try KeyedHash.blake2b(try hex(vector.message), key: SecureBytes(copying: try hex(vector.key)), outputLength: expected.count)
            #expect(output == expected, "\(vector.name)")
        }
    }
}
