import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading one of this machine's state files (`known-vaults.json`, trust
/// records), which whoever can write the state folder may have replaced: it
/// is opened without following a link and without waiting on a FIFO, and must
/// be a regular file of at most `maxLength` bytes, read whole.
enum StateFile {
    /// The file's bytes, nil when there is none. `what` names it in errors.
    static func read(_ path: String, maxLength: Int, what: String, hint: SafeText) throws -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            let reason = errno == ELOOP ? "is a symbolic link" : "cannot be opened (\(String(cString: strerror(errno))))"
            throw VaultError(.integrity, "\(what), \(path), \(reason): refused", hint: hint)
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw VaultError(.integrity, "\(what), \(path), is not a regular file: refused", hint: hint)
        }
        guard info.st_size <= maxLength else {
            throw VaultError(.integrity, "\(what), \(path), is \(info.st_size) bytes, more than the \(maxLength >> 20) MiB evault ever writes: refused", hint: hint)
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if got < 0, errno == EINTR { continue }
            guard got > 0 else { throw SystemCallError(function: "read", path: path, errno: got < 0 ? errno : EIO) }
            done += got
        }
        return bytes
    }
}
