import EvidenceVault
import Foundation

/// The only way evault writes to its standard output and error.
///
/// Every function takes `SafeText`, whose interpolated values are escaped, so
/// no name, title, file name or error text written by someone else reaches
/// the terminal raw (THREATS.md 42). `print` is not used anywhere else in this
/// module (a test checks the sources).
enum Terminal {
    /// One line of results on stdout.
    static func line(_ text: SafeText) {
        write("\(text.rendered)\n", to: FileHandle.standardOutput)
    }

    /// One diagnostic line on stderr.
    static func note(_ text: SafeText) {
        write("\(text.rendered)\n", to: FileHandle.standardError)
    }

    /// Progress on stderr, without a newline.
    static func progress(_ text: SafeText) {
        write(text.rendered, to: FileHandle.standardError)
    }

    /// `evault: error: ...` (and a hint) on stderr, then exit with `status`.
    static func fail(_ message: SafeText, hint: SafeText?, status: Int32) -> Never {
        var text = "evault: error: \(message.rendered)\n"
        if let hint { text += "evault: hint: \(hint.rendered)\n" }
        write(text, to: FileHandle.standardError)
        exit(status)
    }

    /// Prints one JSON document (sorted keys, so output is stable for scripts and
    /// tests); characters a terminal could interpret are written as `\\uXXXX`
    /// escapes, which JSON parsers read back as the same value.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let json = String(decoding: try encoder.encode(value), as: UTF8.self)
        write(TextEscaping.terminalSafeJSON(json) + "\n", to: FileHandle.standardOutput)
    }

    private static func write(_ text: String, to handle: FileHandle) {
        handle.write(Data(text.utf8))
    }
}
