/// Big-endian writer for the on-disk formats of Docs/FORMAT.md. Pure, no I/O.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init() {}

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u16(_ value: UInt16) { appendBigEndian(value) }
    mutating func u32(_ value: UInt32) { appendBigEndian(value) }
    mutating func u64(_ value: UInt64) { appendBigEndian(value) }
    mutating func raw(_ value: [UInt8]) { bytes.append(contentsOf: value) }

    /// `u16 length || bytes`; callers check the limit before writing.
    mutating func bytes16(_ value: [UInt8]) {
        precondition(value.count <= Int(UInt16.max), "field too long for a u16 length")
        u16(UInt16(value.count))
        raw(value)
    }

    /// `u32 length || bytes`.
    mutating func bytes32(_ value: [UInt8]) {
        precondition(value.count <= Int(UInt32.max), "field too long for a u32 length")
        u32(UInt32(value.count))
        raw(value)
    }

    /// Writes the common prefix: magic, type tag, version.
    mutating func header(_ type: TypeTag, version: UInt8) {
        raw(FormatConstants.magic)
        u8(type.rawValue)
        u8(version)
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }
}

/// Big-endian reader that checks every length against what remains before
/// allocating, and names the structure and field in every error.
struct ByteReader {
    let bytes: [UInt8]
    /// Names the structure being read, for errors ("identity file", "event 12", ...).
    let structure: String
    private(set) var offset = 0

    init(_ bytes: [UInt8], structure: String) {
        self.bytes = bytes
        self.structure = structure
    }

    var remaining: Int { bytes.count - offset }

    mutating func u8(_ field: String) throws -> UInt8 { try raw(1, field)[0] }
    mutating func u16(_ field: String) throws -> UInt16 { try integer(field) }
    mutating func u32(_ field: String) throws -> UInt32 { try integer(field) }
    mutating func u64(_ field: String) throws -> UInt64 { try integer(field) }

    mutating func raw(_ count: Int, _ field: String) throws -> [UInt8] {
        guard count >= 0, count <= remaining else {
            throw FormatError.truncated(structure: structure, field: field)
        }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// `u16 length || bytes` with an upper bound checked before reading.
    mutating func bytes16(_ field: String, max: Int) throws -> [UInt8] {
        let length = Int(try u16(field + " length"))
        guard length <= max else { throw FormatError.invalidField(structure: structure, field: field, reason: "length \(length) exceeds \(max)") }
        return try raw(length, field)
    }

    /// `u32 length || bytes` with an upper bound checked before reading.
    mutating func bytes32(_ field: String, max: Int) throws -> [UInt8] {
        let length = Int(try u32(field + " length"))
        guard length <= max else { throw FormatError.invalidField(structure: structure, field: field, reason: "length \(length) exceeds \(max)") }
        return try raw(length, field)
    }

    /// Reads and checks magic, type tag and version; refuses unknown versions.
    mutating func header(expecting type: TypeTag, supportedVersions: ClosedRange<UInt8>) throws -> UInt8 {
        let magic = try raw(FormatConstants.magic.count, "magic")
        guard magic == FormatConstants.magic else { throw FormatError.badMagic(structure: structure) }
        let tag = try u8("type tag")
        guard tag == type.rawValue else {
            throw FormatError.wrongType(structure: structure, expected: type, found: tag)
        }
        let version = try u8("version")
        guard supportedVersions.contains(version) else {
            throw FormatError.unsupportedVersion(structure: structure, version: version)
        }
        return version
    }

    /// Refuses trailing bytes.
    func expectEnd() throws {
        guard remaining == 0 else { throw FormatError.trailingBytes(structure: structure, count: remaining) }
    }

    private mutating func integer<T: FixedWidthInteger>(_ field: String) throws -> T {
        let slice = try raw(MemoryLayout<T>.size, field)
        return slice.reduce(T(0)) { $0 << 8 | T($1) }
    }
}
