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
        if let file {
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: file)) else {
                throw VaultError(.notFound, "passphrase file \(file) cannot be read")
            }
            return try Self.trimmed(Array(data), source: "passphrase file \(file)")
        }
        if let value = ProcessInfo.processInfo.environment[environmentVariable] {
            return try Self.trimmed(Array(value.utf8), source: environmentVariable)
        }
        return nil
    }

    /// One trailing newline (LF or CRLF) is not part of the passphrase.
    private static func trimmed(_ bytes: [UInt8], source: String) throws -> SecureBytes {
        var bytes = bytes
        defer { for index in bytes.indices { bytes[index] = 0 } }
        if bytes.last == 0x0a { bytes.removeLast() }
        if bytes.last == 0x0d { bytes.removeLast() }
        guard !bytes.isEmpty else { throw VaultError(.invalidInput, "\(source) is empty") }
        guard bytes.count <= maximumLength else { throw VaultError(.invalidInput, "\(source) is longer than \(maximumLength) bytes") }
        return try SecureBytes(copying: bytes)
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
