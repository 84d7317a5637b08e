import EvidenceVault
import Foundation
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Where a passphrase comes from, in order: a file named on the command line,
/// an environment variable, then the terminal (without echo). With none of
/// them available the command fails at once instead of waiting for input.
struct PassphraseSource {
    /// Shortest passphrase accepted when one is set.
    static let minimumLength = 10
    /// Longest passphrase read from any source, in bytes.
    static let maximumLength = 1024

    let file: String?
    let environmentVariable: String

    /// Reads an existing passphrase (to unlock).
    func read(prompt: SafeText) throws -> SecureBytes {
        if let bytes = try fromFileOrEnvironment() { return bytes }
        return try Self.readFromTerminal(prompt: prompt)
    }

    /// Reads a new passphrase (to set): asked twice on a terminal, refused if too short.
    func readNew(prompt: SafeText) throws -> SecureBytes {
        let passphrase: SecureBytes
        if let bytes = try fromFileOrEnvironment() {
            passphrase = bytes
        } else {
            passphrase = try Self.readFromTerminal(prompt: prompt)
            let again = try Self.readFromTerminal(prompt: "Repeat the passphrase: ")
            guard passphrase == again else {
                throw VaultError(.invalidInput, "the two passphrases differ")
            }
        }
        let characters = passphrase.withUnsafeBytes { String(decoding: $0, as: UTF8.self).count }
        guard characters >= Self.minimumLength else {
            throw VaultError(.invalidInput, "passphrase is too short: at least \(Self.minimumLength) characters are required",
                             hint: "a few unrelated words make a strong passphrase that is easy to remember")
        }
        return passphrase
    }

    private func fromFileOrEnvironment() throws -> SecureBytes? {
        if let file { return try Self.readPassphraseFile(file) }
        if let value = SecretEnvironment.take(environmentVariable) {
            return try value.withUnsafeBytes { try Self.trimmed($0, source: environmentVariable) }
        }
        return nil
    }

    /// Reads a passphrase file: a regular file only its owner can read, or a
    /// pipe (`/dev/stdin`, `<(pass show x)`), never more than the longest
    /// passphrase (plus a newline) (THREATS.md 51).
    static func readPassphraseFile(_ file: String) throws -> SecureBytes {
        let descriptor = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard descriptor >= 0 else {
            throw VaultError(errno == ENOENT ? .notFound : .io, "passphrase file \(file) cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw VaultError(.io, "passphrase file \(file) cannot be examined: \(String(cString: strerror(errno)))")
        }
        switch status.st_mode & S_IFMT {
        case S_IFREG:
            guard status.st_uid == geteuid() else {
                throw VaultError(.invalidInput, "passphrase file \(file) belongs to another user (uid \(status.st_uid)): refused",
                                 hint: "keep passphrase files in your own account, mode 600")
            }
            guard status.st_mode & 0o044 == 0 else {
                throw VaultError(.invalidInput, "passphrase file \(file) is readable by group or others (mode \(String(status.st_mode & 0o777, radix: 8))): refused",
                                 hint: "chmod 600 \(file), or pass the passphrase through a pipe: --passphrase-file <(pass show NAME)")
            }
        case S_IFIFO, S_IFSOCK, S_IFCHR:
            break  // a pipe or /dev/stdin: read what the writer sends
        default:
            throw VaultError(.invalidInput, "passphrase file \(file) is not a file or a pipe: refused")
        }
        let limit = maximumLength + 2
        let buffer = try SecureBytes(zeroedCount: limit)
        var length = 0
        try buffer.withUnsafeMutableBytes { out in
            while length < limit {
                let got = Glibc.read(descriptor, out.baseAddress! + length, limit - length)
                if got < 0 && errno == EINTR { continue }
                guard got >= 0 else { throw VaultError(.io, "passphrase file \(file) cannot be read: \(String(cString: strerror(errno)))") }
                if got == 0 { break }
                length += got
            }
        }
        return try buffer.withUnsafeBytes { try trimmed(UnsafeRawBufferPointer(rebasing: $0[0..<length]), source: "passphrase file \(file)") }
    }

    /// One trailing newline (LF or CRLF) is not part of the passphrase.
    private static func trimmed(_ bytes: UnsafeRawBufferPointer, source: String) throws -> SecureBytes {
        var count = bytes.count
        if count > 0 && bytes[count - 1] == 0x0a { count -= 1 }
        if count > 0 && bytes[count - 1] == 0x0d { count -= 1 }
        guard count > 0 else { throw VaultError(.invalidInput, "\(source) is empty") }
        guard count <= maximumLength else { throw VaultError(.invalidInput, "\(source) is longer than \(maximumLength) bytes") }
        return try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<count]))
    }

    /// Reads a line from the controlling terminal with echo off, into secure memory.
    private static func readFromTerminal(prompt: SafeText) throws -> SecureBytes {
        let descriptor = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw VaultError(.invalidInput, "no passphrase given and no terminal to ask for one",
                             hint: "set EVAULT_PASSPHRASE or pass --passphrase-file FILE")
        }
        defer { close(descriptor) }
        _ = prompt.rendered.withCString { write(descriptor, $0, strlen($0)) }
        var saved = termios()
        let haveTermios = tcgetattr(descriptor, &saved) == 0
        if haveTermios {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(descriptor, TCSAFLUSH, &silent)
        }
        defer {
            if haveTermios { tcsetattr(descriptor, TCSAFLUSH, &saved) }
            _ = write(descriptor, "\n", 1)
        }
        var length = 0
        var tooLong = false
        let buffer = try SecureBytes.filling(count: maximumLength) { out in
            var byte: UInt8 = 0
            defer { byte = 0 }
            while true {
                let got = Glibc.read(descriptor, &byte, 1)
                if got < 0 && errno == EINTR { continue }
                if got <= 0 || byte == 0x0a || byte == 0x0d { break }
                guard length < maximumLength else { tooLong = true; break }
                out[length] = byte
                length += 1
            }
        }
        guard !tooLong else { throw VaultError(.invalidInput, "passphrase is longer than \(maximumLength) bytes") }
        guard length > 0 else { throw VaultError(.invalidInput, "empty passphrase") }
        return try buffer.withUnsafeBytes { try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<length])) }
    }
}
