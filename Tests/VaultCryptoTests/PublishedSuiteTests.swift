import Foundation
import Testing
@testable import VaultCrypto

/// The published suites, every case through VaultCrypto's own types, against the
/// policy FORMAT.md §1 states (sources: Vectors/README.md).
///
/// Each test prints its case counts and asserts them, so a suite that silently
/// shrank (a bad copy, a changed file) fails instead of passing on fewer cases.
@Suite("Published vector suites (Wycheproof, CCTV)")
struct PublishedSuiteTests {
    // MARK: - Wycheproof file layout

    struct WycheproofFile<Group: Decodable>: Decodable {
        let algorithm: String
        let numberOfTests: Int
        let testGroups: [Group]
    }

    struct AEADGroup: Decodable {
        struct Case: Decodable {
            let tcId: Int
            let flags: [String]
            let key, iv, aad, msg, ct, tag, result: String
        }
        let tests: [Case]
    }

    struct X25519Group: Decodable {
        struct Case: Decodable {
            let tcId: Int
            let flags: [String]
            let `public`, `private`, shared, result: String
        }
        let tests: [Case]
    }

    struct Ed25519Group: Decodable {
        struct Key: Decodable { let pk: String }
        struct Case: Decodable {
            let tcId: Int
            let flags: [String]
            let msg, sig, result: String
        }
        let publicKey: Key
        let tests: [Case]
    }

    // MARK: - XChaCha20-Poly1305

    @Test("Wycheproof XChaCha20-Poly1305: 315 cases, every verdict as published")
    func xchacha20Poly1305() throws {
        let file = try loadVectors("wycheproof/xchacha20_poly1305_test", as: WycheproofFile<AEADGroup>.self)
        let cases = file.testGroups.flatMap(\.tests)
        var accepted = 0, refused = 0, refusedForNonceLength = 0
        for vector in cases {
            let key = try SymmetricKey(bytes: SecureBytes(copying: try hex(vector.key)))
            let nonce = try hex(vector.iv), aad = try hex(vector.aad)
            let sealed = try hex(vector.ct) + (try hex(vector.tag))
            let expectValid = vector.result == "valid"
            if nonce.count != AEAD.nonceLength {
                // The API takes only 24-byte nonces: such a case can be refused, never opened.
                #expect(!expectValid, "tcId \(vector.tcId): a valid case with a \(nonce.count)-byte nonce")
                #expect(throws: CryptoError.self) {
                    try AEAD.open(sealed, associatedData: aad, key: key, nonce: nonce, what: "vector")
                }
                refused += 1
                refusedForNonceLength += 1
                continue
            }
            // The public box form (nonce || ciphertext || tag) is what the vault stores.
            let opened = try? AEAD.open(nonce + sealed, associatedData: aad, key: key, what: "vector")
            if expectValid {
                #expect(opened?.unprotectedCopy() == (try hex(vector.msg)), "tcId \(vector.tcId): plaintext")
                #expect(try AEAD.seal(try hex(vector.msg), associatedData: aad, key: key, nonce: nonce) == sealed,
                        "tcId \(vector.tcId): ciphertext and tag")
                accepted += 1
            } else {
                #expect(opened == nil, "tcId \(vector.tcId): an invalid box opened")
                refused += 1
            }
        }
        print("Wycheproof XChaCha20-Poly1305: \(cases.count) cases, \(accepted) opened, \(refused) refused (\(refusedForNonceLength) for a nonce that is not 24 bytes)")
        #expect(cases.count == 315 && cases.count == file.numberOfTests)
        #expect(accepted == 246)
        #expect(refused == 69)
        #expect(refusedForNonceLength == 9)
    }

    // MARK: - X25519

    @Test("Wycheproof X25519: 518 cases, refused exactly where the shared secret is all zero")
    func x25519() throws {
        let file = try loadVectors("wycheproof/x25519_test", as: WycheproofFile<X25519Group>.self)
        let cases = file.testGroups.flatMap(\.tests)
        var computed = 0
        var refused: [Int] = []
        var mustRefuse: [Int] = []
        for vector in cases {
            let publicBytes = try hex(vector.public), shared = try hex(vector.shared)
            if shared.allSatisfy({ $0 == 0 }) { mustRefuse.append(vector.tcId) }
            // The policy (FORMAT.md §1): a low-order public key is refused when parsed.
            guard (try? EncryptionPublicKey(rawValue: publicBytes)) != nil else {
                refused.append(vector.tcId)
                // libsodium itself refuses the multiplication too.
                #expect(throws: CryptoError.self) { try X25519.scalarMult(scalar: try hex(vector.private), u: publicBytes) }
                continue
            }
            // Valid and "acceptable" cases (twist points, non-canonical u) compute the published secret.
            #expect(try X25519.scalarMult(scalar: try hex(vector.private), u: publicBytes) == shared,
                    "tcId \(vector.tcId) \(vector.flags): shared secret")
            computed += 1
        }
        print("Wycheproof X25519: \(cases.count) cases, \(computed) computed, \(refused.count) refused (low-order public key, all-zero shared secret)")
        #expect(cases.count == 518 && cases.count == file.numberOfTests)
        #expect(refused == mustRefuse, "refusals outside the policy, or low-order points let through")
        #expect(refused.count == 31)
        #expect(computed == 487)
    }

    // MARK: - Ed25519

    @Test("Wycheproof Ed25519: 151 cases, exactly the valid ones accepted")
    func ed25519() throws {
        let file = try loadVectors("wycheproof/ed25519_test", as: WycheproofFile<Ed25519Group>.self)
        var accepted = 0, refused = 0, total = 0
        for group in file.testGroups {
            let key = try SigningPublicKey(rawValue: try hex(group.publicKey.pk))
            for vector in group.tests {
                total += 1
                let verdict = key.isValidSignature(try hex(vector.sig), overExactly: try hex(vector.msg))
                #expect(verdict == (vector.result == "valid"), "tcId \(vector.tcId) \(vector.flags)")
                if verdict { accepted += 1 } else { refused += 1 }
            }
        }
        print("Wycheproof Ed25519: \(total) cases, \(accepted) accepted, \(refused) refused")
        #expect(total == 151 && total == file.numberOfTests)
        #expect(accepted == 88)
        #expect(refused == 63)
    }

    // MARK: - CCTV Ed25519 edge cases

    struct CCTVCase: Decodable {
        let number: Int
        let key, sig, msg: String
        let flags: [String]?
    }

    /// The CCTV flags FORMAT.md §1's signature policy refuses; a vector is accepted
    /// exactly when it carries none of them.
    static let refusedFlags: Set<String> = [
        "low_order_A", "low_order_component_A", "non_canonical_A",  // the key must be a canonical prime-order point
        "low_order_R", "non_canonical_R",                           // R must be a canonical point, not of small order
        "low_order_residue",                                        // the equation is checked without the cofactor
    ]

    @Test("CCTV Ed25519: the 914 edge cases accepted exactly as the signature policy says, as a set")
    func cctvEd25519() throws {
        let vectors = try loadVectors("cctv-ed25519/ed25519vectors", as: [CCTVCase].self)
        var accepted = Set<Int>(), allowed = Set<Int>(), libsodiumAloneAccepts = Set<Int>()
        for vector in vectors {
            let keyBytes = try hex(vector.key), signature = try hex(vector.sig)
            let message = Array(vector.msg.utf8)
            if Self.refusedFlags.isDisjoint(with: vector.flags ?? []) { allowed.insert(vector.number) }
            if Ed25519Raw.verify(signature, message: message, publicKey: keyBytes) { libsodiumAloneAccepts.insert(vector.number) }
            // VaultCrypto's path: parse the key (refusing what the policy refuses), then verify.
            guard let key = try? SigningPublicKey(rawValue: keyBytes) else { continue }
            if key.isValidSignature(signature, overExactly: message) { accepted.insert(vector.number) }
        }
        print("CCTV Ed25519: \(vectors.count) vectors, \(accepted.count) accepted \(accepted.sorted()), policy allows \(allowed.sorted()); libsodium without the key check would accept \(libsodiumAloneAccepts.count)")
        #expect(vectors.count == 914)
        #expect(accepted == allowed)
        #expect(accepted == [305])
        // The key check is what refuses mixed-order keys: every vector libsodium's
        // verify alone accepts beyond the policy has a low-order component in A.
        let byNumber = Dictionary(uniqueKeysWithValues: vectors.map { ($0.number, $0) })
        let onlyWithoutKeyCheck = libsodiumAloneAccepts.subtracting(accepted)
        #expect(onlyWithoutKeyCheck.count == 42)
        #expect(onlyWithoutKeyCheck.allSatisfy { byNumber[$0]?.flags?.contains("low_order_component_A") == true })
    }
}
