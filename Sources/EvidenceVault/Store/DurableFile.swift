import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// A new file that becomes visible under its final name only once it is
/// complete and durable.
///
/// Where the file system allows it the data goes to an unnamed `O_TMPFILE`
/// inode, so a crash or `kill -9` leaves nothing behind at all; elsewhere to a
/// named temporary file `.tmp-<random>` (mode 0600) in the same folder, removed
/// on failure. `commit` fsyncs the data, links the file under its name (never
/// overwriting) or renames it over the old one, and fsyncs the folder. Any
/// failure is reported once and never retried into success (THREATS.md 34).
final class DurableFile {
    /// The folder the file will be named in.
    let folder: FolderHandle
    private let calls: SystemCalls
    private var descriptor: Int32
    private var temporaryName: String?
    private var finished = false

    /// - Parameter allowVisibleTemporary: whether a named temporary file may stand in
    ///   where the file system lacks `O_TMPFILE`. Exports of plaintext refuse it by
    ///   default: a `kill -9` could leave partial plaintext in such a file.
    init(in folder: FolderHandle, calls: SystemCalls = POSIXCalls(), allowVisibleTemporary: Bool = true) throws {
        self.folder = folder
        self.calls = calls
        let anonymous = calls.openat(folder.descriptor, ".", Self.openTemporaryFile | O_WRONLY | O_CLOEXEC, 0o600)
        if anonymous >= 0 {
            descriptor = anonymous
            temporaryName = nil
        } else if [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) {
            guard allowVisibleTemporary else {
                throw VaultError(.invalidInput, "the file system of \(folder.path) cannot keep a file invisible while it is written (no O_TMPFILE): an interrupted export could leave partial plaintext there",
                                 hint: "export to a folder on a local file system (ext4, xfs, btrfs, tmpfs), or pass --allow-visible-temp")
            }
            let name = ".tmp-\(Hex.encodeRandomSuffix())"
            descriptor = try systemCall("open", path: folder.display(name)) {
                calls.openat(folder.descriptor, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            temporaryName = name
        } else {
            throw SystemCallError(function: "open(O_TMPFILE)", path: folder.path, errno: errno)
        }
    }

    /// Linux `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`); the macro is not imported into Swift.
    static let openTemporaryFile: Int32 = 0o20000000 | O_DIRECTORY

    deinit { discard() }

    /// Appends all of `buffer`, looping over short writes.
    func write(_ buffer: UnsafeRawBufferPointer) throws {
        guard var pointer = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = try systemCall("write", path: folder.path) { calls.write(descriptor, pointer, remaining) }
            guard written > 0 else { throw SystemCallError(function: "write", path: folder.path, errno: EIO) }
            pointer += written
            remaining -= written
        }
    }

    func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// fsyncs the data written so far (commit does it again; a clean file syncs at no cost).
    func sync() throws {
        try systemCall("fsync", path: folder.path, retryOnInterrupt: false) { calls.fsync(descriptor) }
    }

    /// Makes the file durable and visible as `name` in its folder.
    /// - Parameters:
    ///   - name: a plain name (no `/`) in `folder`.
    ///   - replacing: replace an existing file; otherwise an existing file is an error.
    ///   - atomicReplace: replace through a staging name and `rename` (the old file
    ///     or the new one is always there), or, when false, unlink the old file
    ///     and link the new one (briefly neither is there, but the new content
    ///     never exists under any other name: used for plaintext).
    func commit(to name: String, replacing: Bool, atomicReplace: Bool = true) throws {
        precondition(!finished, "DurableFile committed twice")
        precondition(!name.contains("/"), "DurableFile names are relative to their folder")
        let shown = folder.display(name)
        try systemCall("fsync", path: shown, retryOnInterrupt: false) { calls.fsync(descriptor) }
        if let temporaryName {
            if replacing {
                try systemCall("rename", path: shown) { calls.renameat(folder.descriptor, temporaryName, folder.descriptor, name) }
            } else {
                try linkNoReplace(from: temporaryName, fromFolder: folder.descriptor, flags: 0, to: name)
                unlinkat(folder.descriptor, temporaryName, 0)
            }
            self.temporaryName = nil
        } else {
            let procPath = "/proc/self/fd/\(descriptor)"
            if replacing && !atomicReplace {
                if unlinkat(folder.descriptor, name, 0) != 0 && errno != ENOENT {
                    throw SystemCallError(function: "unlink", path: shown, errno: errno)
                }
                do {
                    try linkNoReplace(from: procPath, fromFolder: AT_FDCWD, flags: AT_SYMLINK_FOLLOW, to: name)
                } catch {
                    throw VaultError(.io, "the old file at \(shown) was removed, but the new one could not be linked there: \(error)")
                }
            } else if replacing {
                let staging = ".tmp-\(Hex.encodeRandomSuffix())"
                try linkNoReplace(from: procPath, fromFolder: AT_FDCWD, flags: AT_SYMLINK_FOLLOW, to: staging)
                do {
                    try systemCall("rename", path: shown) { calls.renameat(folder.descriptor, staging, folder.descriptor, name) }
                } catch {
                    unlinkat(folder.descriptor, staging, 0)
                    throw error
                }
            } else {
                try linkNoReplace(from: procPath, fromFolder: AT_FDCWD, flags: AT_SYMLINK_FOLLOW, to: name)
            }
        }
        finished = true
        close(descriptor)
        do {
            try folder.sync(calls: calls)
        } catch {
            // A new name that is not durable is withdrawn, so that a failed write
            // leaves nothing behind. A replacement cannot be undone: say that the
            // file is there, but may not survive a crash.
            if !replacing {
                unlinkat(folder.descriptor, name, 0)
                throw error
            }
            throw VaultError(.io, "the file is in place at \(shown), but its folder could not be synced, so it may not survive a crash: \(error)")
        }
    }

    /// Abandons the file: closes it and removes any named temporary file.
    func discard() {
        guard !finished else { return }
        finished = true
        close(descriptor)
        if let temporaryName { unlinkat(folder.descriptor, temporaryName, 0) }
    }

    private func linkNoReplace(from source: String, fromFolder: Int32, flags: Int32, to name: String) throws {
        let shown = folder.display(name)
        do {
            try systemCall("link", path: shown) { calls.linkat(fromFolder, source, folder.descriptor, name, flags) }
        } catch let error as SystemCallError where error.errno == EEXIST {
            throw VaultError(.alreadyExists, "\(shown) already exists; refusing to overwrite it",
                             hint: "choose another destination, or pass --force where the command offers it")
        }
    }
}
