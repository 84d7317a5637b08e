import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Whole-file writes that are atomic and durable: a crash at any point leaves
/// either the old file or the new one, never a mix (see `DurableFile`).
public enum AtomicFile {
    /// Whether the destination may already exist.
    public enum Mode: Sendable {
        /// Fail with `.alreadyExists` if the destination exists.
        case createNew
        /// Replace the destination atomically.
        case replace
    }

    /// Writes `bytes` to `path` atomically and durably.
    public static func write(_ bytes: [UInt8], to path: String, mode: Mode, calls: SystemCalls = POSIXCalls()) throws {
        let parent = (path as NSString).deletingLastPathComponent
        let folder = try FolderHandle(path: parent.isEmpty ? "." : parent, followingLink: true, what: "folder")
        let file = try DurableFile(in: folder, calls: calls)
        try file.write(bytes)
        try file.commit(to: (path as NSString).lastPathComponent, replacing: mode == .replace)
    }
}

extension Hex {
    /// 16 random hex characters for temporary file names (not secret).
    static func encodeRandomSuffix() -> String {
        Hex.encode((0..<8).map { _ in UInt8.random(in: 0...255) })
    }
}
