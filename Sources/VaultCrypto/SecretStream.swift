import CSodium

/// Constants of `crypto_secretstream_xchacha20poly1305`.
public enum SecretStream {
    /// Stream header length.
    public static let headerLength = Int(crypto_secretstream_xchacha20poly1305_HEADERBYTES)
    /// Bytes each chunk adds (1 encrypted tag byte + 16-byte MAC).
    public static let chunkOverhead = Int(crypto_secretstream_xchacha20poly1305_ABYTES)
    static let tagMessage = UInt8(crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
    static let tagFinal = UInt8(crypto_secretstream_xchacha20poly1305_TAG_FINAL)

    /// The libsodium state inside its secure allocation (never empty).
    static func state(_ memory: UnsafeMutableRawBufferPointer) -> UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state> {
        UnsafeMutableRawPointer(memory.nonNullBytes).assumingMemoryBound(to: crypto_secretstream_xchacha20poly1305_state.self)
    }
}

/// Encrypts a stream chunk by chunk, reusing one output buffer for the whole stream.
///
/// The last chunk must be pushed with `isFinal: true`; afterwards the encryptor refuses input.
public final class SecretStreamEncryptor {
    /// The stream header to store before the first chunk.
    public let header: [UInt8]
    /// Largest plaintext chunk accepted.
    public let maxChunkLength: Int
    private let state: SecureBytes
    private let output: UnsafeMutableRawBufferPointer
    private var finished = false

    /// Starts a stream under `key`, with a fresh random header.
    public init(key: SymmetricKey, maxChunkLength: Int) throws {
        try Sodium.ready()
        self.maxChunkLength = maxChunkLength
        state = try SecureBytes(zeroedCount: crypto_secretstream_xchacha20poly1305_statebytes())
        var header = [UInt8](repeating: 0, count: SecretStream.headerLength)
        try state.withUnsafeMutableBytes { statePointer in
            try key.bytes.withUnsafeBytes { keyPointer in
                try Sodium.check(
                    crypto_secretstream_xchacha20poly1305_init_push(
                        SecretStream.state(statePointer),
                        &header, keyPointer.nonNullBytes),
                    "crypto_secretstream_xchacha20poly1305_init_push")
            }
        }
        self.header = header
        output = UnsafeMutableRawBufferPointer.allocate(byteCount: maxChunkLength + SecretStream.chunkOverhead, alignment: 16)
    }

    deinit { output.deallocate() }

    /// Encrypts one chunk and passes the ciphertext to `body`; the buffer is reused by the next call.
    public func push<R>(_ plaintext: UnsafeRawBufferPointer, isFinal: Bool, additionalData: [UInt8] = [],
                        _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let written = try push(plaintext, isFinal: isFinal, additionalData: additionalData,
                               into: UnsafeMutableRawBufferPointer(rebasing: output[0..<min(output.count, plaintext.count + SecretStream.chunkOverhead)]))
        return try body(UnsafeRawBufferPointer(rebasing: output[0..<written]))
    }

    /// Encrypts one chunk straight into `destination` (at least 17 bytes longer
    /// than the chunk) and returns the ciphertext's length: no copy of the
    /// stream passes through this encryptor's own buffer.
    public func push(_ plaintext: UnsafeRawBufferPointer, isFinal: Bool, additionalData: [UInt8] = [],
                     into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished else { throw CryptoError.streamAlreadyFinished }
        guard plaintext.count <= maxChunkLength else {
            throw CryptoError.streamChunkTooLarge(chunk: -1, length: plaintext.count, maximum: maxChunkLength)
        }
        precondition(destination.count >= plaintext.count + SecretStream.chunkOverhead, "secretstream output too small")
        var written: UInt64 = 0
        let tag = isFinal ? SecretStream.tagFinal : SecretStream.tagMessage
        try state.withUnsafeMutableBytes { statePointer in
            try Sodium.check(
                crypto_secretstream_xchacha20poly1305_push(
                    SecretStream.state(statePointer),
                    destination.nonNullBytes, &written,
                    plaintext.nonNullBytes, UInt64(plaintext.count),
                    additionalData, UInt64(additionalData.count), tag),
                "crypto_secretstream_xchacha20poly1305_push")
        }
        if isFinal { finished = true }
        return Int(written)
    }
}

/// Decrypts a stream chunk by chunk, enforcing that exactly the last chunk is FINAL.
///
/// libsodium authenticates each chunk and its position but leaves the
/// end-of-stream rule to the caller; this type enforces it: a chunk after FINAL
/// (including a second FINAL) is refused, and `finish()` refuses a stream that
/// ended without FINAL. Plaintext goes to a reused buffer in secure memory.
public final class SecretStreamDecryptor {
    /// Largest plaintext chunk accepted.
    public let maxChunkLength: Int
    /// Chunks authenticated so far.
    public private(set) var chunksOpened = 0
    /// True once the FINAL chunk has been authenticated.
    public private(set) var isFinished = false
    private let state: SecureBytes
    private let output: SecureBytes

    /// Starts decrypting a stream whose header is `header`.
    public init(key: SymmetricKey, header: [UInt8], maxChunkLength: Int) throws {
        try Sodium.ready()
        try Sodium.requireLength(header.count, SecretStream.headerLength, "secretstream header")
        self.maxChunkLength = maxChunkLength
        state = try SecureBytes(zeroedCount: crypto_secretstream_xchacha20poly1305_statebytes())
        output = try SecureBytes(zeroedCount: maxChunkLength)
        try state.withUnsafeMutableBytes { statePointer in
            try key.bytes.withUnsafeBytes { keyPointer in
                try Sodium.check(
                    crypto_secretstream_xchacha20poly1305_init_pull(
                        SecretStream.state(statePointer),
                        header, keyPointer.nonNullBytes),
                    "crypto_secretstream_xchacha20poly1305_init_pull")
            }
        }
    }

    /// Authenticates and decrypts one chunk, passing the plaintext and whether it was FINAL to `body`.
    /// Nothing reaches `body` unless the chunk authenticated.
    public func pull<R>(_ ciphertext: UnsafeRawBufferPointer, additionalData: [UInt8] = [],
                        _ body: (UnsafeRawBufferPointer, Bool) throws -> R) throws -> R {
        let written = try output.withUnsafeMutableBytes { try pull(ciphertext, additionalData: additionalData, into: $0) }
        return try output.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<written]), isFinished) }
    }

    /// Authenticates and decrypts one chunk straight into `destination` (secure
    /// memory of the caller's, at least as long as the chunk's plaintext) and
    /// returns the plaintext's length. libsodium checks the MAC before it
    /// decrypts, so nothing is written to `destination` unless the chunk authenticated.
    public func pull(_ ciphertext: UnsafeRawBufferPointer, additionalData: [UInt8] = [],
                     into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        let index = chunksOpened
        guard !isFinished else { throw CryptoError.streamDataAfterFinal(chunk: index) }
        guard ciphertext.count >= SecretStream.chunkOverhead else { throw CryptoError.streamChunkRejected(chunk: index) }
        let length = ciphertext.count - SecretStream.chunkOverhead
        guard length <= maxChunkLength else {
            throw CryptoError.streamChunkTooLarge(chunk: index, length: length, maximum: maxChunkLength)
        }
        precondition(destination.count >= length, "secretstream output too small")
        var written: UInt64 = 0
        var tag: UInt8 = 0
        let status = state.withUnsafeMutableBytes { statePointer in
            crypto_secretstream_xchacha20poly1305_pull(
                SecretStream.state(statePointer),
                destination.nonNullBytes, &written, &tag,
                ciphertext.nonNullBytes, UInt64(ciphertext.count),
                additionalData, UInt64(additionalData.count))
        }
        guard status == 0 else { throw CryptoError.streamChunkRejected(chunk: index) }
        guard tag == SecretStream.tagMessage || tag == SecretStream.tagFinal else {
            // Authenticated, but a tag this format never writes: the caller discards the output.
            throw CryptoError.streamUnexpectedTag(chunk: index)
        }
        chunksOpened += 1
        if tag == SecretStream.tagFinal { isFinished = true }
        return Int(written)
    }

    /// Call at end of input: throws if the FINAL chunk was never seen.
    public func finish() throws {
        guard isFinished else { throw CryptoError.streamTruncated(chunksRead: chunksOpened) }
    }
}
