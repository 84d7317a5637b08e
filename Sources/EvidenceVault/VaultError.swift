import VaultCrypto

/// The error type of the `EvidenceVault` library: what is wrong, with which
/// object, and optionally a hint for the user. Never carries secrets or plaintext.
public struct VaultError: Error, Sendable, CustomStringConvertible {
    /// Broad category; the CLI maps it to an exit code (Docs/CLI.md).
    public enum Kind: Sendable, Equatable {
        /// Bad arguments or input values.
        case invalidInput
        /// A named file, vault, group, case or document does not exist.
        case notFound
        /// The destination already exists and overwriting was not requested.
        case alreadyExists
        /// Wrong passphrase, or data that failed authentication or parsing.
        case authenticationFailed
        /// The acting identity's role does not allow this operation.
        case notPermitted
        /// Verification found problems.
        case integrity
        /// This machine has not been told to trust the vault (`evault trust`).
        case untrusted
        /// Some records could not be opened with the reader's keys; the rest was shown.
        case unreadable
        /// An operating-system call failed (I/O, disk full, permissions).
        case io
    }

    /// The category.
    public let kind: Kind
    /// One sentence naming the object and what is wrong; every value in it escaped.
    public let text: SafeText
    /// What the user might do about it, if anything useful can be said.
    public let hintText: SafeText?

    /// The message, safe for a terminal.
    public var message: String { text.rendered }
    /// The hint, safe for a terminal.
    public var hint: String? { hintText?.rendered }

    /// Creates an error. Values interpolated into `message` and `hint` are
    /// escaped (`SafeText`): a name or file name quoted in an error cannot
    /// repaint the terminal.
    public init(_ kind: Kind, _ message: SafeText, hint: SafeText? = nil) {
        self.kind = kind
        self.text = message
        self.hintText = hint
    }

    public var description: String { message }

    /// Converts any error raised below the library surface into a `VaultError`
    /// that names `object`.
    static func wrapping(_ error: Error, object: String) -> VaultError {
        switch error {
        case let error as VaultError: return error
        case let error as FormatError: return VaultError(.authenticationFailed, "\(error)")  // names its structure
        case let error as CryptoError: return VaultError(.authenticationFailed, "\(object): \(error)")
        case let error as SystemCallError: return VaultError(.io, "\(object): \(error)")
        default: return VaultError(.io, "\(object): \(error)")
        }
    }
}
