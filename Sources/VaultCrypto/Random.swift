import CSodium

/// Non-secret random bytes (identifiers, salts, nonces) from libsodium's CSPRNG.
///
/// `randombytes_buf` aborts the process rather than return bytes when the system
/// RNG fails, so no output is ever produced from a broken generator (THREATS.md 28).
public enum Random {
    /// `count` random bytes.
    public static func bytes(_ count: Int) throws -> [UInt8] {
        try Sodium.ready()
        var out = [UInt8](repeating: 0, count: count)
        randombytes_buf(&out, count)
        return out
    }
}
