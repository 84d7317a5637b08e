import VaultCrypto

/// The fixed header of a document blob (Docs/FORMAT.md §8), followed by the
/// secretstream chunks.
///
/// The key commitment is keyed BLAKE2b-256 with the document key over a label
/// and the header bytes before it. It is checked before any chunk is opened,
/// so a blob encrypted under one key cannot be made to decrypt "successfully"
/// under another (invisible salamanders, THREATS.md 14), and the header binds
/// the blob to its document id and version.
struct BlobHeader: Equatable {
    static let version: UInt8 = 1
    /// Encoded length: prefix 6 + id 16 + version 4 + chunk length 4 + stream header 24 + commitment 32.
    static let length = 86
    /// Plaintext bytes per chunk (the last chunk may be shorter).
    static let defaultChunkLength: UInt32 = 64 * 1024
    static let maxChunkLength: UInt32 = 1 << 20
    static let commitmentLabel = Array("evidencevault/key-commitment/v1".utf8)

    let documentID: ObjectID
    let documentVersion: UInt32
    let chunkLength: UInt32
    let streamHeader: [UInt8]
    let keyCommitment: [UInt8]

    /// A header for a new blob; computes the key commitment.
    init(documentID: ObjectID, documentVersion: UInt32, chunkLength: UInt32, streamHeader: [UInt8], key: DocumentKey) throws {
        self.documentID = documentID
        self.documentVersion = documentVersion
        self.chunkLength = chunkLength
        self.streamHeader = streamHeader
        self.keyCommitment = try Self.commitment(prefix: Self.encodePrefix(documentID: documentID, documentVersion: documentVersion,
                                                                           chunkLength: chunkLength, streamHeader: streamHeader), key: key)
    }

    private init(documentID: ObjectID, documentVersion: UInt32, chunkLength: UInt32, streamHeader: [UInt8], keyCommitment: [UInt8]) {
        self.documentID = documentID
        self.documentVersion = documentVersion
        self.chunkLength = chunkLength
        self.streamHeader = streamHeader
        self.keyCommitment = keyCommitment
    }

    func encoded() -> [UInt8] {
        Self.encodePrefix(documentID: documentID, documentVersion: documentVersion, chunkLength: chunkLength, streamHeader: streamHeader)
            + keyCommitment
    }

    static func decode(_ bytes: [UInt8], structure: String) throws -> BlobHeader {
        var reader = ByteReader(bytes, structure: structure)
        _ = try reader.header(expecting: .blob, supportedVersions: version...version)
        let documentID = try reader.id("document id")
        let documentVersion = try reader.u32("document version")
        let chunkLength = try reader.u32("chunk length")
        guard chunkLength > 0, chunkLength <= maxChunkLength else {
            throw FormatError.invalidField(structure: structure, field: "chunk length", reason: "\(chunkLength) is outside 1...\(maxChunkLength)")
        }
        let header = BlobHeader(documentID: documentID, documentVersion: documentVersion, chunkLength: chunkLength,
                                streamHeader: try reader.raw(SecretStream.headerLength, "stream header"),
                                keyCommitment: try reader.raw(32, "key commitment"))
        try reader.expectEnd()
        return header
    }

    /// Checks the key commitment in constant time with respect to the key.
    func checkCommitment(key: DocumentKey) throws -> Bool {
        let expected = try Self.commitment(prefix: Array(encoded().prefix(Self.length - 32)), key: key)
        return try SecureBytes(copying: expected) == SecureBytes(copying: keyCommitment)
    }

    /// Blob size for a plaintext of `size` bytes: header, then one chunk per
    /// `chunkLength` bytes (at least one; a final chunk may be full or empty only for size 0).
    static func blobSize(plaintextSize: UInt64, chunkLength: UInt32) -> UInt64 {
        UInt64(length) + chunkCount(plaintextSize: plaintextSize, chunkLength: chunkLength) * UInt64(SecretStream.chunkOverhead) + plaintextSize
    }

    static func chunkCount(plaintextSize: UInt64, chunkLength: UInt32) -> UInt64 {
        plaintextSize == 0 ? 1 : (plaintextSize + UInt64(chunkLength) - 1) / UInt64(chunkLength)
    }

    private static func encodePrefix(documentID: ObjectID, documentVersion: UInt32, chunkLength: UInt32, streamHeader: [UInt8]) -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.blob, version: version)
        writer.id(documentID)
        writer.u32(documentVersion)
        writer.u32(chunkLength)
        writer.raw(streamHeader)
        return writer.bytes
    }

    private static func commitment(prefix: [UInt8], key: DocumentKey) throws -> [UInt8] {
        try KeyedHash.blake2b(commitmentLabel + prefix, key: key.key.bytes, outputLength: 32)
    }
}
