import Foundation

/// When two display names are too alike to tell apart (THREATS.md 43).
///
/// Two names collide when their keys are equal. The key is the name after:
/// Unicode compatibility normalisation (NFKC: full-width, ligatures and
/// compatibility forms fold to their plain letters), removal of combining
/// marks (after canonical decomposition: `é` compares as `e`), removal of every
/// character a terminal would not show (`TextEscaping.needsEscape`: controls,
/// format and bidi characters, zero-width characters, other default-ignorable
/// code points), collapsing of white space, case folding, and a confusable
/// skeleton for the letters most used to imitate Latin ones (Cyrillic and
/// Greek look-alikes, some Cherokee letters and small capitals, dotless i,
/// `0` for `o`, and `1`, `I` and `|` for `l`), in the manner of
/// UTS #39 but with a small table rather than the full confusables data
/// (Docs/FORMAT.md §5.3, "Member names").
///
/// A custodian cannot admit a member whose name collides with that of a
/// current member of the vault; names that already collide in an existing
/// ledger are shown with a fingerprint suffix (`LedgerState.displayName`).
public enum MemberName {
    /// The comparison keys of `name`: two names collide when they share one.
    /// Capital `I` looks like `l` but case-folds to `i`, so there are two keys:
    /// one folding case first (`AMINA` is `amina`) and one reading `I` as `l`
    /// first (`Iawyer` is `lawyer`).
    public static func keys(_ name: String) -> Set<String> {
        [key(name, capitalIAsL: false), key(name, capitalIAsL: true)]
    }

    /// Whether two names cannot be told apart.
    public static func collide(_ first: String, _ second: String) -> Bool { !keys(first).isDisjoint(with: keys(second)) }

    /// One comparison key of `name` (see `keys`).
    static func key(_ name: String, capitalIAsL: Bool) -> String {
        // Printable ASCII (most names): the same key without the Unicode machinery.
        if name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(name.utf8.count)
            var lastWasSpace = true
            for byte in name.utf8 {
                if byte == 0x20 {
                    if !lastWasSpace { bytes.append(0x20) }
                    lastWasSpace = true
                    continue
                }
                lastWasSpace = false
                bytes.append(capitalIAsL && byte == 0x49 ? 0x6C : asciiSkeleton(byte))
            }
            if bytes.last == 0x20 { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
        // Compatibility forms folded, then decomposed so that combining marks can go.
        let decomposed = name.precomposedStringWithCompatibilityMapping.decomposedStringWithCanonicalMapping
        var visible = String.UnicodeScalarView()
        var lastWasSpace = true
        for scalar in decomposed.unicodeScalars where !TextEscaping.needsEscape(scalar) {
            let category = scalar.properties.generalCategory
            if category == .nonspacingMark || category == .enclosingMark || category == .spacingMark { continue }
            if scalar.properties.isWhitespace {
                if !lastWasSpace { visible.append(" ") }
                lastWasSpace = true
                continue
            }
            lastWasSpace = false
            // Capital I and its look-alikes (Greek Iota, Cyrillic I and palochka, Roman numeral one) read as l.
            if capitalIAsL && [0x49, 0x399, 0x406, 0x4C0, 0x2160].contains(scalar.value) { visible.append("l"); continue }
            visible.append(scalar)
        }
        var folded = String(visible).lowercased().precomposedStringWithCompatibilityMapping
        if folded.hasSuffix(" ") { folded.removeLast() }
        var skeleton = String.UnicodeScalarView()
        for scalar in folded.unicodeScalars {
            if scalar.value < 0x80 {
                skeleton.append(Unicode.Scalar(asciiSkeleton(UInt8(scalar.value))))
            } else if let latin = confusables[scalar.value] {
                skeleton.append(contentsOf: latin.unicodeScalars)
            } else {
                skeleton.append(scalar)
            }
        }
        return String(skeleton)
    }

    /// One printable ASCII byte, lowercased, with `0` as `o` and `1` and `|` as `l`.
    private static func asciiSkeleton(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 0x31, 0x7C: return 0x6C               // 1, | -> l
        case 0x30: return 0x6F                     // 0 -> o
        case 0x41...0x5A: return byte + 0x20       // A-Z
        default: return byte
        }
    }

    /// Look-alikes of lowercase Latin letters (after case folding), from UTS #39's confusables.
    private static let confusables: [UInt32: String] = [
        // Dashes and the minus sign, read as the ASCII hyphen-minus (case references are full of them)
        0x2010: "-", 0x2011: "-", 0x2012: "-", 0x2013: "-", 0x2014: "-", 0x2015: "-", 0x2043: "-", 0x2212: "-", 0xFE58: "-",
        // Cyrillic
        0x0430: "a", 0x0435: "e", 0x043E: "o", 0x0440: "p", 0x0441: "c", 0x0443: "y", 0x0445: "x", 0x0456: "i",
        0x0458: "j", 0x0455: "s", 0x04BB: "h", 0x0501: "d", 0x051B: "q", 0x051D: "w", 0x043A: "k", 0x0432: "b",
        0x043D: "h", 0x043C: "m", 0x0442: "t", 0x0457: "i", 0x04CF: "l",
        // Greek
        0x03B1: "a", 0x03BF: "o", 0x03C1: "p", 0x03BD: "v", 0x03B9: "i", 0x03BA: "k", 0x03C4: "t", 0x03C7: "x",
        0x03C5: "u", 0x03B5: "e", 0x03B7: "n",
        // Cyrillic, more
        0x0433: "r", 0x0491: "r", 0x0454: "e", 0x0450: "e", 0x0451: "e", 0x0447: "y", 0x0448: "w", 0x0493: "f",
        // Cherokee (lowercase forms, after case folding) and small capitals
        0xABAA: "d", 0xABAE: "l", 0xAB83: "w", 0xABA2: "i", 0xAB7E: "o", 0xAB75: "a", 0xABB6: "s", 0xABA9: "t",
        0x1D0F: "o", 0x1D04: "c", 0x1D1C: "u", 0x1D20: "v", 0x1D21: "w", 0x1D22: "z",
        // Digits of other scripts that look like 0 and 1; Cherokee and small-capital G
        0x0660: "o", 0x06F0: "o", 0x0661: "l", 0x06F1: "l", 0x07C0: "o", 0xAB90: "g", 0x0262: "g",
        // Latin and digits
        0x0131: "i", 0x0269: "i", 0x01C0: "l", 0x217C: "l", 0x0261: "g", 0x0251: "a", 0x0280: "r", 0x028F: "y",
    ]
}
