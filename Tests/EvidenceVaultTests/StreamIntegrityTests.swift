import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md section A against stored documents: every failure names the
/// document (and chunk), and leaves nothing at the destination.
@Suite("Stream integrity (THREATS.md A)")
struct StreamIntegrityTests {
    static let chunk = Int(BlobHeader.defaultChunkLength)
    static let sealedChunk = chunk + SecretStream.chunkOverhead

    /// Offset of chunk `index` in a blob.
    func offset(ofChunk index: Int) -> Int { BlobHeader.length + index * Self.sealedChunk }

    /// Decrypts `blob` (already written in place of the document's blob) with a
    /// record that agrees with its size and hash, as an attacker who could also
    /// rewrite the ledger entry would arrange: isolates the stream checks.
    func decryptForged(_ env: TestVault, _ document: DocumentSummary, blob: [UInt8]) throws {
        let state = try env.vault.replay()
        let stored = try #require(state.documents[document.id])
        let (key, metadata, r) = try env.vault.keyRing(for: env.lawyer, state: state).documentKeyAndMetadata(stored, to: "test")
        let forgedHash = SHA256Stream.hash(blob)
        try Data(blob).write(to: URL(fileURLWithPath: "\(env.blobFolder)/\(Hex.encode(forgedHash))"))
        let forged = DocumentRecord(documentID: r.documentID, caseID: r.caseID, version: r.version, generation: r.generation,
                                    wrappedKey: r.wrappedKey, blobHash: forgedHash, blobSize: UInt64(blob.count), sealedMetadata: r.sealedMetadata)
        _ = try DocumentStream.decrypt(record: forged, metadata: metadata, key: key, store: env.vault.blobs,
                                       outputFolder: FolderHandle(path: env.folder.path, followingLink: true, what: "test folder"), calls: POSIXCalls())
    }

    /// Docs/FORMAT.md §7: the vector was computed with Python's hashlib, independently of our code.
    @Test("plaintext commitment, version 2: SHA-256(salt || SHA-256(plaintext)), vector and what a new document records")
    func commitmentVersion2() throws {
        let salt = (0..<32).map { UInt8($0) }
        let sha = SHA256Stream.hash(Array("The quick brown fox jumps over the lazy dog".utf8))
        #expect(Hex.encode(sha) == "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
        #expect(Hex.encode(DocumentMetadata.commitment(salt: salt, plaintextSHA256: sha))
                == "95bcff598eb325844f677b218a2bc007c642682ca5a467cb706c67f023344632")

        let env = try TestVault()
        let content = sampleBytes(3 * Self.chunk + 5, seed: 7)
        let document = try env.add(content)
        let metadata = try #require(try env.vault.document(document.id.hex, as: env.lawyer).metadata)
        #expect(metadata.version == 2)
        #expect(metadata.plaintextCommitment == DocumentMetadata.commitment(salt: metadata.commitmentSalt, plaintextSHA256: SHA256Stream.hash(content)))
        #expect(try env.export(document.id) == content)
    }

    /// A commitment is checked by the rule of its own metadata version: a
    /// version-2 commitment relabelled as version 1, or the reverse, fails.
    @Test("a commitment read under the other version's rule is refused")
    func commitmentVersionConfusion() throws {
        let env = try TestVault()
        let content = sampleBytes(Self.chunk + 9, seed: 8)
        let document = try env.add(content)
        let state = try env.vault.replay()
        let stored = try #require(state.documents[document.id])
        let (key, metadata, record) = try env.vault.keyRing(for: env.lawyer, state: state).documentKeyAndMetadata(stored, to: "test")
        let decrypted = try DocumentStream.decrypt(record: record, metadata: metadata, key: key, store: env.vault.blobs,
                                                   outputFolder: nil, calls: POSIXCalls(), checkingBlobHash: true)
        #expect(decrypted.plaintextSHA256 == SHA256Stream.hash(content))
        let relabelled = DocumentMetadata(fileName: metadata.fileName, title: metadata.title, kind: metadata.kind, tags: metadata.tags,
                                          size: metadata.size, commitmentSalt: metadata.commitmentSalt,
                                          plaintextCommitment: metadata.plaintextCommitment, version: 1)
        expectVaultError(.integrity, "plaintext commitment") {
            _ = try DocumentStream.decrypt(record: record, metadata: relabelled, key: key, store: env.vault.blobs, outputFolder: nil, calls: POSIXCalls())
        }
        var legacy = SHA256Stream()
        legacy.update(metadata.commitmentSalt)
        legacy.update(content)
        let legacyCommitment = DocumentMetadata(fileName: metadata.fileName, title: metadata.title, kind: metadata.kind, tags: metadata.tags,
                                                size: metadata.size, commitmentSalt: metadata.commitmentSalt,
                                                plaintextCommitment: legacy.finalize(), version: 2)
        expectVaultError(.integrity, "plaintext commitment") {
            _ = try DocumentStream.decrypt(record: record, metadata: legacyCommitment, key: key, store: env.vault.blobs, outputFolder: nil, calls: POSIXCalls())
        }
        // The same commitment under its own rule opens.
        let asVersion1 = DocumentMetadata(fileName: metadata.fileName, title: metadata.title, kind: metadata.kind, tags: metadata.tags,
                                          size: metadata.size, commitmentSalt: metadata.commitmentSalt,
                                          plaintextCommitment: legacy.finalize(), version: 1)
        #expect(try DocumentStream.decrypt(record: record, metadata: asVersion1, key: key, store: env.vault.blobs, outputFolder: nil,
                                           calls: POSIXCalls()).plaintextSHA256 == SHA256Stream.hash(content))
    }

    @Test("A8: sizes 0, 1, chunk-1, chunk, chunk+1 and multiples round-trip",
          arguments: [0, 1, chunk - 1, chunk, chunk + 1, 2 * chunk, 8 * chunk, 9 * chunk + 3, 33 * chunk + 1])
    func roundTrip(size: Int) throws {
        let env = try TestVault()
        let content = sampleBytes(size, seed: UInt64(size))
        let document = try env.add(content)
        #expect(document.blobSize == BlobHeader.blobSize(plaintextSize: UInt64(size), chunkLength: BlobHeader.defaultChunkLength))
        #expect(try env.export(document.id) == content)
        #expect(env.findings().isEmpty)
    }

    @Test("A1: a flipped bit in the header, or in any chunk body or tag, is rejected naming the chunk")
    func flippedBits() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(3 * Self.chunk + 100))
        let original = try env.readBlob(document)
        for position in [5, 20, 40, 60, 85] {  // type, id, chunk length, stream header, commitment
            var bad = original
            bad[position] ^= 0x01
            try env.writeBlob(document, bad)
            expectVaultError(.integrity, document.id.hex) { _ = try env.export(document.id) }
        }
        for chunk in 0..<4 {
            let start = offset(ofChunk: chunk)
            let end = min(start + Self.sealedChunk, original.count)
            for position in [start, start + 1, start + (end - start) / 2, end - 16, end - 1] {  // tag byte, body, MAC
                var bad = original
                bad[position] ^= 0x40
                try env.writeBlob(document, bad)
                expectVaultError(.integrity, document.id.hex, "chunk \(chunk) failed authentication") { _ = try env.export(document.id) }
                // Verify (no key) names the document too.
                #expect(env.findings().contains { $0.contains(document.id.hex) && $0.contains("SHA-256") })
            }
        }
        #expect(try env.filesInScratch().allSatisfy { !$0.hasPrefix("export-") }, "no plaintext left behind")
        try env.writeBlob(document, original)
        #expect(try env.export(document.id).count == 3 * Self.chunk + 100)
    }

    @Test("A2: swapped, dropped and duplicated chunks are rejected")
    func reorderedChunks() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(4 * Self.chunk))
        let blob = try env.readBlob(document)
        func chunk(_ i: Int) -> ArraySlice<UInt8> { blob[offset(ofChunk: i)..<min(offset(ofChunk: i + 1), blob.count)] }
        let header = Array(blob.prefix(BlobHeader.length))
        let swapped = header + chunk(0) + chunk(2) + chunk(1) + chunk(3)
        #expect(throws: VaultError.self) { try decryptForged(env, document, blob: swapped) }
        try env.writeBlob(document, swapped)
        expectVaultError(.integrity, "chunk 1 failed authentication") { _ = try env.export(document.id) }
        let dropped = header + chunk(0) + chunk(2) + chunk(3)
        expectVaultError(.integrity, "chunk 1 failed authentication") { try decryptForged(env, document, blob: dropped) }
        let duplicated = header + chunk(0) + chunk(1) + chunk(1) + chunk(2) + chunk(3)
        expectVaultError(.integrity, "chunk 2 failed authentication") { try decryptForged(env, document, blob: duplicated) }
        try env.writeBlob(document, dropped)
        expectVaultError(.integrity, "truncated or extended") { _ = try env.export(document.id) }
    }

    @Test("A3: truncation at every chunk boundary, including the final chunk, is rejected as truncated")
    func truncation() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(4 * Self.chunk + 10))
        let blob = try env.readBlob(document)
        for kept in 0...4 {
            let truncated = Array(blob.prefix(offset(ofChunk: kept)))
            expectVaultError(.integrity, kept == 0 ? "truncated" : "stream is truncated") { try decryptForged(env, document, blob: truncated) }
            try env.writeBlob(document, truncated)
            expectVaultError(.integrity, document.id.hex, "truncated") { _ = try env.export(document.id) }
        }
    }

    @Test("A4: bytes after the final chunk, and a second final chunk, are rejected")
    func dataAfterFinal() throws {
        let env = try TestVault()
        // Final chunk of full length: appended bytes start a chunk of their own.
        let document = try env.add(sampleBytes(2 * Self.chunk))
        let blob = try env.readBlob(document)
        expectVaultError(.integrity, "unexpected data at chunk 2, after the final chunk") { try decryptForged(env, document, blob: blob + [1, 2, 3]) }
        let lastChunk = Array(blob[offset(ofChunk: 1)...])
        expectVaultError(.integrity, "after the final chunk") { try decryptForged(env, document, blob: blob + lastChunk) }
        try env.writeBlob(document, blob + [0])
        expectVaultError(.integrity, "truncated or extended") { _ = try env.export(document.id) }
        // Short final chunk: appended bytes merge into it and it fails authentication.
        let short = try env.add(sampleBytes(Self.chunk + 5), name: "short.bin")
        expectVaultError(.integrity, "chunk 1 failed authentication") { try decryptForged(env, short, blob: try env.readBlob(short) + [9]) }
    }

    @Test("A5: a zeroed chunk is rejected")
    func zeroedChunk() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(3 * Self.chunk))
        var blob = try env.readBlob(document)
        for index in offset(ofChunk: 1)..<offset(ofChunk: 2) { blob[index] = 0 }
        try env.writeBlob(document, blob)
        expectVaultError(.integrity, "chunk 1 failed authentication") { _ = try env.export(document.id) }
    }

    @Test("A6: a chunk or the stream header transplanted from another document is rejected")
    func transplants() throws {
        let env = try TestVault()
        let content = sampleBytes(3 * Self.chunk)
        let a = try env.add(content, name: "a.bin")
        let b = try env.add(content, name: "b.bin")  // same plaintext: the worst case
        let blobA = try env.readBlob(a), blobB = try env.readBlob(b)
        var chunkFromB = blobA
        chunkFromB.replaceSubrange(offset(ofChunk: 1)..<offset(ofChunk: 2), with: blobB[offset(ofChunk: 1)..<offset(ofChunk: 2)])
        try env.writeBlob(a, chunkFromB)
        expectVaultError(.integrity, a.id.hex, "chunk 1 failed authentication") { _ = try env.export(a.id) }
        var headerFromB = blobA
        headerFromB.replaceSubrange(0..<BlobHeader.length, with: blobB[0..<BlobHeader.length])
        try env.writeBlob(a, headerFromB)
        expectVaultError(.integrity, a.id.hex, "another document") { _ = try env.export(a.id) }
        var streamHeaderFromB = blobA  // only the secretstream header and commitment, keeping A's id
        streamHeaderFromB.replaceSubrange(30..<BlobHeader.length, with: blobB[30..<BlobHeader.length])
        try env.writeBlob(a, streamHeaderFromB)
        expectVaultError(.integrity, a.id.hex, "key commitment") { _ = try env.export(a.id) }
    }

    @Test("A7: two complete valid blobs swapped on disk are detected")
    func swappedBlobs() throws {
        let env = try TestVault()
        let a = try env.add(sampleBytes(1000, seed: 1), name: "a.bin")
        let b = try env.add(sampleBytes(1000, seed: 2), name: "b.bin")
        let blobA = try env.readBlob(a), blobB = try env.readBlob(b)
        try env.writeBlob(a, blobB)
        try env.writeBlob(b, blobA)
        let findings = env.findings()
        #expect(findings.contains { $0.contains(a.id.hex) })
        #expect(findings.contains { $0.contains(b.id.hex) })
        expectVaultError(.integrity, a.id.hex, "another document") { _ = try env.export(a.id) }
    }

    @Test("A10: the same file added twice gets different keys, headers and ciphertexts")
    func randomisedEncryption() throws {
        let env = try TestVault()
        let content = sampleBytes(5000)
        let a = try env.add(content, name: "same.bin")
        let b = try env.add(content, name: "same.bin")
        #expect(a.blobHash != b.blobHash)
        let blobA = try env.readBlob(a), blobB = try env.readBlob(b)
        #expect(blobA[30..<BlobHeader.length] != blobB[30..<BlobHeader.length], "stream headers and commitments differ")
        #expect(blobA[BlobHeader.length...] != blobB[BlobHeader.length...])
        let state = try env.vault.replay()
        let fields = env.vault.sealedFields(state)
        #expect(try fields.record(of: #require(state.documents[a.id])).wrappedKey != fields.record(of: #require(state.documents[b.id])).wrappedKey)
    }

    @Test("A8: one file larger than 4 GiB round-trips (opt-in: EVAULT_LARGE_TESTS=1)",
          .enabled(if: ProcessInfo.processInfo.environment["EVAULT_LARGE_TESTS"] == "1"))
    func largerThan4GiB() throws {
        let env = try TestVault()
        let path = env.folder.file("sparse.bin")
        let size: UInt64 = (4 << 30) + 12345
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: size)
        try handle.seek(toOffset: size - 5)
        try handle.write(contentsOf: Data([1, 2, 3, 4, 5]))
        try handle.close()
        let document = try env.vault.addDocuments([NewDocument(path: path, kind: .video)], toCase: "CASE-1", as: env.lawyer)[0]
        let out = env.folder.file("large-out")
        _ = try env.vault.export(document.id.hex, to: out, as: env.lawyer)
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.size] as? NSNumber)?.uint64Value == size)
        let tail = try FileHandle(forReadingFrom: URL(fileURLWithPath: out))
        try tail.seek(toOffset: size - 5)
        #expect(try tail.readToEnd() == Data([1, 2, 3, 4, 5]))
    }
}
