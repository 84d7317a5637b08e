/// Text that is safe to show on a terminal.
///
/// Everything evault prints, and every error message, is a `SafeText`. Its
/// literal parts are written by this code; every value interpolated into it
/// (a member's name, a file name, a title, a name found on disk, another
/// error's text) is escaped by `TextEscaping` as it is interpolated, so that
/// no string evault did not write itself can reach a terminal raw: there is no
/// way to build a `SafeText` from an unescaped `String` (THREATS.md 42).
///
/// ```swift
/// let line: SafeText = "added \(fileName) to \(caseID.hex)"   // fileName is escaped
/// ```
public struct SafeText: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The escaped text, ready for a terminal.
    public let rendered: String

    private init(rendered: String) { self.rendered = rendered }

    /// Code-written literal text.
    public init(stringLiteral value: StaticString) {
        rendered = value.withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
    }

    public init(stringInterpolation: Interpolation) { rendered = stringInterpolation.text }

    /// `value` escaped.
    public init(escaping value: some Any) { rendered = TextEscaping.escape(String(describing: value)) }

    public var description: String { rendered }

    /// Joins several safe texts.
    public static func joined(_ parts: [SafeText], separator: SafeText) -> SafeText {
        SafeText(rendered: parts.map(\.rendered).joined(separator: separator.rendered))
    }

    public static func + (left: SafeText, right: SafeText) -> SafeText { SafeText(rendered: left.rendered + right.rendered) }

    /// Builds a `SafeText`: literal segments as written, interpolated values escaped.
    public struct Interpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) { text.reserveCapacity(literalCapacity + 16 * interpolationCount) }

        public mutating func appendLiteral(_ literal: StaticString) {
            literal.withUTF8Buffer { text += String(decoding: $0, as: UTF8.self) }
        }

        /// Already safe: appended as it is.
        public mutating func appendInterpolation(_ value: SafeText) { text += value.rendered }

        /// Already safe, if present.
        public mutating func appendInterpolation(_ value: SafeText?) { text += value?.rendered ?? "" }

        /// Any other value: its description, escaped.
        public mutating func appendInterpolation<T>(_ value: T) { text += TextEscaping.escape(String(describing: value)) }

        /// A value padded with spaces to `width` characters (after escaping).
        public mutating func appendInterpolation(_ value: String, padded width: Int) {
            let escaped = TextEscaping.escape(value)
            text += escaped + String(repeating: " ", count: max(0, width - escaped.count))
        }
    }
}

/// How untrusted text is made visible instead of interpreted by a terminal.
///
/// Escaped as `\u{XXXX}` (or `\n`, `\r`, `\t`): every C0 control, DEL, every
/// C1 control, line and paragraph separators, every Unicode format character
/// (general category Cf: bidi embeddings, overrides and isolates, zero-width
/// characters, the byte-order mark, tag characters, ...), every default-
/// ignorable code point (Hangul fillers, variation selectors, ...), the
/// blank braille pattern U+2800, and unassigned code points (which could be tomorrow's format characters).
/// Zero-width non-joiner and joiner are normal spelling in Persian, Urdu and
/// Indic names: they are kept between letters of a joining script, or after a
/// virama (IDNA's ContextJ rule, Docs/CLI.md "Untrusted text").
///
/// The backslash itself is not escaped, so escaping is idempotent (an already
/// escaped text is unchanged): a name that literally contains `\u{1B}` shows as
/// that text, which is harmless. `--json` output carries exact values.
public enum TextEscaping {
    /// `text` with every character a terminal could interpret made visible.
    public static func escape(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        guard scalars.indices.contains(where: { needsEscape(scalars[$0]) || isExcessMark(at: $0, in: scalars) }) else { return text }
        var out = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            if (needsEscape(scalar) && !isAllowedJoiner(at: index, in: scalars)) || isExcessMark(at: index, in: scalars) {
                out.append(contentsOf: visible(scalar).unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// Most combining marks shown raw on one character: real scripts stack a
    /// few (Vietnamese two, some Indic three); a run of dozens smears a line
    /// over its neighbours ("Zalgo" text), so the marks after these are escaped.
    static let maxMarksInARow = 3

    /// Whether the scalar at `index` is a combining mark with `maxMarksInARow` marks before it.
    static func isExcessMark(at index: Int, in scalars: [Unicode.Scalar]) -> Bool {
        func isMark(_ scalar: Unicode.Scalar) -> Bool {
            [.nonspacingMark, .enclosingMark, .spacingMark].contains(scalar.properties.generalCategory)
        }
        guard index >= maxMarksInARow, isMark(scalars[index]) else { return false }
        return scalars[(index - maxMarksInARow)..<index].allSatisfy(isMark)
    }

    /// Whether `scalar` must never reach a terminal raw (ignoring the ContextJ exception).
    public static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        if value < 0x20 || (0x7F...0x9F).contains(value) { return true }
        if value < 0x7F { return false }
        if value == 0x2800 { return true }  // braille pattern blank: shows as nothing
        let properties = scalar.properties
        switch properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned: return true
        default: return properties.isDefaultIgnorableCodePoint
        }
    }

    /// The visible form of one escaped scalar.
    static func visible(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        default: return "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        }
    }

    /// ContextJ (RFC 5892 Appendix A.1 and A.2), approximated without the
    /// Joining_Type table: ZWNJ or ZWJ right after a virama; ZWNJ between two
    /// letters of joining scripts (Arabic, Syriac, N'Ko, Mongolian and their
    /// extensions), skipping combining marks on either side.
    static func isAllowedJoiner(at index: Int, in scalars: [Unicode.Scalar]) -> Bool {
        let scalar = scalars[index]
        guard scalar.value == 0x200C || scalar.value == 0x200D, index > 0 else { return false }
        if scalars[index - 1].properties.canonicalCombiningClass == .virama { return true }
        guard scalar.value == 0x200C else { return false }
        func isMark(_ s: Unicode.Scalar) -> Bool { s.properties.generalCategory == .nonspacingMark }
        var before = index - 1
        while before > 0 && isMark(scalars[before]) { before -= 1 }
        var after = index + 1
        while after < scalars.count && isMark(scalars[after]) { after += 1 }
        guard after < scalars.count else { return false }
        return isJoiningLetter(scalars[before]) && isJoiningLetter(scalars[after])
    }

    private static let joiningScripts: [ClosedRange<UInt32>] = [
        0x0600...0x06FF, 0x0700...0x074F, 0x0750...0x077F, 0x07C0...0x07FF, 0x0860...0x086F, 0x0870...0x089F,
        0x08A0...0x08FF, 0x1800...0x18AF, 0xA840...0xA87F, 0xFB50...0xFDFF, 0xFE70...0xFEFF, 0x10AC0...0x10AFF,
        0x10D00...0x10D3F, 0x10F30...0x10F6F,
    ]

    private static func isJoiningLetter(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.properties.isAlphabetic else { return false }
        return joiningScripts.contains { $0.contains(scalar.value) }
    }

    /// `json` (as JSONEncoder wrote it) with every scalar `needsEscape` flags
    /// written as a JSON `\uXXXX` escape: the same JSON value, safe on a terminal.
    public static func terminalSafeJSON(_ json: String) -> String {
        let scalars = Array(json.unicodeScalars)
        guard scalars.indices.contains(where: { needsEscape(scalars[$0]) || isExcessMark(at: $0, in: scalars) }) else { return json }
        var out = String.UnicodeScalarView()
        for (index, scalar) in scalars.enumerated() {
            guard needsEscape(scalar) || isExcessMark(at: index, in: scalars), scalar != "\n" else { out.append(scalar); continue }
            for unit in String(scalar).utf16 {
                let hex = String(unit, radix: 16, uppercase: true)
                out.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).unicodeScalars)
            }
        }
        return String(out)
    }
}
