import Logging

/// The library never creates a logger of its own for output: callers pass one in.
/// This is the no-op default used when they do not. Log lines never carry
/// secrets, plaintext or sensitive metadata (SECURITY.md).
public enum VaultLogging {
    /// A logger that discards everything.
    public static let silent = Logger(label: "evidencevault", factory: { _ in SwiftLogNoOpLogHandler() })
}
