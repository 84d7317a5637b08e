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
}
