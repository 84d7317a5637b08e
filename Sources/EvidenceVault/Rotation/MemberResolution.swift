import VaultCrypto

extension LedgerState {
    /// Finds one identity among `candidates` by the MEMBER argument of
    /// `group remove` and `exposure`: an exact name, a full fingerprint (hex or
    /// readable), or a prefix of at least 8 characters of one. A text that is an
    /// exact name and also another identity's fingerprint prefix is ambiguous,
    /// like two identities with the name: the error lists every candidate.
    func resolveMember(_ text: String, among candidates: [Fingerprint], what: String) throws -> Fingerprint {
        let byName = candidates.filter { identities[$0]?.name == text || displayName(of: $0) == text }
        let hexText = text.lowercased()
        let readableText = text.uppercased().filter { $0 != "-" }
        let byFingerprint = candidates.filter { candidate in
            (hexText.count >= 8 && hexText.allSatisfy(\.isHexDigit) && candidate.hex.hasPrefix(hexText))
                || (readableText.count >= 8 && candidate.readable.filter { $0 != "-" }.hasPrefix(readableText))
        }
        let found = Set(byName).union(byFingerprint).sorted()
        guard found.count == 1 else {
            if found.isEmpty { throw VaultError(.notFound, "no \(what) matches \(text) (give a name, a fingerprint or at least 8 of its first characters)") }
            let listed = found.map { "\(displayName(of: $0)) (\($0.readable))" }.joined(separator: "; ")
            throw VaultError(.invalidInput, "\(text) matches \(found.count) \(what)s: \(listed)", hint: "give the full fingerprint")
        }
        return found[0]
    }
}
