import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole-file writes that are atomic and durable: a crash at any point leaves
/// either the old file or the new one, never a mix.
///
/// The bytes go to a temporary file in the destination's folder (created with
/// `O_EXCL`, mode 0600), which is written, fsynced and closed, then moved into
/// place (`link` for a new file, so an existing one is never overwritten;
/// `rename` to replace), and the folder is fsynced.
public enum AtomicFile {
    /// Whether the destination may already exist.
    public enum Mode: Sendable {
        /// Fail with `.alreadyExists` if the destination exists.
        case createNew
        /// Replace the destination atomically.
        case replace
    }

    /// Writes `bytes` to `path` atomically and durably.
    public static func write(_ bytes: [UInt8], to path: String, mode: Mode) throws {
        let folder = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        let temporary = try writeTemporary(bytes, in: folder, stem: (path as NSString).lastPathComponent)
        do {
            switch mode {
            case .createNew:
                do {
                    try systemCall("link", path: path) { link(temporary, path) }
                } catch let error as SystemCallError where error.errno == EEXIST {
                    throw VaultError(.alreadyExists, "\(path) already exists; refusing to overwrite it")
                }
                unlink(temporary)
            case .replace:
                try systemCall("rename", path: path) { rename(temporary, path) }
            }
            try syncFolder(folder)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Creates, fills, fsyncs and closes a temporary file in `folder`; returns its path.
    static func writeTemporary(_ bytes: [UInt8], in folder: String, stem: String) throws -> String {
        let suffix = Hex.encodeRandomSuffix()
        let temporary = "\(folder)/.\(stem).tmp-\(suffix)"
        let descriptor = try systemCall("open", path: temporary) { open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        do {
            var offset = 0
            while offset < bytes.count {
                let written = try bytes.withUnsafeBytes { buffer in
                    try systemCall("write", path: temporary) { Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset) }
                }
                offset += written
            }
            try systemCall("fsync", path: temporary, retryOnInterrupt: false) { fsync(descriptor) }
            try systemCall("close", path: temporary, retryOnInterrupt: false) { close(descriptor) }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// fsyncs a folder so that a rename or link in it is durable.
    static func syncFolder(_ folder: String) throws {
        let descriptor = try systemCall("open", path: folder) { open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(descriptor) }
        try systemCall("fsync", path: folder, retryOnInterrupt: false) { fsync(descriptor) }
    }
}

extension Hex {
    /// 16 random hex characters for temporary file names (not secret).
    static func encodeRandomSuffix() -> String {
        Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
    }
}
