import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// System calls that fail the n-th call of one kind with a chosen errno, and
/// record every call (THREATS.md F32, F34, F35).
final class FaultyCalls: SystemCalls, @unchecked Sendable {
    enum Operation: String { case open, write, fsync, link, rename }

    private let lock = NSLock()
    private let real = POSIXCalls()
    private var failing: (Operation, Int, Int32)?
    private(set) var counts: [Operation: Int] = [:]
    private(set) var failures = 0
    /// Called before every call, with its kind and path (if any).
    var observe: ((Operation, String) -> Void)?
    /// Answer `O_TMPFILE` opens with EOPNOTSUPP, like FAT, some FUSE and network file systems.
    var withoutTmpfile = false

    /// Fails the `n`-th call of `operation` from now on, with `code`.
    func arm(_ operation: Operation, at n: Int, errno code: Int32 = EIO) {
        lock.lock()
        defer { lock.unlock() }
        counts = [:]
        failing = (operation, n, code)
    }

    func disarm() {
        lock.lock()
        defer { lock.unlock() }
        failing = nil
    }

    private func shouldFail(_ operation: Operation, _ path: String) -> Int32? {
        observe?(operation, path)
        lock.lock()
        defer { lock.unlock() }
        counts[operation, default: 0] += 1
        guard let (kind, n, code) = failing, kind == operation, counts[operation] == n else { return nil }
        failures += 1
        return code
    }

    func openat(_ folder: Int32, _ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 {
        if let code = shouldFail(.open, path) { errno = code; return -1 }
        if withoutTmpfile && flags & DurableFile.openTemporaryFile == DurableFile.openTemporaryFile { errno = EOPNOTSUPP; return -1 }
        return real.openat(folder, path, flags, mode)
    }
    func write(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
        if let code = shouldFail(.write, "") { errno = code; return -1 }
        return real.write(descriptor, buffer, count)
    }
    func fsync(_ descriptor: Int32) -> Int32 {
        if let code = shouldFail(.fsync, "") { errno = code; return -1 }
        return real.fsync(descriptor)
    }
    func linkat(_ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String, _ flags: Int32) -> Int32 {
        if let code = shouldFail(.link, to) { errno = code; return -1 }
        return real.linkat(fromFolder, from, toFolder, to, flags)
    }
    func renameat(_ fromFolder: Int32, _ from: String, _ toFolder: Int32, _ to: String) -> Int32 {
        if let code = shouldFail(.rename, to) { errno = code; return -1 }
        return real.renameat(fromFolder, from, toFolder, to)
    }
}

@Suite("Crashes and I/O faults (THREATS.md F)")
struct FaultInjectionTests {
    @Test("F32/F34: failing the n-th write, fsync or link during add leaves the document absent and the vault clean",
          arguments: [FaultyCalls.Operation.write, .fsync, .link, .open])
    func failingAdd(operation: FaultyCalls.Operation) throws {
        let calls = FaultyCalls()
        let env = try TestVault(calls: calls)
        let content = sampleBytes(20 * Int(BlobHeader.defaultChunkLength) + 7)
        var failed = 0
        for n in 1...40 {
            calls.arm(operation, at: n, errno: n % 2 == 0 ? EIO : ENOSPC)
            let eventsBefore = try env.vault.replay().count
            do {
                try env.add(content, name: "f\(n)")
                calls.disarm()
                break  // n is past the last call of this kind: the add went through
            } catch let error as VaultError {
                calls.disarm()
                failed += 1
                #expect(error.kind == .io)
                #expect(error.message.contains(n % 2 == 0 ? "Input/output error" : "No space left on device"), "\(error.message)")
                #expect(calls.counts[operation] == n, "the failing call is not retried")
                #expect(try env.vault.replay().count == eventsBefore, "no event for a failed add")
                #expect(try FileManager.default.contentsOfDirectory(atPath: env.blobFolder).count == Int(try env.vault.replay().documents.count),
                        "no blob without an event")
                #expect(env.findings().isEmpty, "\(env.findings())")
            }
        }
        #expect(failed >= 1, "the fault was injected at least once")
        let added = try env.add(content, name: "final")
        #expect(try env.export(added.id) == content)
    }

    @Test("F32: a ledger append that fails inside SQLite leaves no event, no blob, and a clean vault")
    func refusedLedgerAppend() throws {
        let env = try TestVault()
        let before = try env.vault.replay().count
        // Make SQLite fail the insert of the next event, after the blob is already durable:
        // a TEMP trigger, on the vault's own connection only (a trigger in the file
        // itself is refused as a foreign schema before anything is appended).
        try env.vault.database.writeWithoutTransaction {
            try $0.execute(sql: "CREATE TEMP TRIGGER fail_append BEFORE INSERT ON main.events BEGIN SELECT RAISE(ABORT, 'simulated I/O failure'); END")
        }
        expectVaultError(.io, "vault database", "simulated I/O failure") { try env.add(sampleBytes(300_000)) }
        try env.vault.database.writeWithoutTransaction { try $0.execute(sql: "DROP TRIGGER temp.fail_append") }
        #expect(try env.vault.replay().count == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: env.blobFolder).isEmpty, "the blob of the failed add was removed")
        #expect(env.findings().isEmpty, "\(env.findings())")
        let added = try env.add(sampleBytes(300_000))
        #expect(try env.export(added.id) == sampleBytes(300_000))
    }

    @Test("F32: failing a write, fsync or link during export leaves nothing at the destination",
          arguments: [FaultyCalls.Operation.write, .fsync, .link])
    func failingExport(operation: FaultyCalls.Operation) throws {
        let calls = FaultyCalls()
        let env = try TestVault(calls: calls)
        let document = try env.add(sampleBytes(3 * Int(BlobHeader.defaultChunkLength)))
        let destination = env.folder.file("exported")
        for n in 1...3 {
            calls.arm(operation, at: n)
            do {
                _ = try env.vault.export(document.id.hex, to: destination, as: env.lawyer)
                calls.disarm()
                try FileManager.default.removeItem(atPath: destination)
                break  // past the last call of this kind
            } catch let error as VaultError {
                calls.disarm()
                #expect(error.kind == .io)
                #expect(!FileManager.default.fileExists(atPath: destination))
                #expect(try env.filesInScratch().allSatisfy { !$0.hasPrefix(".tmp-") && $0 != "exported" })
                let recorded = try env.vault.log().filter { $0.action == "document.export" }.count
                if operation == .link || (operation == .fsync && n > 1) {
                    // Failing after the custody record committed: the record stays and the error says so.
                    #expect(error.message.contains("recorded"))
                } else {
                    #expect(recorded == 0, "a failed export before the record leaves no custody event")
                }
            }
        }
    }

    @Test("A9: without O_TMPFILE an export is refused unless visible temporary files are allowed; blobs fall back safely")
    func withoutTmpfile() throws {
        let calls = FaultyCalls()
        let env = try TestVault(calls: calls)
        calls.withoutTmpfile = true
        let content = sampleBytes(200_000)
        let document = try env.add(content)  // ciphertext: the named fallback is safe
        #expect(try FileManager.default.contentsOfDirectory(atPath: env.blobFolder) == [Hex.encode(document.blobHash)])
        let destination = env.folder.file("exported")
        expectVaultError(.invalidInput, "O_TMPFILE", "partial plaintext") {
            _ = try env.vault.export(document.id.hex, to: destination, as: env.lawyer)
        }
        #expect(!FileManager.default.fileExists(atPath: destination))
        _ = try env.vault.export(document.id.hex, to: destination, as: env.lawyer, allowVisibleTemporary: true)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: destination))) == content)
        #expect(try env.filesInScratch().allSatisfy { !$0.hasPrefix(".tmp-") })
    }

    @Test("F34: a failed fsync on identity passwd leaves the old file, never retried into success")
    func failingPassphraseChange() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("id.identity")
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        let calls = FaultyCalls()
        for operation in [FaultyCalls.Operation.write, .fsync, .rename, .link] {
            calls.arm(operation, at: 1)
            #expect(throws: (any Error).self) { try AtomicFile.write([9, 9, 9], to: path, mode: .replace, calls: calls) }
            #expect(try folder.read("id.identity") == [1, 2, 3])
            #expect(try folder.contents() == ["id.identity"], "no temporary file left")
        }
        calls.disarm()
        try AtomicFile.write([9, 9, 9], to: path, mode: .replace, calls: calls)
        #expect(try folder.read("id.identity") == [9, 9, 9])
    }

    @Test("F35: the blob and its folder are fsynced before the event naming it commits")
    func blobDurableBeforeEvent() throws {
        let calls = FaultyCalls()
        let env = try TestVault(calls: calls)
        let before = try env.vault.replay().count
        let reader = try DatabaseQueue(path: "\(env.path)/vault.sqlite")
        nonisolated(unsafe) var trace: [(FaultyCalls.Operation, String, Int)] = []
        calls.observe = { operation, path in
            let events = (try? reader.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM events") }) ?? -1
            trace.append((operation, path, events ?? -1))
        }
        let document = try env.add(sampleBytes(100_000))
        calls.observe = nil
        let blobName = Hex.encode(document.blobHash)
        let linkIndex = try #require(trace.firstIndex { $0.0 == .link && $0.1.hasSuffix(blobName) })
        #expect(trace[..<linkIndex].contains { $0.0 == .fsync }, "file data fsynced before it gets its name")
        #expect(trace[(linkIndex + 1)...].contains { $0.0 == .fsync }, "folder fsynced after the link")
        #expect(trace.allSatisfy { $0.2 == Int(before) }, "no event was committed while the blob was being made durable")
        #expect(try env.vault.replay().count == before + 1)
    }

    @Test("F36: two writers adding at once both succeed and the ledger stays one chain")
    func concurrentWriters() throws {
        let env = try TestVault()
        // Two writers, each remembering the vault in the same file, as two processes of one user would.
        let stateFolder = try TemporaryFolder()
        let first = try Vault.open(at: env.path, knownVaults: KnownVaults(path: stateFolder.file("known.json")))
        try trust(first, for: env.everyone)
        let second = try Vault.open(at: env.path, knownVaults: KnownVaults(path: stateFolder.file("known.json")))
        let before = try env.vault.replay().count
        let group = DispatchGroup()
        nonisolated(unsafe) var errors: [Error] = []
        let lock = NSLock()
        for (index, vault) in [first, second].enumerated() {
            DispatchQueue.global().async(group: group) {
                for round in 0..<15 {
                    do {
                        let path = env.folder.file("w\(index)-\(round)")
                        try Data(sampleBytes(20_000, seed: UInt64(index * 100 + round))).write(to: URL(fileURLWithPath: path))
                        _ = try vault.addDocuments([NewDocument(path: path, kind: .other)], toCase: env.caseID.hex, as: env.lawyer)
                    } catch {
                        lock.lock(); errors.append(error); lock.unlock()
                    }
                }
            }
        }
        group.wait()
        #expect(errors.isEmpty, "\(errors)")
        let state = try env.vault.replay()
        #expect(state.count == before + 30)
        #expect(state.documents.count == 30)
        #expect(env.findings().isEmpty)
    }

    @Test("THREATS.md 50: a multi-file add whose second blob fails records nothing and leaves no blob behind")
    func multiFileAddIsAllOrNothing() throws {
        let calls = FaultyCalls()
        let env = try TestVault(calls: calls)
        let before = try env.vault.replay()
        let first = env.folder.file("first"), second = env.folder.file("second")
        try Data(sampleBytes(70_000, seed: 1)).write(to: URL(fileURLWithPath: first))
        try Data(sampleBytes(90_000, seed: 2)).write(to: URL(fileURLWithPath: second))
        let blobsBefore = try FileManager.default.contentsOfDirectory(atPath: env.blobFolder)
        calls.arm(.link, at: 2)  // the second blob cannot be named
        do {
            _ = try env.vault.addDocuments([NewDocument(path: first, kind: .other), NewDocument(path: second, kind: .other)],
                                           toCase: env.caseID.hex, as: env.lawyer)
            Issue.record("the add should have failed")
        } catch let error as VaultError {
            #expect(error.message.contains("none of the 2 files was added"), "\(error.message)")
        }
        calls.disarm()
        #expect(try env.vault.replay().count == before.count, "no event was committed")
        #expect(try FileManager.default.contentsOfDirectory(atPath: env.blobFolder).sorted() == blobsBefore.sorted(), "no blob left behind")
        let added = try env.vault.addDocuments([NewDocument(path: first, kind: .other), NewDocument(path: second, kind: .other)],
                                               toCase: env.caseID.hex, as: env.lawyer)
        #expect(added.count == 2 && added[1].sequence == added[0].sequence + 1)
        #expect(env.findings().isEmpty)
    }
}
