import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md 40 in miniature: every parser gets random and mutated input and
/// must answer with an error, never a crash, and never allocate from a length
/// field before checking it against the bytes present.
@Suite("Parser fuzzing")
struct ParserFuzzTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state ^ (state >> 29)
        }
    }

    /// Valid samples of each structure, made fresh.
    func samples() throws -> [(String, [UInt8])] {
        let identity = try UnlockedIdentity.generate(name: "fuzz")
        let event = try Event(sequence: 0, previousHash: [UInt8](repeating: 0, count: 32), time: 1, signer: identity,
                              body: .genesis(vaultID: try .random(), creator: identity.publicIdentity))
        let member = try Event(sequence: 1, previousHash: event.hash, time: 2, signer: identity,
                               body: .memberAdded(groupID: try .random(), member: identity.publicIdentity, role: .lawyer, epoch: 1, wrap: [1, 2, 3]))
        let key = try DocumentKey.random()
        let header = try BlobHeader(documentID: try .random(), documentVersion: 1, chunkLength: 65536,
                                    streamHeader: try Random.bytes(24), key: key)
        let metadata = DocumentMetadata(fileName: "a.txt", title: "t", kind: .photo, tags: ["x", "y"], size: 3,
                                        commitmentSalt: try Random.bytes(32), plaintextCommitment: try Random.bytes(32))
        let identityFile = try fixture("identity-v1/alice.identity")
        return [("public identity", identity.publicIdentity.encoded()), ("event", event.encoded), ("member event", member.encoded),
                ("blob header", header.encoded()), ("metadata", metadata.encoded()), ("identity file", identityFile)]
    }

    /// Runs every decoder on `bytes`; any of them may fail, none may crash.
    func decodeAll(_ bytes: [UInt8]) {
        _ = try? PublicIdentity.decode(bytes)
        _ = try? LockedIdentity(bytes: bytes)
        _ = try? Event.decode(bytes)
        _ = try? BlobHeader.decode(bytes, structure: "blob")
        _ = try? DocumentMetadata.decode(bytes, structure: "metadata")
    }

    @Test("mutated valid structures and random bytes never crash a parser")
    func mutations() throws {
        var generator = Generator(state: 0x5EED)
        let samples = try self.samples()
        var rejected = 0
        for round in 0..<4000 {
            var bytes = samples[round % samples.count].1
            switch round % 5 {
            case 0:  // flip a few bits
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
                }
            case 1:  // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            case 2:  // huge length fields: overwrite a random 4-byte window with 0xff
                let at = Int.random(in: 0..<max(1, bytes.count - 4), using: &generator)
                for index in at..<min(at + 4, bytes.count) { bytes[index] = 0xff }
            case 3:  // extend with junk
                bytes += (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            default:  // random bytes behind a valid prefix
                bytes = Array(bytes.prefix(6)) + (0..<Int.random(in: 0...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            }
            decodeAll(bytes)
            if (try? Event.decode(bytes)) == nil { rejected += 1 }
        }
        #expect(rejected > 3000, "mutations are overwhelmingly rejected")
        // Each valid sample still parses as its own kind (the harness is not vacuous).
        let all = try self.samples()
        #expect(throws: Never.self) { try PublicIdentity.decode(all[0].1) }
        #expect(throws: Never.self) { try Event.decode(all[1].1) }
        #expect(throws: Never.self) { try Event.decode(all[2].1) }
        #expect(throws: Never.self) { try BlobHeader.decode(all[3].1, structure: "blob") }
        #expect(throws: Never.self) { try DocumentMetadata.decode(all[4].1, structure: "metadata") }
    }

    @Test("a length field larger than the input is refused before allocating")
    func hugeLengths() throws {
        var writer = ByteWriter()
        writer.header(.event, version: 1)
        writer.u64(0)
        writer.raw([UInt8](repeating: 0, count: 32))
        writer.u64(0)
        writer.raw([UInt8](repeating: 0, count: 32))
        writer.u8(1)
        writer.u32(UInt32.max)  // body length: 4 GiB
        let error = try #require(throws: FormatError.self) { try Event.decode(writer.bytes) }
        #expect("\(error)".contains("exceeds"))
    }
}
