import Foundation
import Testing
@testable import VaultCrypto

/// THREATS.md section A at the primitive level: each chunk is authenticated,
/// ordered, and the stream must end with exactly one FINAL chunk.
@Suite("Secretstream")
struct SecretStreamTests {
    static let chunkLength = 64

    struct Sealed {
        var header: [UInt8]
        var chunks: [[UInt8]]
    }

    /// Encrypts `plaintext` in `chunkLength` pieces (an empty input is one empty FINAL chunk).
    func seal(_ plaintext: [UInt8], key: SymmetricKey) throws -> Sealed {
        let encryptor = try SecretStreamEncryptor(key: key, maxChunkLength: Self.chunkLength)
        var chunks: [[UInt8]] = []
        var offset = 0
        repeat {
            let end = min(offset + Self.chunkLength, plaintext.count)
            let isFinal = end == plaintext.count
            let piece = Array(plaintext[offset..<end])
            try piece.withUnsafeBytes { buffer in
                try encryptor.push(buffer, isFinal: isFinal) { chunks.append(Array($0)) }
            }
            offset = end
        } while offset < plaintext.count
        return Sealed(header: encryptor.header, chunks: chunks)
    }

    func open(_ sealed: Sealed, key: SymmetricKey) throws -> [UInt8] {
        let decryptor = try SecretStreamDecryptor(key: key, header: sealed.header, maxChunkLength: Self.chunkLength)
        var plaintext: [UInt8] = []
        for chunk in sealed.chunks {
            try chunk.withUnsafeBytes { buffer in
                try decryptor.pull(buffer) { piece, _ in plaintext.append(contentsOf: piece) }
            }
        }
        try decryptor.finish()
        return plaintext
    }

    func sample(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) } }

    @Test("round-trips sizes 0, 1, chunk-1, chunk, chunk+1 and multiples",
          arguments: [0, 1, chunkLength - 1, chunkLength, chunkLength + 1, 3 * chunkLength, 5 * chunkLength + 17])
    func roundTrip(size: Int) throws {
        let key = try SymmetricKey.random()
        let plaintext = sample(size)
        #expect(try open(seal(plaintext, key: key), key: key) == plaintext)
    }

    @Test("A1: a flipped bit in the header or any chunk is rejected, naming the chunk")
    func flippedBitsAreRejected() throws {
        let key = try SymmetricKey.random()
        let sealed = try seal(sample(3 * Self.chunkLength + 5), key: key)
        for index in sealed.header.indices {
            var bad = sealed
            bad.header[index] ^= 0x01
            #expect(throws: CryptoError.streamChunkRejected(chunk: 0)) { try open(bad, key: key) }
        }
        for chunk in sealed.chunks.indices {
            for index in sealed.chunks[chunk].indices {  // tag byte, body and MAC
                var bad = sealed
                bad.chunks[chunk][index] ^= 0x80
                #expect(throws: CryptoError.streamChunkRejected(chunk: chunk)) { try open(bad, key: key) }
            }
        }
    }

    @Test("A2: swapped, dropped and duplicated chunks are rejected")
    func reorderedChunksAreRejected() throws {
        let key = try SymmetricKey.random()
        let sealed = try seal(sample(4 * Self.chunkLength), key: key)
        var swapped = sealed
        swapped.chunks.swapAt(1, 2)
        #expect(throws: CryptoError.streamChunkRejected(chunk: 1)) { try open(swapped, key: key) }
        var dropped = sealed
        dropped.chunks.remove(at: 1)
        #expect(throws: CryptoError.streamChunkRejected(chunk: 1)) { try open(dropped, key: key) }
        var duplicated = sealed
        duplicated.chunks.insert(sealed.chunks[1], at: 2)
        #expect(throws: CryptoError.streamChunkRejected(chunk: 2)) { try open(duplicated, key: key) }
    }

    @Test("A3: truncation at every chunk boundary, including dropping FINAL, is reported as truncated")
    func truncationIsRejected() throws {
        let key = try SymmetricKey.random()
        let sealed = try seal(sample(4 * Self.chunkLength), key: key)
        for kept in 0..<sealed.chunks.count {
            var truncated = sealed
            truncated.chunks = Array(sealed.chunks.prefix(kept))
            #expect(throws: CryptoError.streamTruncated(chunksRead: kept)) { try open(truncated, key: key) }
        }
    }

    @Test("A4: data after the final chunk, and a second final chunk, are rejected")
    func dataAfterFinalIsRejected() throws {
        let key = try SymmetricKey.random()
        let sealed = try seal(sample(2 * Self.chunkLength), key: key)
        var extended = sealed
        extended.chunks.append([1, 2, 3])
        #expect(throws: CryptoError.streamDataAfterFinal(chunk: 2)) { try open(extended, key: key) }
        var twoFinals = sealed
        twoFinals.chunks.append(sealed.chunks[1])
        #expect(throws: CryptoError.streamDataAfterFinal(chunk: 2)) { try open(twoFinals, key: key) }
        // The encryptor refuses to continue after FINAL, too.
        let encryptor = try SecretStreamEncryptor(key: key, maxChunkLength: Self.chunkLength)
        try [UInt8]().withUnsafeBytes { try encryptor.push($0, isFinal: true) { _ in } }
        #expect(throws: CryptoError.streamAlreadyFinished) {
            try [UInt8]().withUnsafeBytes { try encryptor.push($0, isFinal: true) { _ in } }
        }
    }

    @Test("A5: a zeroed chunk is rejected")
    func zeroedChunkIsRejected() throws {
        let key = try SymmetricKey.random()
        let sealed = try seal(sample(3 * Self.chunkLength), key: key)
        for chunk in sealed.chunks.indices {
            var bad = sealed
            bad.chunks[chunk] = [UInt8](repeating: 0, count: sealed.chunks[chunk].count)
            #expect(throws: CryptoError.streamChunkRejected(chunk: chunk)) { try open(bad, key: key) }
        }
    }

    @Test("A6: chunks or a header transplanted from another stream are rejected")
    func transplantsAreRejected() throws {
        let key = try SymmetricKey.random()
        let a = try seal(sample(3 * Self.chunkLength), key: key)
        let b = try seal(sample(3 * Self.chunkLength), key: key)  // same key, same plaintext: the worst case
        var chunkFromB = a
        chunkFromB.chunks[1] = b.chunks[1]
        #expect(throws: CryptoError.streamChunkRejected(chunk: 1)) { try open(chunkFromB, key: key) }
        var headerFromB = a
        headerFromB.header = b.header
        #expect(throws: CryptoError.streamChunkRejected(chunk: 0)) { try open(headerFromB, key: key) }
        #expect(throws: CryptoError.streamChunkRejected(chunk: 0)) { try open(a, key: try SymmetricKey.random()) }
    }

    @Test("A10: encrypting the same input twice gives different headers and ciphertexts")
    func encryptionIsRandomised() throws {
        let key = try SymmetricKey.random()
        let a = try seal(sample(100), key: key)
        let b = try seal(sample(100), key: key)
        #expect(a.header != b.header)
        #expect(a.chunks != b.chunks)
    }

    @Test("associated data is bound to each chunk")
    func associatedDataIsBound() throws {
        let key = try SymmetricKey.random()
        let encryptor = try SecretStreamEncryptor(key: key, maxChunkLength: 16)
        let chunk = try [UInt8](repeating: 5, count: 16).withUnsafeBytes {
            try encryptor.push($0, isFinal: true, additionalData: [9]) { Array($0) }
        }
        let decryptor = try SecretStreamDecryptor(key: key, header: encryptor.header, maxChunkLength: 16)
        #expect(throws: CryptoError.streamChunkRejected(chunk: 0)) {
            try chunk.withUnsafeBytes { try decryptor.pull($0, additionalData: [8]) { _, _ in } }
        }
    }

    @Test("oversized chunks are refused before decryption")
    func oversizedChunkIsRefused() throws {
        let key = try SymmetricKey.random()
        let decryptor = try SecretStreamDecryptor(key: key, header: [UInt8](repeating: 0, count: SecretStream.headerLength), maxChunkLength: 16)
        #expect(throws: CryptoError.streamChunkTooLarge(chunk: 0, length: 100, maximum: 16)) {
            try [UInt8](repeating: 0, count: 100 + SecretStream.chunkOverhead).withUnsafeBytes { try decryptor.pull($0) { _, _ in } }
        }
        #expect(throws: CryptoError.self) { try SecretStreamDecryptor(key: key, header: [1, 2, 3], maxChunkLength: 16) }
    }
}
