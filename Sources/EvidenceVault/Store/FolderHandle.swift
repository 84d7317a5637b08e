import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What a name in a folder is, looked at without following it.
enum EntryType: Equatable, CustomStringConvertible {
    case missing
    case regular(size: UInt64, modified: Int)
    case folder
    case symbolicLink
    case fifo
    case socket
    case device

    init(_ status: stat) {
        switch status.st_mode & S_IFMT {
        case S_IFREG: self = .regular(size: UInt64(status.st_size), modified: status.st_mtim.tv_sec)
        case S_IFDIR: self = .folder
        case S_IFLNK: self = .symbolicLink
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        default: self = .device
        }
    }

    var isRegular: Bool { if case .regular = self { return true } else { return false } }

    var description: String {
        switch self {
        case .missing: return "missing"
        case .regular: return "a regular file"
        case .folder: return "a folder"
        case .symbolicLink: return "a symbolic link"
        case .fifo: return "a FIFO"
        case .socket: return "a socket"
        case .device: return "a device"
        }
    }
}

/// A folder opened once; every entry in it is reached relative to this handle
/// (the `openat` family), never through a link, with its type checked before
/// anything is read, and without blocking (THREATS.md 41).
///
/// The vault folder and its `blobs/` are held as `FolderHandle`s, so that
/// whoever holds the storage cannot redirect a read, a write or a removal
/// outside the vault with a symbolic link, nor stall evault with a FIFO.
final class FolderHandle: @unchecked Sendable {
    /// The folder's path as given, for messages.
    let path: String
    let descriptor: Int32

    /// Opens the folder at `path`. A link at `path` itself is followed only
    /// with `followingLink` (the vault folder is named by the user; what is
    /// inside it is not).
    init(path: String, followingLink: Bool, what: String) throws {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (followingLink ? 0 : O_NOFOLLOW))
        guard descriptor >= 0 else { throw Self.openError(errno, path: path, what: what) }
        self.path = path
        self.descriptor = descriptor
    }

    /// Opens the folder `name` inside `parent`, refusing a link or anything that is not a folder.
    init(child name: String, of parent: FolderHandle, what: String) throws {
        let full = "\(parent.path)/\(name)"
        let type = parent.entryType(name)
        guard type == .folder else {
            throw type == .missing ? VaultError(.notFound, "\(what) \(full) does not exist")
                : VaultError(.integrity, "\(what) \(full) is \(type), not a folder: refused")
        }
        let descriptor = openat(parent.descriptor, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.openError(errno, path: full, what: what) }
        self.path = full
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    private static func openError(_ code: Int32, path: String, what: String) -> VaultError {
        switch code {
        case ENOENT: return VaultError(.notFound, "\(what) \(path) does not exist")
        case ELOOP: return VaultError(.integrity, "\(what) \(path) is a symbolic link: refused")
        case ENOTDIR: return VaultError(.invalidInput, "\(what) \(path) is not a folder")
        default: return VaultError(.io, "\(what) \(path) cannot be opened: \(String(cString: strerror(code)))")
        }
    }

    /// `path/name`, for messages.
    func display(_ name: String) -> String { "\(path)/\(name)" }

    /// What `name` is, without following it.
    func entryType(_ name: String) -> EntryType {
        var status = stat()
        guard fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return .missing }
        return EntryType(status)
    }

    /// Opens the regular file `name` for reading. A link, FIFO, device or
    /// folder is refused before it is opened, and again by `fstat` after the
    /// (non-blocking, non-following) open, so a swap in between cannot slip through.
    func openRegular(_ name: String, what: String) throws -> ReadableFile {
        let type = entryType(name)
        guard type.isRegular else {
            throw type == .missing ? VaultError(.notFound, "\(what) \(display(name)) does not exist")
                : VaultError(.integrity, "\(what) \(display(name)) is \(type), not a regular file: refused")
        }
        let opened = openat(descriptor, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard opened >= 0 else {
            throw VaultError(.io, "\(what) \(display(name)) cannot be opened: \(String(cString: strerror(errno)))")
        }
        return try ReadableFile(descriptor: opened, path: display(name), what: what)
    }

    /// Every name in the folder except `.` and `..`, with its type (not followed).
    /// With `kindsOnly`, the type comes from the directory entry itself where the
    /// file system records it (no `fstatat` per entry), and a regular file's size
    /// and time are then 0: for checks of what an entry is, not of its size or age.
    func entries(kindsOnly: Bool = false) throws -> [(name: String, type: EntryType)] {
        let copy = dup(descriptor)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw SystemCallError(function: "fdopendir", path: path, errno: errno)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var result: [(String, EntryType)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if kindsOnly, let kind = Self.kind(entry.pointee.d_type) {
                result.append((name, kind))
            } else {
                result.append((name, entryType(name)))
            }
        }
        return result
    }

    /// The type a directory entry records, if the file system records one.
    private static func kind(_ type: UInt8) -> EntryType? {
        switch Int32(type) {
        case Int32(DT_REG): return .regular(size: 0, modified: 0)
        case Int32(DT_DIR): return .folder
        case Int32(DT_LNK): return .symbolicLink
        case Int32(DT_FIFO): return .fifo
        case Int32(DT_SOCK): return .socket
        case Int32(DT_CHR), Int32(DT_BLK): return .device
        default: return nil  // DT_UNKNOWN: ask fstatat
        }
    }

    /// Removes the file `name` in this folder (never a folder; a link itself, not its target).
    func remove(_ name: String) throws {
        try systemCall("unlinkat", path: display(name)) { unlinkat(descriptor, name, 0) }
    }

    /// Renames `from` to `to`, both in this folder.
    func rename(_ from: String, to: String) throws {
        try systemCall("renameat", path: display(to)) { renameat(descriptor, from, descriptor, to) }
    }

    /// fsyncs the folder, so that links, renames and removals in it are durable.
    func sync(calls: SystemCalls = POSIXCalls()) throws {
        try systemCall("fsync", path: path, retryOnInterrupt: false) { calls.fsync(descriptor) }
    }
}

/// An open, read-only file descriptor that closes itself.
final class ReadableFile {
    let descriptor: Int32
    let path: String
    let size: UInt64

    /// Takes over `descriptor`; refuses anything but a regular file, then makes reads blocking again.
    init(descriptor: Int32, path: String, what: String) throws {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            close(descriptor)
            throw VaultError(.io, "\(what) \(path) cannot be examined: \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw VaultError(.invalidInput, "\(what) \(path) is \(EntryType(status)), not a regular file: refused")
        }
        let flags = fcntl(descriptor, F_GETFL)
        if flags >= 0 { _ = fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) }
        self.descriptor = descriptor
        self.path = path
        self.size = UInt64(status.st_size)
    }

    /// Opens a file the user named (an input to add, an identity file). A link
    /// the user gave is followed, but only to a regular file: a FIFO, device,
    /// socket or folder is refused before it is opened, and nothing blocks.
    convenience init(userPath path: String, what: String) throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            if errno == ENOENT { throw VaultError(.notFound, "\(what) \(path) does not exist") }
            throw VaultError(.io, "\(what) \(path) cannot be examined: \(String(cString: strerror(errno)))")
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw VaultError(.invalidInput, "\(what) \(path) is \(EntryType(status)), not a regular file: refused")
        }
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else {
            if errno == ENOENT { throw VaultError(.notFound, "\(what) \(path) does not exist") }
            throw VaultError(.io, "\(what) \(path) cannot be opened: \(String(cString: strerror(errno)))")
        }
        try self.init(descriptor: descriptor, path: path, what: what)
    }

    deinit { close(descriptor) }

    /// Reads exactly `buffer.count` bytes unless the file ends first; returns the count read.
    func readFully(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var total = 0
        while total < buffer.count {
            let got = read(descriptor, base + total, buffer.count - total)
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
