import ArgumentParser
import EvidenceVault
import Foundation
import VaultCrypto

/// `--vault DIR` (or `EVAULT_VAULT`).
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: "The vault folder (default: $EVAULT_VAULT).")
    var vault: String?

    func path() throws -> String {
        if let vault { return vault }
        if let value = ProcessInfo.processInfo.environment["EVAULT_VAULT"], !value.isEmpty { return value }
        throw VaultError(.invalidInput, "no vault given", hint: "pass --vault DIR or set EVAULT_VAULT")
    }

    /// Opens the vault, anchored to what this user's machine remembers about it.
    /// Commands that only read pass `.read`: the database is then opened
    /// read-only and never migrated or written (Docs/CLI.md "Reading never writes").
    func open(_ access: Vault.Access) throws -> Vault {
        try Vault.open(at: path(), access: access, logger: VaultLogging.warningsToStandardError, knownVaults: Self.knownVaults())
    }

    static func knownVaults() -> KnownVaults { KnownVaults.forCurrentUser() }
}

/// `--identity FILE` (or `EVAULT_IDENTITY`) and where its passphrase comes from.
struct IdentityOptions: ParsableArguments {
    @Option(name: .long, help: "Your .identity file (default: $EVAULT_IDENTITY).")
    var identity: String?
    @Option(name: .long, help: "Read the identity's passphrase from FILE instead of EVAULT_PASSPHRASE or the terminal.")
    var passphraseFile: String?

    var path: String? {
        if let identity { return identity }
        if let value = ProcessInfo.processInfo.environment["EVAULT_IDENTITY"], !value.isEmpty { return value }
        return nil
    }

    /// Unlocks the identity; required.
    func unlock() throws -> UnlockedIdentity {
        guard let path else {
            throw VaultError(.invalidInput, "this command needs your identity", hint: "pass --identity FILE or set EVAULT_IDENTITY")
        }
        return try Self.unlock(path: path, passphraseFile: passphraseFile)
    }

    /// Reads and unlocks the identity file at `path`.
    static func unlock(path: String, passphraseFile: String?) throws -> UnlockedIdentity {
        let locked = try IdentityStore.loadSecret(path)
        let passphrase = try PassphraseSource(file: passphraseFile, environmentVariable: "EVAULT_PASSPHRASE")
            .read(prompt: "Passphrase for \(locked.publicIdentity.name): ")
        return try locked.unlock(passphrase: passphrase, structure: path)
    }

    /// Unlocks the identity if one was given.
    func unlockIfGiven() throws -> UnlockedIdentity? { path == nil ? nil : try unlock() }
}

/// `--json`.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON document.")
    var json = false
}

/// A progress line on stderr, only when stderr is a terminal and the work is large.
enum ProgressLine {
    static let threshold: UInt64 = 8 << 20

    static func make(label: String) -> ((UInt64, UInt64) -> Void)? {
        guard isatty(2) == 1 else { return nil }
        nonisolated(unsafe) var lastPercent = -1
        return { done, total in
            guard total >= threshold else { return }
            let percent = Int(done * 100 / max(total, 1))
            guard percent != lastPercent else { return }
            lastPercent = percent
            Terminal.progress("\r\(label): \(percent)% of \(total >> 20) MiB")
            if done >= total { Terminal.progress("\n") }
        }
    }
}

extension Date {
    var iso8601: String { ISO8601DateFormatter().string(from: self) }
}

/// A time for `log --since/--until`: an ISO 8601 date (a whole day in UTC) or
/// a date and time with its zone. A time without a zone is refused: whose
/// clock it meant would be a guess.
struct LogTime: ExpressibleByArgument {
    /// The first instant it names.
    let start: Date
    /// The first instant after it: the next day for a date, the instant itself for a time.
    let end: Date

    init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        let dateOnly = ISO8601DateFormatter()
        dateOnly.formatOptions = [.withFullDate]
        if text.count == 10, let day = dateOnly.date(from: text) {
            (start, end) = (day, day.addingTimeInterval(86_400))
            return
        }
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime], [.withInternetDateTime, .withFractionalSeconds],
                                                      [.withFullDate, .withTime, .withDashSeparatorInDate, .withColonSeparatorInTime, .withTimeZone]] {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = options
            if let instant = formatter.date(from: text) {
                (start, end) = (instant, instant)
                return
            }
        }
        return nil
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

extension Role: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}

extension DocumentKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(name: argument) }
    public static var allValueStrings: [String] { allCases.map(\.description) }
}
