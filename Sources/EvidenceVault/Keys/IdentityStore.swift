import Foundation
import VaultCrypto

/// File operations on identities: create the pair of files, read either kind,
/// change a passphrase. Every write is atomic (`AtomicFile`).
public enum IdentityStore {
    /// What an identity path held.
    public enum Loaded: Sendable {
        /// A `.pub` file.
        case publicOnly(PublicIdentity)
        /// A `.identity` file (still locked).
        case secret(LockedIdentity)

        /// The public identity either way.
        public var publicIdentity: PublicIdentity {
            switch self {
            case .publicOnly(let identity): return identity
            case .secret(let locked): return locked.publicIdentity
            }
        }
    }

    /// Paths of the two files `create` writes.
    public struct CreatedFiles: Sendable {
        /// `DIR/NAME.identity`
        public let secretPath: String
        /// `DIR/NAME.pub`
        public let publicPath: String
        /// The new identity's public half.
        public let publicIdentity: PublicIdentity
    }

    /// Creates `DIR/NAME.identity` and `DIR/NAME.pub`; refuses to overwrite either.
    public static func create(name: String, in folder: String, passphrase: SecureBytes, parameters: KDFParameters,
                              createdAt: Date = Date()) throws -> CreatedFiles {
        try PublicIdentity.validate(name: name)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw VaultError(.notFound, "output folder \(folder) does not exist")
        }
        let secretPath = "\(folder)/\(name).identity"
        let publicPath = "\(folder)/\(name).pub"
        for path in [secretPath, publicPath] where FileManager.default.fileExists(atPath: path) {
            throw VaultError(.alreadyExists, "\(path) already exists; refusing to overwrite it",
                             hint: "choose another name or folder")
        }
        let identity = try UnlockedIdentity.generate(name: name, createdAt: createdAt)
        let sealed = try identity.sealed(passphrase: passphrase, parameters: parameters)
        try AtomicFile.write(sealed, to: secretPath, mode: .createNew)
        do {
            try AtomicFile.write(identity.publicIdentity.encoded(), to: publicPath, mode: .createNew)
        } catch {
            unlink(secretPath)
            throw error
        }
        return CreatedFiles(secretPath: secretPath, publicPath: publicPath, publicIdentity: identity.publicIdentity)
    }

    /// Reads a `.pub` or `.identity` file, deciding by its type tag, not its name.
    public static func load(_ path: String) throws -> Loaded {
        let bytes = try readFile(path, what: "identity file")
        guard bytes.count > 4 else {
            throw VaultError(.authenticationFailed, "\(path) is not an EvidenceVault identity (too short)")
        }
        do {
            switch bytes[4] {
            case TypeTag.secretIdentity.rawValue:
                return .secret(try LockedIdentity(bytes: bytes, structure: path))
            default:
                return .publicOnly(try PublicIdentity.decode(bytes, structure: path))
            }
        } catch {
            throw VaultError.wrapping(error, object: path)
        }
    }

    /// Reads a `.identity` file; a `.pub` is refused with a clear message.
    public static func loadSecret(_ path: String) throws -> LockedIdentity {
        switch try load(path) {
        case .secret(let locked): return locked
        case .publicOnly:
            throw VaultError(.invalidInput, "\(path) is a public identity; a secret identity file (.identity) is needed here")
        }
    }

    /// Reads a `.pub` file (a `.identity` is refused: public keys are shared as `.pub`).
    public static func loadPublic(_ path: String) throws -> PublicIdentity {
        switch try load(path) {
        case .publicOnly(let identity): return identity
        case .secret:
            throw VaultError(.invalidInput, "\(path) is a secret identity file; share and add the .pub file instead")
        }
    }

    /// Opens an identity file with its passphrase.
    public static func unlock(_ path: String, passphrase: SecureBytes) throws -> UnlockedIdentity {
        try loadSecret(path).unlock(passphrase: passphrase, structure: path)
    }

    /// Re-encrypts `path` under a new passphrase (fresh salt and nonce), replacing
    /// the file atomically: a crash leaves the old file or the new one.
    public static func changePassphrase(_ path: String, old: SecureBytes, new: SecureBytes,
                                        parameters: KDFParameters? = nil) throws {
        let locked = try loadSecret(path)
        let identity = try locked.unlock(passphrase: old, structure: path)
        let sealed = try identity.sealed(passphrase: new, parameters: parameters ?? locked.kdfParameters)
        try AtomicFile.write(sealed, to: path, mode: .replace)
    }

    /// Identity files are a few hundred bytes; anything larger is refused before it is read.
    static let maxFileLength: UInt64 = 64 * 1024

    static func readFile(_ path: String, what: String) throws -> [UInt8] {
        let file = try ReadableFile(userPath: path, what: what)
        guard file.size <= maxFileLength else {
            throw VaultError(.authenticationFailed, "\(what) \(path) is \(file.size) bytes: too large to be an identity (at most \(maxFileLength))")
        }
        var bytes = [UInt8](repeating: 0, count: Int(file.size))
        let got = try bytes.withUnsafeMutableBytes { try file.readFully(into: $0) }
        return Array(bytes.prefix(got))
    }
}
