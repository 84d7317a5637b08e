import VaultCrypto

/// The kind of a document, as the lawyer classifies it.
public enum DocumentKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case testimony = 1, medical, photo, audio, video, document, other

    public var description: String {
        switch self {
        case .testimony: return "testimony"
        case .medical: return "medical"
        case .photo: return "photo"
        case .audio: return "audio"
        case .video: return "video"
        case .document: return "document"
        case .other: return "other"
        }
    }

    /// Parses a kind name.
    public init?(name: String) {
        guard let kind = DocumentKind.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}

/// A document's sensitive metadata, sealed under the case key (Docs/FORMAT.md §7).
/// Never stored or logged in plaintext.
public struct DocumentMetadata: Sendable, Equatable {
    /// Original file name (last path component).
    public let fileName: String
    /// Title given by the lawyer (may be empty).
    public let title: String
    /// Kind of document.
    public let kind: DocumentKind
    /// Free-form tags.
    public let tags: [String]
    /// Plaintext size in bytes.
    public let size: UInt64
    /// Random salt of the plaintext commitment.
    public let commitmentSalt: [UInt8]
    /// Lets a lawyer prove a disclosed file is the one collected: in version 2,
    /// SHA-256(salt || SHA-256(plaintext)); in version 1, SHA-256(salt || plaintext).
    public let plaintextCommitment: [UInt8]
    /// Format version, which fixes how the commitment is computed (Docs/FORMAT.md §7).
    public let version: UInt8

    /// The version written now.
    public static let currentVersion: UInt8 = 2

    /// The names of the fields in which `a` and `b` differ (none: the same content record).
    static func differingFields(_ a: DocumentMetadata, _ b: DocumentMetadata) -> [String] {
        var fields: [String] = []
        if a.fileName != b.fileName { fields.append("file name") }
        if a.title != b.title { fields.append("title") }
        if a.kind != b.kind { fields.append("kind") }
        if a.tags != b.tags { fields.append("tags") }
        if a.size != b.size { fields.append("size") }
        if a.commitmentSalt != b.commitmentSalt || a.plaintextCommitment != b.plaintextCommitment || a.version != b.version {
            fields.append("plaintext commitment")
        }
        return fields
    }
    static let supportedVersions: ClosedRange<UInt8> = 1...2

    /// Metadata of a new document, or of one read back (`version` 1 or 2).
    public init(fileName: String, title: String, kind: DocumentKind, tags: [String], size: UInt64,
                commitmentSalt: [UInt8], plaintextCommitment: [UInt8], version: UInt8 = DocumentMetadata.currentVersion) {
        precondition(Self.supportedVersions.contains(version))
        self.fileName = fileName
        self.title = title
        self.kind = kind
        self.tags = tags
        self.size = size
        self.commitmentSalt = commitmentSalt
        self.plaintextCommitment = plaintextCommitment
        self.version = version
    }

    /// The version-2 plaintext commitment: SHA-256(salt || SHA-256(plaintext)),
    /// so that one pass over the plaintext gives both the commitment and the
    /// SHA-256 a court expert compares with `sha256sum`.
    public static func commitment(salt: [UInt8], plaintextSHA256: [UInt8]) -> [UInt8] {
        SHA256Stream.hash(salt + plaintextSHA256)
    }
    static let maxTextLength = 4096
    static let maxTags = 64

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.documentMetadata, version: version)
        writer.u8(kind.rawValue)
        writer.string16(fileName)
        writer.string16(title)
        writer.u8(UInt8(tags.count))
        for tag in tags { writer.string8(tag) }
        writer.u64(size)
        writer.raw(commitmentSalt)
        writer.raw(plaintextCommitment)
        return writer.bytes
    }

    static func decode(_ bytes: [UInt8], structure: String) throws -> DocumentMetadata {
        var reader = ByteReader(bytes, structure: structure)
        let version = try reader.header(expecting: .documentMetadata, supportedVersions: supportedVersions)
        let kindByte = try reader.u8("kind")
        guard let kind = DocumentKind(rawValue: kindByte) else {
            throw FormatError.invalidField(structure: structure, field: "kind", reason: "unknown kind \(kindByte)")
        }
        let fileName = try reader.string16("file name", max: maxTextLength)
        let title = try reader.string16("title", max: maxTextLength)
        let tagCount = Int(try reader.u8("tag count"))
        guard tagCount <= maxTags else {
            throw FormatError.invalidField(structure: structure, field: "tags", reason: "more than \(maxTags)")
        }
        var tags: [String] = []
        for index in 0..<tagCount { tags.append(try reader.string8("tag \(index)")) }
        let metadata = DocumentMetadata(fileName: fileName, title: title, kind: kind, tags: tags,
                                        size: try reader.u64("size"), commitmentSalt: try reader.raw(32, "commitment salt"),
                                        plaintextCommitment: try reader.raw(32, "plaintext commitment"), version: version)
        try reader.expectEnd()
        return metadata
    }

    /// Limits on what is written now (reading accepts the larger limits of older versions).
    static let maxFileNameLength = 255
    static let maxTitleLength = 1024
    static let maxNewTags = 32
    static let maxTagLength = 64

    /// Checks lengths and characters before sealing (THREATS.md 42, 46).
    static func validate(fileName: String, title: String, tags: [String]) throws {
        guard fileName.utf8.count <= maxFileNameLength, title.utf8.count <= maxTitleLength else {
            throw VaultError(.invalidInput, "a file name is at most \(maxFileNameLength) bytes and a title at most \(maxTitleLength)")
        }
        guard tags.count <= maxNewTags, tags.allSatisfy({ !$0.isEmpty && $0.utf8.count <= maxTagLength }) else {
            throw VaultError(.invalidInput, "at most \(maxNewTags) tags of 1 to \(maxTagLength) bytes each")
        }
        try TextRules.requirePrintable(title, what: "the title")
        for tag in tags { try TextRules.requirePrintable(tag, what: "a tag") }
    }
}
