import Foundation
import Logging

/// The library never creates a logger of its own for output: callers pass one in.
/// These are the loggers it offers them. Log lines never carry secrets,
/// plaintext or sensitive metadata (SECURITY.md).
public enum VaultLogging {
    /// A logger that discards everything.
    public static let silent = Logger(label: "evidencevault", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Warnings and errors only, one line each on standard error, every value
    /// escaped (`TextEscaping.escape`): what the CLI shows a user of what the library
    /// noticed but could work around (a refused kept state, a head not remembered).
    public static let warningsToStandardError = Logger(label: "evidencevault", factory: { _ in WarningsHandler() })
}

/// Prints `evault: warning: MESSAGE (key: value, ...)` for warnings and above.
struct WarningsHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let details = all.keys.sorted().map { "\($0): \(TextEscaping.escape("\(all[$0]!)"))" }.joined(separator: ", ")
        let line = "evault: \(event.level >= .error ? "error" : "warning"): \(TextEscaping.escape("\(event.message)"))"
            + (details.isEmpty ? "" : " (\(details))") + "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }
}
