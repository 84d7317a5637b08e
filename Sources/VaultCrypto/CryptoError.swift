#if canImport(Glibc)
import Glibc
#endif
/// The one error type of `VaultCrypto`.
///
/// Messages say what failed and never include key bytes, plaintext or which byte
/// of a ciphertext was wrong: enough for a user, little for an attacker.
public enum CryptoError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A libsodium function returned a failure status.
    case libsodiumFailure(function: String)
    /// A key, nonce, header or other fixed-size value had the wrong length.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// An AEAD box, sealed box or secretstream chunk failed authentication.
    case authenticationFailed(what: String)
    /// A signature did not verify for the given key, message and context.
    case invalidSignature
    /// A public key is not acceptable (low order, all-zero, not a canonical point).
    case unacceptablePublicKey(what: String)
    /// Argon2id parameters outside the documented floor and ceiling.
    case kdfParametersRefused(reason: String)
    /// A secretstream chunk failed authentication (0-based chunk index).
    case streamChunkRejected(chunk: Int)
    /// A secretstream chunk carried a tag other than MESSAGE or FINAL.
    case streamUnexpectedTag(chunk: Int)
    /// Input ended before the chunk tagged FINAL.
    case streamTruncated(chunksRead: Int)
    /// Data was offered after the chunk tagged FINAL (including a second final chunk).
    case streamDataAfterFinal(chunk: Int)
    /// A chunk larger than the stream's maximum chunk length.
    case streamChunkTooLarge(chunk: Int, length: Int, maximum: Int)
    /// The encryptor was used after its final chunk.
    case streamAlreadyFinished
    /// A system call that protects secrets (core files, tracing) failed.
    case systemFailure(function: String, errno: Int32)

    public var description: String {
        switch self {
        case .libsodiumFailure(let function):
            return "libsodium \(function) failed"
        case .invalidLength(let what, let expected, let actual):
            return "\(what) must be \(expected) bytes, got \(actual)"
        case .authenticationFailed(let what):
            return "\(what) failed authentication: it is corrupt, was tampered with, or the key is wrong"
        case .invalidSignature:
            return "signature is not valid"
        case .unacceptablePublicKey(let what):
            return "\(what) is not an acceptable public key (low-order, zero or non-canonical)"
        case .kdfParametersRefused(let reason):
            return "Argon2id parameters refused: \(reason)"
        case .streamChunkRejected(let chunk):
            return "chunk \(chunk) failed authentication: the file is corrupt or was tampered with"
        case .streamUnexpectedTag(let chunk):
            return "chunk \(chunk) carries an unexpected stream tag"
        case .streamTruncated(let chunksRead):
            return "stream is truncated: it ends after \(chunksRead) chunk(s) without a final chunk"
        case .streamDataAfterFinal(let chunk):
            return "unexpected data at chunk \(chunk), after the final chunk"
        case .streamChunkTooLarge(let chunk, let length, let maximum):
            return "chunk \(chunk) is \(length) bytes, more than the maximum \(maximum)"
        case .streamAlreadyFinished:
            return "stream already finished"
        case .systemFailure(let function, let code):
            return "\(function) failed: \(String(cString: strerror(code)))"
        }
    }
}
