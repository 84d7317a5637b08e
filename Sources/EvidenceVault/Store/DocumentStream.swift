import Foundation
import VaultCrypto

/// What encrypting a document produced: the blob's name and size, the
/// plaintext's SHA-256 and its (version-2) commitment.
struct EncryptedDocument {
    let blobHash: [UInt8]
    let blobSize: UInt64
    let plaintextSize: UInt64
    let plaintextSHA256: [UInt8]
    let commitmentSalt: [UInt8]
    let plaintextCommitment: [UInt8]
}

/// What decrypting a document produced: the output file (not yet linked, when
/// there is one) and the plaintext's SHA-256, which a court expert can compare
/// with `sha256sum` of the exported file.
struct DecryptedDocument {
    let output: DurableFile?
    let plaintextSHA256: [UInt8]
}

/// Streams documents into and out of blobs with flat memory, on both cores.
///
/// The calling thread reads and encrypts (or authenticates and decrypts)
/// batches of 64 KiB chunks; the other jobs each run on a thread of their own
/// over the same batches (`SlotPipeline`): hashing the plaintext (one SHA-256
/// gives both the court's hash and the commitment, Docs/FORMAT.md §7), hashing
/// the ciphertext (the blob's name; on decryption only when checking a blob,
/// since the stream's authentication and the plaintext commitment already bind
/// every byte an export writes) and writing. Docs/PERFORMANCE.md gives the
/// costs. Buffers are allocated once per stream; plaintext buffers live in `SecureBytes`.
enum DocumentStream {
    static let chunksPerSlot = 8
    static let slotCount = 6

    /// Sets the progress callback's granularity.
    typealias Progress = (_ done: UInt64, _ total: UInt64) -> Void

    private final class Slot {
        let plaintext: SecureBytes
        let ciphertext: UnsafeMutableRawBufferPointer
        var plaintextLength = 0
        var ciphertextLength = 0

        /// Buffers for up to `chunksPerSlot` chunks, but no larger than the document
        /// needs (a 1 KB file does not get 2 MiB of locked memory).
        init(chunkLength: Int, documentBytes: UInt64) throws {
            let full = chunkLength * DocumentStream.chunksPerSlot
            let plaintextCapacity = Int(min(UInt64(full), max(1, documentBytes)))
            plaintext = try SecureBytes(zeroedCount: plaintextCapacity)
            ciphertext = .allocate(byteCount: plaintextCapacity + SecretStream.chunkOverhead * DocumentStream.chunksPerSlot, alignment: 64)
        }

        /// As many slots as the document fills, at most `slotCount`.
        static func ring(chunkLength: Int, documentBytes: UInt64) throws -> [Slot] {
            let perSlot = UInt64(chunkLength * DocumentStream.chunksPerSlot)
            let needed = Int(min(UInt64(DocumentStream.slotCount), max(1, (documentBytes + perSlot - 1) / perSlot)))
            return try (0..<needed).map { _ in try Slot(chunkLength: chunkLength, documentBytes: documentBytes) }
        }

        deinit { ciphertext.deallocate() }
    }

    // MARK: encrypt

    /// Encrypts the regular file at `inputPath` into a new blob of `store`.
    static func encrypt(inputPath: String, documentID: ObjectID, version: UInt32, key: DocumentKey, store: BlobStore,
                        progress: Progress? = nil) throws -> EncryptedDocument {
        let input = try ReadableFile(userPath: inputPath, what: "input file")
        let chunkLength = Int(BlobHeader.defaultChunkLength)
        let encryptor = try SecretStreamEncryptor(key: key.key, maxChunkLength: chunkLength)
        let header = try BlobHeader(documentID: documentID, documentVersion: version, chunkLength: UInt32(chunkLength),
                                    streamHeader: encryptor.header, key: key)
        let salt = try Random.bytes(32)
        var plaintextHash = SHA256Stream()
        var ciphertextHash = SHA256Stream()
        let blob = try store.newBlob()
        let headerBytes = header.encoded()
        try blob.write(headerBytes)
        ciphertextHash.update(headerBytes)

        let totalSize = input.size
        let totalChunks = BlobHeader.chunkCount(plaintextSize: totalSize, chunkLength: UInt32(chunkLength))
        let blobSize = BlobHeader.blobSize(plaintextSize: totalSize, chunkLength: UInt32(chunkLength))
        var chunksDone: UInt64 = 0
        var bytesRead: UInt64 = 0
        var bytesWritten: UInt64 = UInt64(headerBytes.count)
        let slots = try Slot.ring(chunkLength: chunkLength, documentBytes: totalSize)
        let pipeline = SlotPipeline(slots: slots)

        try pipeline.run(produce: { slot in
            slot.ciphertextLength = 0
            let chunksHere = Int(min(UInt64(chunksPerSlot), totalChunks - chunksDone))
            let wanted = Int(min(UInt64(chunksHere * chunkLength), totalSize - bytesRead))
            let got = try slot.plaintext.withUnsafeMutableBytes { try input.readFully(into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted])) }
            guard got == wanted else {
                throw VaultError(.io, "input file \(inputPath) changed while it was being read (it shrank)")
            }
            slot.plaintextLength = got
            bytesRead += UInt64(got)
            try slot.plaintext.withUnsafeBytes { plain in
                var offset = 0
                for index in 0..<chunksHere {
                    let length = min(chunkLength, got - offset)
                    let isFinal = chunksDone + UInt64(index) + 1 == totalChunks
                    slot.ciphertextLength += try encryptor.push(UnsafeRawBufferPointer(rebasing: plain[offset..<offset + length]),
                                                                isFinal: isFinal, into: UnsafeMutableRawBufferPointer(rebasing: slot.ciphertext[slot.ciphertextLength...]))
                    offset += length
                }
            }
            chunksDone += UInt64(chunksHere)
            return chunksDone < totalChunks
        }, consumers: [
            { slot in slot.plaintext.withUnsafeBytes { plaintextHash.update(UnsafeRawBufferPointer(rebasing: $0[0..<slot.plaintextLength])) } },
            { slot in ciphertextHash.update(UnsafeRawBufferPointer(rebasing: slot.ciphertext[0..<slot.ciphertextLength])) },
            { slot in
                try blob.write(UnsafeRawBufferPointer(rebasing: slot.ciphertext[0..<slot.ciphertextLength]))
                bytesWritten += UInt64(slot.ciphertextLength)
                progress?(bytesWritten, blobSize)
            },
        ])
        // The file must not have grown while we read it.
        var probe: UInt8 = 0
        let extra = try withUnsafeMutableBytes(of: &probe) { try input.readFully(into: $0) }
        guard extra == 0 else { throw VaultError(.io, "input file \(inputPath) changed while it was being read (it grew)") }

        let blobHash = ciphertextHash.finalize()
        try blob.commit(to: BlobStore.name(for: blobHash), replacing: false)
        let plaintextSHA256 = plaintextHash.finalize()
        return EncryptedDocument(blobHash: blobHash, blobSize: bytesWritten, plaintextSize: totalSize, plaintextSHA256: plaintextSHA256,
                                 commitmentSalt: salt,
                                 plaintextCommitment: DocumentMetadata.commitment(salt: salt, plaintextSHA256: plaintextSHA256))
    }

    // MARK: decrypt

    /// Decrypts a document's blob into an invisible file in `outputFolder` and
    /// returns it, not yet linked: the caller gives it its name (`commit`) only
    /// after recording the export. It is returned only once the key commitment,
    /// every chunk, the final chunk and the plaintext commitment have all
    /// checked out (and the blob hash, with `checkingBlobHash`); on any failure
    /// it is discarded and nothing is left behind.
    /// With `outputFolder` nil, nothing is written: the blob is only checked (a
    /// reader's verify uses this, with `checkingBlobHash`, to name the damaged
    /// chunk). With `plaintextSink`, the plaintext is also handed to it
    /// (re-encryption), on the writing thread.
    @discardableResult
    static func decrypt(record: DocumentRecord, metadata: DocumentMetadata, key: DocumentKey, store: BlobStore,
                        outputFolder: FolderHandle?, calls: SystemCalls, allowVisibleTemporary: Bool = false,
                        checkingBlobHash: Bool = false,
                        plaintextSink: BlobEncryptingSink? = nil, progress: Progress? = nil) throws -> DecryptedDocument {
        let document = "document \(record.documentID.hex)"
        let input: ReadableFile
        do { input = try store.open(record.blobHash, what: "blob of \(document)") } catch let error as VaultError where error.kind == .notFound {
            throw VaultError(.integrity, "\(document): its blob \(Hex.encode(record.blobHash)) is missing from the vault")
        }
        guard input.size == record.blobSize else {
            throw VaultError(.integrity, "\(document): blob is \(input.size) bytes but the ledger records \(record.blobSize) (truncated or extended)")
        }
        var headerBytes = [UInt8](repeating: 0, count: BlobHeader.length)
        let headerRead = try headerBytes.withUnsafeMutableBytes { try input.readFully(into: $0) }
        guard headerRead == BlobHeader.length else { throw VaultError(.integrity, "\(document): blob is truncated inside its header") }
        let header: BlobHeader
        do { header = try BlobHeader.decode(headerBytes, structure: "blob of \(document)") } catch {
            throw VaultError(.integrity, "\(error)")
        }
        guard header.documentID == record.documentID, header.documentVersion == record.version else {
            throw VaultError(.integrity, "\(document): blob belongs to another document (\(header.documentID.hex) version \(header.documentVersion))")
        }
        guard try header.checkCommitment(key: key) else {
            throw VaultError(.integrity, "\(document): key commitment does not match: wrong key or tampered blob header")
        }
        let chunkLength = Int(header.chunkLength)
        let sealedChunkLength = chunkLength + SecretStream.chunkOverhead
        let decryptor = try SecretStreamDecryptor(key: key.key, header: header.streamHeader, maxChunkLength: chunkLength)
        var ciphertextHash = SHA256Stream()
        ciphertextHash.update(headerBytes)
        var plaintextHash = SHA256Stream()
        var legacyCommitmentHash = SHA256Stream()  // version-1 metadata: SHA-256(salt || plaintext)
        legacyCommitmentHash.update(metadata.commitmentSalt)
        var plaintextSize: UInt64 = 0

        let output = try outputFolder.map { try DurableFile(in: $0, calls: calls, allowVisibleTemporary: allowVisibleTemporary) }
        let bodySize = Int(record.blobSize) - BlobHeader.length
        var bodyRead = 0
        var consumed = UInt64(BlobHeader.length)
        let slots = try Slot.ring(chunkLength: chunkLength, documentBytes: UInt64(max(0, bodySize)))
        let pipeline = SlotPipeline(slots: slots)
        var consumers: [SlotPipeline<Slot>.Consumer] = [
            { slot in slot.plaintext.withUnsafeBytes { plaintextHash.update(UnsafeRawBufferPointer(rebasing: $0[0..<slot.plaintextLength])) } },
            { slot in
                try slot.plaintext.withUnsafeBytes { plainSlot in
                    let plain = UnsafeRawBufferPointer(rebasing: plainSlot[0..<slot.plaintextLength])
                    try output?.write(plain)
                    try plaintextSink?.write(plain)
                }
                plaintextSize += UInt64(slot.plaintextLength)
                consumed += UInt64(slot.ciphertextLength)
                progress?(consumed, record.blobSize)
            },
        ]
        if metadata.version == 1 {
            consumers.append { slot in
                slot.plaintext.withUnsafeBytes { legacyCommitmentHash.update(UnsafeRawBufferPointer(rebasing: $0[0..<slot.plaintextLength])) }
            }
        }
        if checkingBlobHash {
            consumers.append { slot in ciphertextHash.update(UnsafeRawBufferPointer(rebasing: slot.ciphertext[0..<slot.ciphertextLength])) }
        }
        try pipeline.run(produce: { slot in
            let wanted = min(sealedChunkLength * chunksPerSlot, bodySize - bodyRead)
            let got = try input.readFully(into: UnsafeMutableRawBufferPointer(rebasing: slot.ciphertext[0..<wanted]))
            guard got == wanted else { throw VaultError(.integrity, "\(document): blob changed while it was being read") }
            slot.ciphertextLength = got
            bodyRead += got
            slot.plaintextLength = 0
            try slot.plaintext.withUnsafeMutableBytes { plainSlot in
                var offset = 0
                while offset < got {
                    let length = min(sealedChunkLength, got - offset)
                    do {
                        slot.plaintextLength += try decryptor.pull(UnsafeRawBufferPointer(rebasing: slot.ciphertext[offset..<offset + length]),
                                                                   into: UnsafeMutableRawBufferPointer(rebasing: plainSlot[slot.plaintextLength...]))
                    } catch let error as CryptoError {
                        throw VaultError(.integrity, "\(document): \(error)")
                    }
                    offset += length
                }
            }
            return bodyRead < bodySize
        }, consumers: consumers)
        do { try decryptor.finish() } catch let error as CryptoError {
            throw VaultError(.integrity, "\(document): \(error)")
        }
        guard !checkingBlobHash || ciphertextHash.finalize() == record.blobHash else {
            throw VaultError(.integrity, "\(document): blob SHA-256 differs from the ledger")
        }
        let plaintextSHA256 = plaintextHash.finalize()
        let commitment = metadata.version == 1 ? legacyCommitmentHash.finalize()
            : DocumentMetadata.commitment(salt: metadata.commitmentSalt, plaintextSHA256: plaintextSHA256)
        guard plaintextSize == metadata.size, ConstantTime.equal(commitment, metadata.plaintextCommitment) else {
            throw VaultError(.integrity, "\(document): decrypted content does not match its plaintext commitment")
        }
        try output?.sync()
        return DecryptedDocument(output: output, plaintextSHA256: plaintextSHA256)
    }
}
