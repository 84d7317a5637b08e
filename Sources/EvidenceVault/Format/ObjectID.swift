import VaultCrypto

/// A 16-byte random identifier of a vault, group, case or document, shown as 32 hex characters.
public struct ObjectID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Length in bytes.
    public static let length = 16
    /// The identifier bytes.
    public let rawValue: [UInt8]

    /// Wraps 16 bytes read from a structure.
    public init(rawValue: [UInt8]) throws {
        guard rawValue.count == Self.length else {
            throw FormatError.invalidField(structure: "identifier", field: "bytes", reason: "must be 16 bytes, got \(rawValue.count)")
        }
        self.rawValue = rawValue
    }

    /// A fresh random identifier.
    public static func random() throws -> ObjectID {
        try ObjectID(rawValue: Random.bytes(length))
    }

    /// Parses 32 hex characters.
    public init?(hex: String) {
        guard hex.count == 32, let bytes = Hex.decode(hex.lowercased()) else { return nil }
        rawValue = bytes
    }

    /// 32 lowercase hex characters.
    public var hex: String { Hex.encode(rawValue) }
    public var description: String { hex }

    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool { lhs.rawValue.lexicographicallyPrecedes(rhs.rawValue) }
}

extension ByteWriter {
    mutating func id(_ value: ObjectID) { raw(value.rawValue) }
    mutating func fingerprint(_ value: Fingerprint) { raw(value.rawValue) }
    /// `u8 length || UTF-8`; callers validate the length first.
    mutating func string8(_ value: String) {
        let bytes = Array(value.utf8)
        precondition(bytes.count <= 255)
        u8(UInt8(bytes.count))
        raw(bytes)
    }
    mutating func string16(_ value: String) { bytes16(Array(value.utf8)) }
}

extension ByteReader {
    mutating func id(_ field: String) throws -> ObjectID { try ObjectID(rawValue: raw(ObjectID.length, field)) }
    mutating func fingerprint(_ field: String) throws -> Fingerprint { try Fingerprint(rawValue: raw(32, field)) }
    mutating func string8(_ field: String) throws -> String {
        let bytes = try raw(Int(try u8(field + " length")), field)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FormatError.invalidField(structure: structure, field: field, reason: "not UTF-8")
        }
        return text
    }
    mutating func string16(_ field: String, max: Int) throws -> String {
        let bytes = try bytes16(field, max: max)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FormatError.invalidField(structure: structure, field: field, reason: "not UTF-8")
        }
        return text
    }
}
