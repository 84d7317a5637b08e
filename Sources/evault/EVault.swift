import ArgumentParser
import EvidenceVault
import Foundation
import VaultCrypto

/// `evault`: the command line. Thin: parse, call the library, print.
@main
struct EVault: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evault",
        abstract: "An encrypted, auditable evidence vault for human-rights casework.",
        version: "0.1.0",
        subcommands: [IdentityCommand.self, InitCommand.self, GroupCommand.self, CaseCommand.self, AddCommand.self,
                      ListCommand.self, ShowCommand.self, ExportCommand.self, VerifyCommand.self, LogCommand.self,
                      IndexCommand.self, CleanCommand.self, DemoCommand.self]
    )

    /// Runs the command and turns every failure into `evault: error: ...` and a documented exit code.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as VaultError {
            Terminal.fail(error.message, hint: error.hint, status: ExitStatus.for(error.kind))
        } catch let error as CryptoError {
            Terminal.fail(error.description, hint: nil, status: ExitStatus.authenticationFailed)
        } catch let error as FormatError {
            Terminal.fail(error.description, hint: nil, status: ExitStatus.authenticationFailed)
        } catch let error as SystemCallError {
            Terminal.fail(error.description, hint: nil, status: ExitStatus.failure)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .validationFailure && (error is CleanExit) {
                exit(withError: error)
            }
            // Usage errors from argument parsing: our prefix, then the usage text.
            if code == .validationFailure {
                var text = fullMessage(for: error)
                if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
                FileHandle.standardError.write(Data("evault: error: \(text)\n".utf8))
                Foundation.exit(ExitStatus.usage)
            }
            exit(withError: error)
        }
    }
}

/// Exit codes, documented in Docs/CLI.md.
enum ExitStatus {
    static let failure: Int32 = 1
    static let authenticationFailed: Int32 = 2
    static let notPermitted: Int32 = 3
    static let integrity: Int32 = 4
    static let usage: Int32 = 64

    static func `for`(_ kind: VaultError.Kind) -> Int32 {
        switch kind {
        case .invalidInput, .notFound, .alreadyExists, .io: return failure
        case .authenticationFailed: return authenticationFailed
        case .notPermitted: return notPermitted
        case .integrity: return integrity
        }
    }
}

/// Output helpers: results to stdout, diagnostics to stderr.
enum Terminal {
    static func fail(_ message: String, hint: String?, status: Int32) -> Never {
        var text = "evault: error: \(message)\n"
        if let hint { text += "evault: hint: \(hint)\n" }
        FileHandle.standardError.write(Data(text.utf8))
        exit(status)
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data("\(message)\n".utf8))
    }

    /// Prints one JSON document (sorted keys, so output is stable for scripts and tests).
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        print(String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}
