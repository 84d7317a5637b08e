import COpenSSLCrypto
import CSodium
import Foundation

/// Streaming SHA-256 through the system's OpenSSL libcrypto (its EVP digest
/// interface; SHA-NI where the CPU has it). Docs/DEPENDENCIES.md gives the rates.
///
/// Used for blob names, event hashes and plaintext commitments: the hash courts
/// and forensic tools expect. A value type: a copy hashes on independently.
public struct SHA256Stream: @unchecked Sendable {
    /// Digest length in bytes.
    public static let digestLength = 32
    private var context: DigestContext

    /// A fresh hash state.
    public init() {
        context = DigestContext()
    }

    /// Absorbs more input.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        if !isKnownUniquelyReferenced(&context) { context = context.copy() }
        context.update(bytes)
    }

    /// Absorbs more input.
    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The 32-byte digest of everything absorbed (the state itself is left as it was).
    public func finalize() -> [UInt8] {
        context.copy().finish()
    }

    /// One-shot SHA-256.
    public static func hash(_ bytes: some ContiguousBytes) -> [UInt8] {
        bytes.withUnsafeBytes { input in
            var out = [UInt8](repeating: 0, count: digestLength)
            var length: UInt32 = 0
            let ok = out.withUnsafeMutableBytes { digest in
                EVP_Digest(input.baseAddress ?? UnsafeRawPointer(digest.baseAddress!), input.count,
                           digest.bindMemory(to: UInt8.self).baseAddress, &length, DigestContext.sha256, nil)
            }
            precondition(ok == 1 && length == UInt32(digestLength), "OpenSSL SHA-256 failed")
            return out
        }
    }
}

/// A SHA-256 digest held inline, without a heap allocation: for the many short
/// hashes a verify holds and compares (one per index row).
public struct SHA256Digest: Hashable, Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    init(_ bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == SHA256Stream.digestLength)
        words = (bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
                 bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self), bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// The 32 digest bytes.
    public var bytes: [UInt8] { withUnsafeBytes(of: words) { Array($0) } }

    public static func == (lhs: SHA256Digest, rhs: SHA256Digest) -> Bool {
        lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
    }
}

/// SHA-256 of many short inputs in turn, on one thread: one OpenSSL context,
/// reset for each input, so that no hash allocates (an `EVP_Digest` call, or a
/// `SHA256Stream`, makes a context each time).
public final class SHA256Hasher {
    private let pointer: OpaquePointer

    public init() {
        guard let pointer = EVP_MD_CTX_new() else { preconditionFailure("OpenSSL: out of memory") }
        self.pointer = pointer
    }

    deinit { EVP_MD_CTX_free(pointer) }

    /// SHA-256 of `bytes`.
    public func hash(_ bytes: UnsafeRawBufferPointer) -> SHA256Digest {
        precondition(EVP_DigestInit_ex(pointer, DigestContext.sha256, nil) == 1, "OpenSSL SHA-256 init failed")
        if bytes.count > 0 {
            precondition(EVP_DigestUpdate(pointer, bytes.baseAddress, bytes.count) == 1, "OpenSSL SHA-256 update failed")
        }
        return withUnsafeTemporaryAllocation(byteCount: SHA256Stream.digestLength, alignment: 8) { out in
            var length: UInt32 = 0
            let ok = EVP_DigestFinal_ex(pointer, out.bindMemory(to: UInt8.self).baseAddress, &length)
            precondition(ok == 1 && length == UInt32(SHA256Stream.digestLength), "OpenSSL SHA-256 final failed")
            return SHA256Digest(UnsafeRawBufferPointer(out))
        }
    }

    /// SHA-256 of `bytes`.
    public func hash(_ bytes: some ContiguousBytes) -> SHA256Digest {
        bytes.withUnsafeBytes { hash($0) }
    }
}

/// One OpenSSL `EVP_MD_CTX` for SHA-256, freed with its owner.
final class DigestContext {
    /// The SHA-256 implementation, fetched from the default provider once.
    nonisolated(unsafe) static let sha256: OpaquePointer = {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil) else { preconditionFailure("OpenSSL has no SHA-256") }
        return md
    }()

    private let pointer: OpaquePointer

    init() {
        guard let pointer = EVP_MD_CTX_new() else { preconditionFailure("OpenSSL: out of memory") }
        precondition(EVP_DigestInit_ex(pointer, Self.sha256, nil) == 1, "OpenSSL SHA-256 init failed")
        self.pointer = pointer
    }

    private init(copying other: OpaquePointer) {
        guard let pointer = EVP_MD_CTX_new() else { preconditionFailure("OpenSSL: out of memory") }
        precondition(EVP_MD_CTX_copy_ex(pointer, other) == 1, "OpenSSL SHA-256 copy failed")
        self.pointer = pointer
    }

    deinit { EVP_MD_CTX_free(pointer) }

    func copy() -> DigestContext { DigestContext(copying: pointer) }

    func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(EVP_DigestUpdate(pointer, bytes.baseAddress, bytes.count) == 1, "OpenSSL SHA-256 update failed")
    }

    func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: SHA256Stream.digestLength)
        var length: UInt32 = 0
        let ok = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(pointer, $0.baseAddress, &length) }
        precondition(ok == 1 && length == UInt32(SHA256Stream.digestLength), "OpenSSL SHA-256 final failed")
        return out
    }
}

/// Keyed BLAKE2b (`crypto_generichash`), used for key commitments.
public enum KeyedHash {
    /// Keyed BLAKE2b of `message` with a 16...64-byte key; output 16...64 bytes.
    public static func blake2b(_ message: some ContiguousBytes, key: SecureBytes, outputLength: Int = 32) throws -> [UInt8] {
        try Sodium.ready()
        guard key.count >= Int(crypto_generichash_KEYBYTES_MIN), key.count <= Int(crypto_generichash_KEYBYTES_MAX) else {
            throw CryptoError.invalidLength(what: "BLAKE2b key", expected: Int(crypto_generichash_KEYBYTES), actual: key.count)
        }
        guard outputLength >= Int(crypto_generichash_BYTES_MIN), outputLength <= Int(crypto_generichash_BYTES_MAX) else {
            throw CryptoError.invalidLength(what: "BLAKE2b output", expected: Int(crypto_generichash_BYTES), actual: outputLength)
        }
        var out = [UInt8](repeating: 0, count: outputLength)
        try message.withUnsafeBytes { input in
            try key.withUnsafeBytes { keyPointer in
                try Sodium.check(
                    crypto_generichash(&out, outputLength, input.nonNullBytes,
                                       UInt64(input.count), keyPointer.nonNullBytes,
                                       keyPointer.count),
                    "crypto_generichash")
            }
        }
        return out
    }
}

/// Comparison of secret-derived values without timing that depends on where they differ.
public enum ConstantTime {
    /// `sodium_memcmp`: true when both arrays have the same length and bytes.
    public static func equal(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard !lhs.isEmpty else { return true }
        return lhs.withUnsafeBytes { l in rhs.withUnsafeBytes { r in sodium_memcmp(l.baseAddress!, r.baseAddress!, lhs.count) == 0 } }
    }
}
