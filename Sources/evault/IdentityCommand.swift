import ArgumentParser
import EvidenceVault
import Foundation
import VaultCrypto

/// `evault identity ...`
struct IdentityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identity",
        abstract: "Create, show and protect identities (a signing key and an encryption key).",
        subcommands: [IdentityNew.self, IdentityShow.self, IdentityPasswd.self]
    )
}

/// Argon2id presets offered on the command line.
enum KDFPreset: String, ExpressibleByArgument, CaseIterable {
    case interactive, moderate, sensitive

    var parameters: KDFParameters {
        switch self {
        case .interactive: return .interactive
        case .moderate: return .moderate
        case .sensitive: return .sensitive
        }
    }
}

/// `evault identity new NAME --out DIR`
struct IdentityNew: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Create NAME.identity (secret, passphrase-protected) and NAME.pub (to share).")

    @Argument(help: "Name of the identity; also the file name stem.")
    var name: String
    @Option(name: .long, help: "Folder to write the two files to.")
    var out: String
    @Option(name: .long, help: "Argon2id cost: interactive, moderate (default) or sensitive.")
    var kdf: KDFPreset = .moderate
    @Option(name: .long, help: "Read the new passphrase from FILE instead of EVAULT_PASSPHRASE or the terminal.")
    var passphraseFile: String?
    @Flag(name: .long, help: "Print one JSON document.")
    var json = false

    func run() throws {
        try TextRules.requirePrintable(name, what: "the identity name")
        try TextRules.requireNotFingerprintLike(name, among: [])
        let passphrase = try PassphraseSource(file: passphraseFile, environmentVariable: "EVAULT_PASSPHRASE")
            .readNew(prompt: "Passphrase for \(name): ")
        let created = try IdentityStore.create(name: name, in: out, passphrase: passphrase, parameters: kdf.parameters)
        if json {
            try Terminal.printJSON(IdentityReport(created.publicIdentity, kind: "secret-identity", kdf: kdf.parameters,
                                                  files: [created.secretPath, created.publicPath]))
        } else {
            Terminal.line("Created \(created.secretPath) (secret: keep it on this device, never share it)")
            Terminal.line("Created \(created.publicPath) (public: give it to your custodian)")
            Terminal.line("Fingerprint: \(created.publicIdentity.fingerprint.readable)")
            Terminal.line("Read the fingerprint to your custodian over a separate channel (phone, in person).")
        }
    }
}

/// `evault identity show FILE`
struct IdentityShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show name, fingerprint, public keys and creation time of a .pub or .identity file.")

    @Argument(help: "A .pub or .identity file.")
    var file: String
    @Flag(name: .long, help: "Print one JSON document.")
    var json = false

    func run() throws {
        let loaded = try IdentityStore.load(file)
        let report: IdentityReport
        switch loaded {
        case .publicOnly(let identity): report = IdentityReport(identity, kind: "public-identity", kdf: nil, files: [file])
        case .secret(let locked): report = IdentityReport(locked.publicIdentity, kind: "secret-identity", kdf: locked.kdfParameters, files: [file])
        }
        if json {
            try Terminal.printJSON(report)
        } else {
            Terminal.line("Name:           \(report.name)")
            Terminal.line("Fingerprint:    \(report.fingerprint)")
            Terminal.line("Type:           \(report.type)")
            Terminal.line("Created:        \(report.created)")
            Terminal.line("Signing key:    \(report.signingKey)  (Ed25519)")
            Terminal.line("Encryption key: \(report.encryptionKey)  (X25519)")
            if let kdf = report.kdf { Terminal.line("Passphrase KDF: Argon2id, opslimit \(kdf.opsLimit), memlimit \(kdf.memLimitMiB) MiB") }
        }
    }
}

/// `evault identity passwd FILE`
struct IdentityPasswd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passwd",
        abstract: "Change the passphrase of an identity file, replacing it atomically.")

    @Argument(help: "The .identity file.")
    var file: String
    @Option(name: .long, help: "Read the current passphrase from FILE instead of EVAULT_PASSPHRASE or the terminal.")
    var passphraseFile: String?
    @Option(name: .long, help: "Read the new passphrase from FILE instead of EVAULT_NEW_PASSPHRASE or the terminal.")
    var newPassphraseFile: String?
    @Option(name: .long, help: "Also change the Argon2id cost (default: keep the current one).")
    var kdf: KDFPreset?

    func run() throws {
        let locked = try IdentityStore.loadSecret(file)
        let old = try PassphraseSource(file: passphraseFile, environmentVariable: "EVAULT_PASSPHRASE")
            .read(prompt: "Current passphrase for \(locked.publicIdentity.name): ")
        // Check the old passphrase before asking for a new one.
        _ = try locked.unlock(passphrase: old, structure: file)
        let new = try PassphraseSource(file: newPassphraseFile, environmentVariable: "EVAULT_NEW_PASSPHRASE")
            .readNew(prompt: "New passphrase: ")
        try IdentityStore.changePassphrase(file, old: old, new: new, parameters: kdf?.parameters)
        Terminal.line("Passphrase changed for \(file) (fingerprint \(locked.publicIdentity.fingerprint.readable)).")
    }
}

/// What `identity show` and `identity new --json` print.
struct IdentityReport: Encodable {
    struct KDF: Encodable {
        let algorithm = "argon2id13"
        let opsLimit: UInt64
        let memLimitMiB: UInt64
    }
    let id: String
    let name: String
    let fingerprint: String
    let type: String
    let created: Date
    let signingKey: String
    let encryptionKey: String
    let kdf: KDF?
    let files: [String]

    init(_ identity: PublicIdentity, kind: String, kdf: KDFParameters?, files: [String]) {
        id = identity.fingerprint.hex
        name = identity.name
        fingerprint = identity.fingerprint.readable
        type = kind
        created = identity.createdDate
        signingKey = Hex.encode(identity.signingKey.rawValue)
        encryptionKey = Hex.encode(identity.encryptionKey.rawValue)
        self.kdf = kdf.map { KDF(opsLimit: $0.opsLimit, memLimitMiB: $0.memLimit >> 20) }
        self.files = files
    }
}
