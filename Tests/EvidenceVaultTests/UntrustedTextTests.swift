import Foundation
import Testing
@testable import EvidenceVault

/// THREATS.md 42: no string evault did not write itself reaches a terminal raw.
@Suite("Untrusted text")
struct UntrustedTextTests {
    /// Characters that must never reach a terminal raw.
    static let dangerous: [Unicode.Scalar] = [
        "\u{00}", "\u{07}", "\u{08}", "\u{09}", "\u{0A}", "\u{0D}", "\u{1B}", "\u{7F}", "\u{80}", "\u{85}", "\u{9B}", "\u{9F}",
        "\u{200B}", "\u{200E}", "\u{200F}", "\u{202A}", "\u{202B}", "\u{202C}", "\u{202D}", "\u{202E}", "\u{2066}", "\u{2067}",
        "\u{2068}", "\u{2069}", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{061C}", "\u{00AD}", "\u{3164}", "\u{E0041}", "\u{0378}",
    ]

    static func isSafe(_ text: String) -> Bool { !text.unicodeScalars.contains { TextEscaping.needsEscape($0) } }

    @Test("C0, C1, DEL, bidi, zero-width, separators and format characters are escaped visibly")
    func dangerousCharactersAreEscaped() {
        for scalar in Self.dangerous {
            let escaped = TextEscaping.escape("a\(Character(scalar))b")
            #expect(Self.isSafe(escaped), "U+\(String(scalar.value, radix: 16)) survived: \(escaped.unicodeScalars.map { $0.value })")
            #expect(escaped.hasPrefix("a\\") && escaped.hasSuffix("b"), "\(escaped)")
        }
        #expect(TextEscaping.escape("\u{1B}[31mOK") == "\\u{1B}[31mOK")
        #expect(TextEscaping.escape("line\nnext") == "line\\nnext")
    }

    @Test("ordinary text in any script is unchanged, and joiners between joining letters or after a virama are kept")
    func ordinaryTextAndContextJ() {
        for text in ["Amina Diallo", "José Núñez", "Ногоев", "王小明", "Ἀθηνᾶ", "नमस्ते", "میخواهم", "a\\b \"quoted\""] {
            #expect(TextEscaping.escape(text) == text)
        }
        let persian = "می\u{200C}خواهم"  // ZWNJ between Arabic letters
        #expect(TextEscaping.escape(persian) == persian)
        let devanagari = "क्\u{200D}ष"  // ZWJ after a virama
        #expect(TextEscaping.escape(devanagari) == devanagari)
        #expect(TextEscaping.escape("ami\u{200C}na") == "ami\\u{200C}na", "ZWNJ between Latin letters is escaped")
        #expect(TextEscaping.escape("\u{200D}x") == "\\u{200D}x")
    }

    @Test("escaping is idempotent, also on random input")
    func escapingIsIdempotent() {
        var generator = SystemRandomNumberGenerator()
        let pool = Self.dangerous + ["a", "\\", "u", "{", "}", "é", "ب", "\u{200C}", "\u{094D}", " "]
        for _ in 0..<2000 {
            let text = String(String.UnicodeScalarView((0..<Int.random(in: 0...12, using: &generator)).map { _ in pool.randomElement(using: &generator)! }))
            let once = TextEscaping.escape(text)
            #expect(Self.isSafe(once) || once.unicodeScalars.contains("\u{200C}"), "\(once.unicodeScalars.map(\.value))")
            #expect(TextEscaping.escape(once) == once)
        }
    }

    @Test("SafeText escapes every interpolated value and keeps its literal parts; errors are SafeText")
    func interpolationEscapes() {
        let name = "mallory\u{1B}[2J\u{202E}"
        let text: SafeText = "member \(name) added\n"
        #expect(text.rendered == "member mallory\\u{1B}[2J\\u{202E} added\n")
        let nested: SafeText = "outer: \(text)"
        #expect(nested.rendered == "outer: member mallory\\u{1B}[2J\\u{202E} added\n", "already safe text is not escaped twice")
        let error = VaultError(.notFound, "input file \(name) does not exist", hint: "check \(name)")
        #expect(Self.isSafe(error.message) && Self.isSafe(error.hint ?? ""))
        #expect(error.message.contains("\\u{1B}"))
    }

    @Test("JSON output escapes the same characters as \\u escapes and parses back to the exact value")
    func jsonIsTerminalSafe() throws {
        let value = "évidence\u{1B}[31m\u{202E}\u{9B}\u{2028}\u{E0041}.pdf"
        let json = String(decoding: try JSONEncoder().encode(["name": value]), as: UTF8.self)
        let safe = TextEscaping.terminalSafeJSON(json)
        #expect(Self.isSafe(safe))
        let parsed = try JSONSerialization.jsonObject(with: Data(safe.utf8)) as? [String: String]
        #expect(parsed?["name"] == value)
    }

    @Test("a run of combining marks is cut to three raw marks, in text and JSON; real scripts' stacks are kept")
    func combiningRuns() throws {
        let zalgo = "a" + String(repeating: "\u{0336}", count: 20)
        let escaped = TextEscaping.escape(zalgo)
        #expect(escaped == "a\u{0336}\u{0336}\u{0336}" + String(repeating: "\\u{336}", count: 17))
        #expect(TextEscaping.escape(escaped) == escaped)
        for text in ["Nguyễn Thị Hồng", "क्षत्रिय", "ḗ̄"] { #expect(TextEscaping.escape(text) == text, "\(text)") }
        let json = String(decoding: try JSONEncoder().encode(["name": zalgo]), as: UTF8.self)
        let safe = TextEscaping.terminalSafeJSON(json)
        #expect(safe.unicodeScalars.filter { $0 == "\u{0336}" }.count == 3)
        #expect((try JSONSerialization.jsonObject(with: Data(safe.utf8)) as? [String: String])?["name"] == zalgo)
    }

    @Test("a name with brackets or a tilde, signed by a modified client, never reads as another member's name or fingerprint")
    func bracketAndTildeNames() throws {
        var state = LedgerState()
        let real = try UnlockedIdentity.generate(name: "ines")
        let fakeFingerprint = try UnlockedIdentity.generate(name: "amara [\(real.fingerprint.readable.prefix(9))]")
        let fakeMarker = try UnlockedIdentity.generate(name: "ines ~\(real.fingerprint.readable.prefix(4))")
        for identity in [real, fakeFingerprint, fakeMarker] { state.admit(identity.publicIdentity) }
        let shown = state.displayName(of: fakeFingerprint.fingerprint)
        #expect(!shown.contains("[") && shown.contains("\\u{5B}") && shown.hasSuffix("~\(fakeFingerprint.fingerprint.readable.prefix(4))"), "\(shown)")
        let tilde = state.displayName(of: fakeMarker.fingerprint)
        #expect(tilde.hasPrefix("ines \\u{7E}") && tilde.hasSuffix("~\(fakeMarker.fingerprint.readable.prefix(4))"), "\(tilde)")
        #expect(state.displayName(of: real.fingerprint) == "ines")
        expectVaultError(.invalidInput, "'~'") { try TextRules.requireNotFingerprintLike("ines ~B0C6", among: []) }
    }

    @Test("input rules refuse control and invisible characters in what evault writes")
    func inputRules() {
        expectVaultError(.invalidInput, "invisible or control character") { try TextRules.requirePrintable("ref\u{202E}1", what: "the case reference") }
        #expect(throws: Never.self) { try TextRules.requirePrintable("می\u{200C}خواهم", what: "a title") }
    }
}
