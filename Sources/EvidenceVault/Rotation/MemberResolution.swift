import VaultCrypto

extension LedgerState {
    /// Finds one identity among `candidates` by the MEMBER argument of
    /// `group remove` and `exposure`: an exact name, a full fingerprint (hex or
    /// readable), or a prefix of at least 8 characters of one. A text that is an
    /// exact name and also another identity's fingerprint prefix is ambiguous,
    /// like two identities with the name: the error lists every candidate.
    func resolveMember(_ text: String, among candidates: [Fingerprint], what: String) throws -> Fingerprint {
        let hexText = text.lowercased()
        // A full 64-character hex fingerprint names exactly one identity.
        if hexText.count == 64, let exact = candidates.first(where: { $0.hex == hexText }) { return exact }
        let readableText = text.uppercased().filter { $0 != "-" }
        let byFingerprint = candidates.filter { candidate in
            (hexText.count >= 8 && hexText.allSatisfy(\.isHexDigit) && candidate.hex.hasPrefix(hexText))
                || (readableText.count >= 8 && candidate.readable.filter { $0 != "-" }.hasPrefix(readableText))
        }
        // Names match exactly; when the text is also a fingerprint prefix, a name equal
        // to it in another letter case counts too, so that case never decides.
        let byName = candidates.filter { candidate in
            guard let name = identities[candidate]?.name else { return false }
            return name == text || displayName(of: candidate) == text
                || (!byFingerprint.isEmpty && name.lowercased() == text.lowercased())
        }
        let found = Set(byName).union(byFingerprint).sorted()
        guard found.count == 1 else {
            if found.isEmpty { throw VaultError(.notFound, "no \(what) matches \(text) (give a name, a fingerprint or at least 8 of its first characters)") }
            let listed = found.map { "\(displayName(of: $0)) (\($0.hex))" }.joined(separator: "; ")
            throw VaultError(.invalidInput, "\(text) matches \(found.count) candidates (\(what)): \(listed)",
                             hint: "give the full 64-character hex fingerprint shown")
        }
        return found[0]
    }
}
