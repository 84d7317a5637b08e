/// Input rules for text that evault writes into the ledger: no character a
/// terminal would interpret or hide (`TextEscaping.needsEscape`), except
/// joiners where ContextJ allows them. A convenience for honest users: the
/// defence against hostile text is escaping on output (`SafeText`), since a
/// hostile member can sign anything (THREATS.md 42).
public enum TextRules {
    /// Throws unless every character of `text` is printable.
    public static func requirePrintable(_ text: String, what: SafeText) throws {
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() where TextEscaping.needsEscape(scalar) {
            guard TextEscaping.isAllowedJoiner(at: index, in: scalars) else {
                throw VaultError(.invalidInput, "\(what) contains an invisible or control character (\(TextEscaping.visible(scalar))): refused",
                                 hint: "retype it without control, format or zero-width characters")
            }
        }
    }

    /// Throws if a member's name could be read as an identity: it contains `[`,
    /// `]` or `~` (the CLI prints `NAME [FINGERPRINT]` and `NAME ~XXXX`), or, without dashes and
    /// spaces, it is 8 or more characters that begin the hex or readable
    /// fingerprint of one of `fingerprints` (THREATS.md 57).
    public static func requireNotFingerprintLike(_ name: String, among fingerprints: [Fingerprint]) throws {
        guard !name.contains(where: { "[]~".contains($0) }) else {
            throw VaultError(.invalidInput, "the name \"\(name)\" contains '[', ']' or '~', which evault uses to show fingerprints and tell alike names apart: refused",
                             hint: "choose a name without brackets or tildes")
        }
        let compact = name.filter { $0 != "-" && $0 != " " }
        guard compact.count >= 8 else { return }
        let upper = compact.uppercased(), lower = compact.lowercased()
        if let owner = fingerprints.first(where: { $0.hex.hasPrefix(lower) || $0.readable.filter { $0 != "-" }.hasPrefix(upper) }) {
            throw VaultError(.invalidInput, "the name \"\(name)\" reads as the fingerprint of \(owner.readable): refused",
                             hint: "choose a name that is not a fingerprint")
        }
    }
}
