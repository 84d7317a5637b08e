import Foundation
import VaultCrypto

/// Encrypts plaintext handed to it in pieces of any size into a new blob of
/// known total size, in chunks of the default length: `document.reencrypt`
/// streams a document from its old blob through this into its new one, so the
/// plaintext exists only in secure memory, one chunk at a time, and never on disk.
final class BlobEncryptingSink {
    private let encryptor: SecretStreamEncryptor
    private let blob: DurableFile
    private let chunk: SecureBytes
    private let chunkLength: Int
    private let totalSize: UInt64
    private var filled = 0
    private var taken: UInt64 = 0
    private var ciphertextHash = SHA256Stream()
    private(set) var bytesWritten: UInt64 = 0

    /// Starts a blob for `documentID`/`version` under `key`, of exactly `plaintextSize` bytes.
    init(documentID: ObjectID, version: UInt32, key: DocumentKey, plaintextSize: UInt64, store: BlobStore) throws {
        chunkLength = Int(BlobHeader.defaultChunkLength)
        encryptor = try SecretStreamEncryptor(key: key.key, maxChunkLength: chunkLength)
        let header = try BlobHeader(documentID: documentID, documentVersion: version, chunkLength: UInt32(chunkLength),
                                    streamHeader: encryptor.header, key: key)
        totalSize = plaintextSize
        chunk = try SecureBytes(zeroedCount: Int(min(UInt64(chunkLength), max(1, plaintextSize))))
        blob = try store.newBlob()
        let headerBytes = header.encoded()
        try blob.write(headerBytes)
        ciphertextHash.update(headerBytes)
        bytesWritten = UInt64(headerBytes.count)
    }

    /// Takes the next plaintext bytes; a full chunk is encrypted and written at once.
    func write(_ plaintext: UnsafeRawBufferPointer) throws {
        guard taken + UInt64(plaintext.count) <= totalSize else {
            throw VaultError(.integrity, "the document is longer than its recorded size")
        }
        var offset = 0
        while offset < plaintext.count {
            let room = chunk.count - filled
            let length = min(room, plaintext.count - offset)
            chunk.withUnsafeMutableBytes { buffer in
                UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + length])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: plaintext[offset..<offset + length]))
            }
            filled += length
            offset += length
            taken += UInt64(length)
            if filled == chunk.count && taken < totalSize { try flush(isFinal: false) }
        }
    }

    /// Writes the final chunk, names the blob by its SHA-256 and returns its hash and size.
    func finish() throws -> (hash: [UInt8], size: UInt64) {
        guard taken == totalSize else { throw VaultError(.integrity, "the document is shorter than its recorded size") }
        try flush(isFinal: true)
        let hash = ciphertextHash.finalize()
        try blob.commit(to: BlobStore.name(for: hash), replacing: false)
        return (hash, bytesWritten)
    }

    private func flush(isFinal: Bool) throws {
        try chunk.withUnsafeBytes { buffer in
            try encryptor.push(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), isFinal: isFinal) { sealed in
                ciphertextHash.update(sealed)
                try blob.write(sealed)
                bytesWritten += UInt64(sealed.count)
            }
        }
        filled = 0
    }
}
