import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The content-addressed, write-once blob folder of a vault: each blob is named
/// by the lowercase hex SHA-256 of its bytes, so anyone can check it with
/// `sha256sum`. Blobs are never modified; a new blob is durable (file and
/// folder fsynced) before the event that names it commits.
///
/// Every access goes through the folder handle opened once with the vault
/// (`FolderHandle`): no link is followed, nothing but a regular file is read.
/// If `blobs/` itself is missing, a link or not a folder, every operation that
/// needs it fails with that error, and `verify` reports it as a finding.
public struct BlobStore: Sendable {
    /// `VAULT/blobs`, for messages.
    public let folder: String
    private let handle: Result<FolderHandle, VaultError>
    let calls: SystemCalls

    init(folder: String, handle: Result<FolderHandle, VaultError>, calls: SystemCalls) {
        self.folder = folder
        self.handle = handle
        self.calls = calls
    }

    /// The blob folder's handle, or why it cannot be used.
    func requireHandle() throws -> FolderHandle { try handle.get() }

    /// The file name of the blob with this SHA-256.
    static func name(for hash: [UInt8]) -> String { Hex.encode(hash) }

    /// The path of the blob with this SHA-256, for messages.
    public func path(for hash: [UInt8]) -> String { "\(folder)/\(Self.name(for: hash))" }

    /// A new, invisible blob file to stream into.
    func newBlob() throws -> DurableFile { try DurableFile(in: requireHandle(), calls: calls) }

    /// Opens the blob with this hash; refuses anything but a regular file.
    func open(_ hash: [UInt8], what: String) throws -> ReadableFile {
        try requireHandle().openRegular(Self.name(for: hash), what: what)
    }

    /// Removes the blob with this hash (an add that could not be recorded).
    func remove(_ hash: [UInt8]) {
        try? requireHandle().remove(Self.name(for: hash))
    }

    /// Every entry in the folder, with its type (not followed).
    func entries(kindsOnly: Bool = false) throws -> [(name: String, type: EntryType)] { try requireHandle().entries(kindsOnly: kindsOnly) }

    /// Whether `name` is one evault gives a blob: 64 lowercase hex characters.
    static func isBlobName(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Whether `name` is one evault gives a temporary file: `.tmp-` and 16 lowercase hex characters.
    static func isTemporaryName(_ name: String) -> Bool {
        guard name.hasPrefix(".tmp-") else { return false }
        let suffix = name.utf8.dropFirst(5)
        return suffix.count == 16 && suffix.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}


