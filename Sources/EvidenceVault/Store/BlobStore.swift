import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// The content-addressed, write-once blob folder of a vault: each blob is named
/// by the lowercase hex SHA-256 of its bytes, so anyone can check it with
/// `sha256sum`. Blobs are never modified; a new blob is durable (file and
/// folder fsynced) before the event that names it commits.
public struct BlobStore: Sendable {
    /// `VAULT/blobs`
    public let folder: String
    let calls: SystemCalls

    init(folder: String, calls: SystemCalls) {
        self.folder = folder
        self.calls = calls
    }

    /// The path of the blob with this SHA-256.
    public func path(for hash: [UInt8]) -> String { "\(folder)/\(Hex.encode(hash))" }

    /// A new, invisible blob file to stream into.
    func newBlob() throws -> DurableFile { try DurableFile(in: folder, calls: calls) }

    /// Names of every entry in the folder (for orphan detection).
    func allNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder)
    }
}

/// An open, read-only file descriptor that closes itself.
final class ReadableFile {
    let descriptor: Int32
    let path: String
    let size: UInt64

    init(path: String, what: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw VaultError(.notFound, "\(what) \(path) does not exist") }
            throw VaultError(.io, "\(what) \(path) cannot be opened: \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            close(descriptor)
            throw VaultError(.io, "\(what) \(path) cannot be examined: \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw VaultError(.invalidInput, "\(what) \(path) is not a regular file")
        }
        self.descriptor = descriptor
        self.path = path
        self.size = UInt64(status.st_size)
    }

    deinit { close(descriptor) }

    /// Reads exactly `buffer.count` bytes unless the file ends first; returns the count read.
    func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let got = read(descriptor, buffer.baseAddress! + total, buffer.count - total)
            if got < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(function: "read", path: path, errno: errno)
            }
            if got == 0 { break }
            total += got
        }
        return total
    }
}
