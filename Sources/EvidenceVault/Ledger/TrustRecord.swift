import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Which vault one identity was told to trust at each folder path on this
/// machine, authenticated with a key derived from that identity's secret key
/// (Docs/FORMAT.md §12).
///
/// `known-vaults.json` (`KnownVaults`) is the machine's anchor, and it is not
/// authenticated: whoever can write the state folder can point a trusted path
/// at a vault of their own. This record is what that person cannot forge. A
/// command run with an identity refuses a vault unless this identity's record
/// binds the folder to the vault's id and genesis hash (THREATS.md 62). A
/// binding is written only by creating the vault (`Vault.create`) or by
/// `trust` with the identity and out-of-band evidence.
///
/// The file is read whole and checked before any binding in it is used; one
/// that fails its check is refused, never partly used. Every read-modify-write
/// holds an exclusive `flock` on `trust/lock`.
struct TrustRecord {
    /// What a folder is bound to.
    struct Binding: Equatable, Sendable {
        let vaultID: ObjectID
        let genesisHash: [UInt8]
    }

    static let label = Array("evidencevault/trust-record/v1".utf8) + [0]
    static let version: UInt8 = 1
    static let tagLength = 32
    /// Longest folder path a binding holds, in UTF-8 bytes (Linux's PATH_MAX).
    static let maxPathLength = 4096
    /// Largest file read: a few thousand bindings, far beyond any real use.
    static let maxFileLength = 1 << 20

    /// The record's file.
    let path: String
    private let key: SymmetricKey
    private let owner: Fingerprint

    /// `actor`'s record in the machine's state folder `stateFolder`.
    init(stateFolder: String, actor: UnlockedIdentity) throws {
        self.init(path: "\(stateFolder)/trust/\(actor.fingerprint.hex).trust", key: try actor.trustRecordKey(), owner: actor.fingerprint)
    }

    /// A record at `path` under `key` (`trustRecordKey`) for `owner` (tests: the vector of Docs/FORMAT.md §12).
    init(path: String, key: SymmetricKey, owner: Fingerprint) {
        self.path = path
        self.key = key
        self.owner = owner
    }

    /// The bindings, by folder key (`KnownVaults.key`); empty when there is no
    /// record yet. Throws `.integrity` for a record that fails its check.
    func bindings() throws -> [String: Binding] {
        guard let bytes = try readFile() else { return [:] }
        return try decode(bytes)
    }

    /// Binds `folderKey` to `binding` (replacing what it was bound to), under the lock.
    /// - Parameter discardingDamaged: a record that fails its check is replaced
    ///   by one holding only this binding (for `trust`, which the user asked for
    ///   with out-of-band evidence); otherwise the failure is thrown.
    /// - Returns: whether a damaged record was discarded.
    @discardableResult
    func bind(_ folderKey: String, to binding: Binding, discardingDamaged: Bool = false) throws -> Bool {
        try withLock {
            var current: [String: Binding] = [:]
            var discarded = false
            do { current = try bindings() } catch let error as VaultError where error.kind == .integrity && discardingDamaged {
                discarded = true
            }
            guard current[folderKey] != binding || discarded else { return false }
            current[folderKey] = binding
            try AtomicFile.write(try encode(current), to: path, mode: .replace)
            return discarded
        }
    }

    // MARK: encoding (Docs/FORMAT.md §12)

    func encode(_ bindings: [String: Binding]) throws -> [UInt8] {
        var writer = ByteWriter()
        writer.header(.trustRecord, version: Self.version)
        writer.raw(owner.rawValue)
        writer.u32(UInt32(bindings.count))
        for (folder, binding) in bindings.sorted(by: { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }) {
            let pathBytes = Array(folder.utf8)
            guard !pathBytes.isEmpty, pathBytes.count <= Self.maxPathLength else {
                throw VaultError(.invalidInput, "the folder path \(folder) is longer than \(Self.maxPathLength) bytes: it cannot be trusted")
            }
            writer.bytes16(pathBytes)
            writer.raw(binding.vaultID.rawValue)
            writer.raw(binding.genesisHash)
        }
        return writer.bytes + (try tag(writer.bytes))
    }

    func decode(_ bytes: [UInt8]) throws -> [String: Binding] {
        let refused = { (why: String) in
            VaultError(.integrity, "the trust record of this identity, \(path), \(why): refused",
                       hint: "it was altered or damaged (by someone who can write this machine's state folder); trust each vault again with 'evault trust --vault DIR --identity FILE --genesis HASH'")
        }
        guard bytes.count > Self.tagLength else { throw refused("is too short") }
        let body = Array(bytes.dropLast(Self.tagLength))
        guard let expected = try? tag(body), ConstantTime.equal(expected, Array(bytes.suffix(Self.tagLength))) else {
            throw refused("fails its authentication check (altered, or not written by this identity)")
        }
        do {
            var reader = ByteReader(body, structure: "trust record")
            _ = try reader.header(expecting: .trustRecord, supportedVersions: Self.version...Self.version)
            guard try reader.raw(32, "owner") == owner.rawValue else { throw refused("belongs to another identity") }
            let count = Int(try reader.u32("binding count"))
            var bindings: [String: Binding] = [:]
            var previous: [UInt8]?
            for _ in 0..<min(count, Self.maxFileLength) {
                let pathBytes = try reader.bytes16("folder path", max: Self.maxPathLength)
                guard let folder = String(validating: pathBytes, as: UTF8.self), folder.hasPrefix("/") else { throw refused("holds a folder path that is not absolute UTF-8") }
                guard previous.map({ $0.lexicographicallyPrecedes(pathBytes) }) ?? true else { throw refused("holds folder paths out of order or twice") }
                previous = pathBytes
                bindings[folder] = Binding(vaultID: try ObjectID(rawValue: try reader.raw(ObjectID.length, "vault id")),
                                           genesisHash: try reader.raw(32, "genesis hash"))
            }
            guard bindings.count == count else { throw refused("is truncated") }
            try reader.expectEnd()
            return bindings
        } catch let error as FormatError {
            throw refused("is malformed (\(error))")
        }
    }

    private func tag(_ body: [UInt8]) throws -> [UInt8] {
        try KeyedHash.blake2b(Self.label + body, key: key.bytes, outputLength: Self.tagLength)
    }

    // MARK: files

    /// The record's bytes, nil when there is none (`StateFile`: never a link, FIFO or oversized file).
    private func readFile() throws -> [UInt8]? {
        try KeptState.requireOwnFolder((path as NSString).deletingLastPathComponent)
        return try StateFile.read(path, maxLength: Self.maxFileLength, what: "the trust record of this identity",
                                  hint: "someone who can write this machine's state folder may have planted it; move it away and trust each vault again with 'evault trust --vault DIR --identity FILE --genesis HASH'")
    }

    private func withLock<T>(_ body: () throws -> T) throws -> T {
        try KeptState.requireOwnFolder((path as NSString).deletingLastPathComponent)
        let lockPath = (path as NSString).deletingLastPathComponent + "/lock"  // one for every identity's record
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SystemCallError(function: "open", path: lockPath, errno: errno) }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else { throw SystemCallError(function: "flock", path: lockPath, errno: errno) }
        }
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}

extension UnlockedIdentity {
    /// The key that authenticates this identity's trust record on this machine:
    /// `crypto_kdf_derive_from_key(subkey 2, context "EVtrustr")` keyed with the
    /// identity's X25519 secret key (Docs/FORMAT.md §12).
    func trustRecordKey() throws -> SymmetricKey {
        try SymmetricKey(bytes: encryption.secretKey).derive(subkeyID: 2, context: "EVtrustr")
    }
}
