import CSodium
import Foundation

/// Secret bytes: the only place a key, passphrase or decrypted secret lives.
///
/// - allocated with `sodium_malloc` (guard pages, a canary, `mlock` where the system allows);
/// - zeroed and freed with `sodium_free` when released;
/// - redacted in `description` and `debugDescription`;
/// - compared in constant time (`sodium_memcmp`);
/// - deliberately not `Codable`, and never converted to `String` implicitly.
///
/// Instances are filled once when created and treated as immutable afterwards,
/// which is why the type is `Sendable`.
public final class SecureBytes: @unchecked Sendable, Equatable, ContiguousBytes,
    CustomStringConvertible, CustomDebugStringConvertible
{
    private let pointer: UnsafeMutableRawPointer
    /// Number of secret bytes held.
    public let count: Int

    /// Allocates `count` zeroed secret bytes.
    public init(zeroedCount count: Int) throws {
        try Sodium.ready()
        precondition(count >= 0, "negative SecureBytes count")
        guard let pointer = sodium_malloc(max(count, 1)) else {
            throw CryptoError.libsodiumFailure(function: "sodium_malloc")
        }
        sodium_memzero(pointer, max(count, 1))
        self.pointer = pointer
        self.count = count
    }

    /// Copies `bytes` into secure memory. The caller remains responsible for the source.
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws {
        try self.init(zeroedCount: bytes.count)
        if let base = bytes.baseAddress, bytes.count > 0 {
            pointer.copyMemory(from: base, byteCount: bytes.count)
        }
    }

    /// Copies a byte array into secure memory (test vectors, values already in memory).
    public convenience init(copying bytes: [UInt8]) throws {
        try self.init(zeroedCount: bytes.count)
        bytes.withUnsafeBytes { if let base = $0.baseAddress { pointer.copyMemory(from: base, byteCount: $0.count) } }
    }

    /// `count` bytes from libsodium's CSPRNG (`randombytes_buf`, which aborts rather than
    /// return weak output if the system RNG fails).
    public static func random(count: Int) throws -> SecureBytes {
        let bytes = try SecureBytes(zeroedCount: count)
        randombytes_buf(bytes.pointer, count)
        return bytes
    }

    /// Fills freshly allocated secret bytes through `body`.
    public static func filling(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> SecureBytes {
        let bytes = try SecureBytes(zeroedCount: count)
        try body(UnsafeMutableRawBufferPointer(start: bytes.pointer, count: count))
        return bytes
    }

    deinit {
        // sodium_free zeroes the whole region before unmapping it.
        sodium_free(pointer)
    }

    /// Read access to the secret bytes; do not let the pointer escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// Write access, for buffers that receive secret output in place (libsodium
    /// output, plaintext read from a file). Do not let the pointer escape.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// Zeroes the bytes (`sodium_memzero`), for a buffer that is reused.
    public func wipe() {
        sodium_memzero(pointer, count)
    }

    /// A copy of the bytes as a `Data` value, for a caller that must hand them to an API
    /// outside secure memory (for example a decrypted UTF-8 title). Use sparingly.
    public func unprotectedCopy() -> [UInt8] {
        withUnsafeBytes { Array($0) }
    }

    /// Constant-time comparison; lengths are not secret.
    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count == 0 { return true }
        return sodium_memcmp(lhs.pointer, rhs.pointer, lhs.count) == 0
    }

    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
    public var debugDescription: String { description }
}
