import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// THREATS.md 41 and 44: whoever holds the storage plants links, FIFOs and
/// stray names in the vault folder. Nothing outside the vault is read or
/// removed, nothing blocks, each entry is a finding, and the head is still
/// remembered.
@Suite("Hostile vault folder")
struct HostileFolderTests {
    /// Makes `path` look ten days old, so that `clean`'s age limit does not protect it.
    static func age(_ path: String) {
        var times = [timespec(tv_sec: time(nil) - 864_000, tv_nsec: 0), timespec(tv_sec: time(nil) - 864_000, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW)
    }

    static func write(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        age(path)
    }

    @Test("clean never leaves the vault: a link in blobs/ is neither followed nor removed, a linked blobs/ is refused")
    func cleanNeverLeavesTheVault() throws {
        let env = try TestVault()
        _ = try env.add(sampleBytes(500))
        let outside = try TemporaryFolder()
        let identity = outside.file("lawyer.identity")
        let blobLike = outside.file(String(repeating: "a", count: 64))
        try Self.write("secret identity", to: identity)
        try Self.write("looks like a blob", to: blobLike)
        // A link named like a blob, pointing outside; a stray file with another name.
        let link = "\(env.blobFolder)/\(String(repeating: "b", count: 64))"
        #expect(symlink(blobLike, link) == 0)
        Self.age(link)
        try Self.write("notes", to: "\(env.blobFolder)/notes.txt")
        let removed = try env.vault.removeOrphans(minimumAge: 0)
        #expect(removed.isEmpty, "\(removed)")
        for path in [identity, blobLike, "\(env.blobFolder)/notes.txt"] { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
        var status = stat()
        #expect(lstat(link, &status) == 0, "the link itself is left for a person to look at")

        // blobs/ itself replaced by a link to a folder of the lawyer's.
        try FileManager.default.moveItem(atPath: env.blobFolder, toPath: env.folder.file("real-blobs"))
        try FileManager.default.copyItem(atPath: blobLike, toPath: outside.file(String(repeating: "c", count: 64)))
        Self.age(outside.file(String(repeating: "c", count: 64)))
        #expect(symlink(outside.path, env.blobFolder) == 0)
        let reopened = try Vault.open(at: env.path)
        #expect(throws: (any Error).self) { _ = try reopened.removeOrphans(minimumAge: 0) }
        #expect(try outside.contents().count == 3, "nothing outside the vault was removed")
        let findings = reopened.verify().findings.map(\.description)
        #expect(findings.contains { $0.contains("blob folder") && $0.contains("symbolic link") }, "\(findings)")
    }

    @Test("a FIFO in place of a blob is a finding, not a hang, and export refuses it")
    func fifoInPlaceOfABlob() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(3000))
        unlink(env.blobPath(document))
        #expect(mkfifo(env.blobPath(document), 0o600) == 0)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var findings: [String] = []
        nonisolated(unsafe) var exportError: Error?
        let vault = env.vault, out = env.folder.file("out.bin"), lawyer = env.lawyer
        Thread {
            findings = vault.verify().findings.map(\.description)
            do { _ = try vault.export(document.id.hex, to: out, as: lawyer) } catch { exportError = error }
            done.signal()
        }.start()
        #expect(done.wait(timeout: .now() + 30) == .success, "verify or export blocked on a FIFO")
        #expect(findings.contains { $0.contains("document \(document.id.hex)") && $0.contains("FIFO") }, "\(findings)")
        #expect(exportError != nil)
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("links, folders, FIFOs and stray names anywhere in the vault are findings that name them")
    func strayEntriesAreFindings() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(2000))
        // The real blob moved out and linked back: the content still hashes right through the link.
        let outside = try TemporaryFolder()
        try FileManager.default.moveItem(atPath: env.blobPath(document), toPath: outside.file("moved"))
        #expect(symlink(outside.file("moved"), env.blobPath(document)) == 0)
        try FileManager.default.createDirectory(atPath: "\(env.blobFolder)/a-folder", withIntermediateDirectories: false)
        #expect(mkfifo("\(env.blobFolder)/\(String(repeating: "d", count: 64))", 0o600) == 0)
        #expect(symlink("/etc/passwd", "\(env.path)/notes") == 0)
        let findings = env.findings()
        #expect(findings.contains { $0.hasPrefix("document \(document.id.hex)") && $0.contains("symbolic link") }, "\(findings)")
        #expect(findings.contains { $0.contains("blob folder entry a-folder") && $0.contains("a folder") })
        #expect(findings.contains { $0.contains("blob folder entry \(String(repeating: "d", count: 64))") && $0.contains("FIFO") })
        #expect(findings.contains { $0.contains("vault folder entry notes") && $0.contains("symbolic link") })
    }

    @Test("a WAL or database file that is a link is refused before SQLite follows it")
    func linkedDatabaseFilesAreRefused() throws {
        let env = try TestVault()
        try DatabaseQueue(path: "\(env.path)/vault.sqlite").writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let copy = env.folder.file("copy")
        try FileManager.default.createDirectory(atPath: copy, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: "\(env.path)/vault.sqlite", toPath: "\(copy)/vault.sqlite")
        try FileManager.default.copyItem(atPath: env.blobFolder, toPath: "\(copy)/blobs")
        let target = env.folder.file("victim")
        try Data("a lawyer's file".utf8).write(to: URL(fileURLWithPath: target))
        #expect(symlink(target, "\(copy)/vault.sqlite-wal") == 0)
        expectVaultError(.integrity, "vault.sqlite-wal", "symbolic link") { _ = try Vault.open(at: copy) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: target)) == Data("a lawyer's file".utf8))
    }

    @Test("a stray file does not stop verify from remembering the head, so a later cut is still detected (THREATS.md 44)")
    func rememberingIsNotHostageToFindings() throws {
        let env = try TestVault()
        let (vault, known, stateFolder) = try env.onMachine(trusted: true)
        defer { withExtendedLifetime(stateFolder) {} }  // its known-vaults.json must outlive the test
        let document = try env.add(sampleBytes(100))
        _ = try vault.export(document.id.hex, to: env.folder.file("custody.bin"), as: env.lawyer)  // a custody record
        try Data("planted".utf8).write(to: URL(fileURLWithPath: "\(env.blobFolder)/planted"))
        let report = vault.verify()
        #expect(!report.isClean)
        #expect(report.anchor.rememberedNewHead)
        #expect(try known.pin(for: env.path).rememberedHead == report.eventsVerified - 1)
        // The storage deletes the custody record: the remembered head catches it.
        try env.sql("DELETE FROM events WHERE seq = ?", [Int64(report.eventsVerified - 1)])
        let after = try Vault.open(at: env.path, knownVaults: known)
        #expect(after.verify().findings.contains { $0.problem.contains("rolled back or cut") })
    }

    @Test("a broken later event does not stop verify from remembering the events before it")
    func brokenLaterEventStillRemembersThePrefix() throws {
        let env = try TestVault()
        let (vault, known, stateFolder) = try env.onMachine(trusted: true)
        defer { withExtendedLifetime(stateFolder) {} }  // its known-vaults.json must outlive the test
        // Added through a handle without this machine's list: not remembered yet.
        _ = try env.add(sampleBytes(100, seed: 1))
        _ = try env.add(sampleBytes(100, seed: 2))
        let last = try env.vault.replay().count - 1
        try env.sql("UPDATE events SET bytes = substr(bytes, 1, 100) || x'00' || substr(bytes, 102) WHERE seq = ?", [Int64(last)])
        let report = vault.verify()
        #expect(!report.isClean && report.eventsVerified == last && report.anchor.rememberedNewHead)
        #expect(try known.pin(for: env.path).rememberedHead == last - 1)
    }
}
