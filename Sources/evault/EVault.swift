import ArgumentParser
import EvaultStartup
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
                      ListCommand.self, ShowCommand.self, ExportCommand.self, VerifyCommand.self, LogCommand.self, TrustCommand.self,
                      ExposureCommand.self, ReencryptCommand.self, IndexCommand.self, CleanCommand.self, DemoCommand.self]
    )

    /// Runs the command and turns every failure into `evault: error: ...` and a documented exit code.
    static func main() {
        // Before anything reads the environment or a key: no core file, no same-user
        // tracing, and the passphrase variables moved into secure memory (THREATS.md 49).
        do {
            // Done already by EvaultStartup's constructor before main; again here so that a failure is reported.
            guard evault_startup_locked_down() == 1 else { throw CryptoError.systemFailure(function: "early lock-down", errno: errno) }
            try ProcessHygiene.lockDown()
            try SecretEnvironment.capture(["EVAULT_PASSPHRASE", "EVAULT_NEW_PASSPHRASE"])
        } catch {
            Terminal.fail("cannot protect this process's secrets: \(error)", hint: nil, status: ExitStatus.failure)
        }
        // Arguments are file names and texts: one that is not UTF-8 would be read with
        // U+FFFD in place of its bad bytes, and name another file than the one typed.
        for index in 1..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[index], String(validatingCString: raw) != nil else {
                Terminal.fail("argument \(index) is not valid UTF-8 (evault reads file names and texts as UTF-8)",
                              hint: "rename the file, or pass a name without those bytes", status: ExitStatus.usage)
            }
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as VaultError {
            Terminal.fail(error.text, hint: error.hintText, status: ExitStatus.for(error.kind))
        } catch let error as CryptoError {
            Terminal.fail("\(error)", hint: nil, status: ExitStatus.authenticationFailed)
        } catch let error as FormatError {
            Terminal.fail("\(error)", hint: nil, status: ExitStatus.authenticationFailed)
        } catch let error as SystemCallError {
            Terminal.fail("\(error)", hint: nil, status: ExitStatus.failure)
        } catch {
            let code = exitCode(for: error)
            if code == .success || code == .validationFailure && (error is CleanExit) {
                exit(withError: error)
            }
            // Usage errors from argument parsing: our prefix, then the usage text.
            if code == .validationFailure {
                var text = fullMessage(for: error)
                if text.hasPrefix("Error: ") { text.removeFirst("Error: ".count) }
                // The parser quotes what was typed: escaped like any other untrusted text, line by line.
                Terminal.fail(SafeText.joined(text.split(separator: "\n", omittingEmptySubsequences: false).map { "\($0)" }, separator: "\n"),
                              hint: nil, status: ExitStatus.usage)
            }
            // Anything else (never expected): our prefix and the documented failure status.
            if !(error is ExitCode) { Terminal.fail("\(error)", hint: nil, status: ExitStatus.failure) }
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
    static let unreadable: Int32 = 5
    static let untrusted: Int32 = 6
    static let usage: Int32 = 64

    static func `for`(_ kind: VaultError.Kind) -> Int32 {
        switch kind {
        case .invalidInput, .notFound, .alreadyExists, .io: return failure
        case .authenticationFailed: return authenticationFailed
        case .notPermitted: return notPermitted
        case .integrity: return integrity
        case .unreadable: return unreadable
        case .untrusted: return untrusted
        }
    }
}
