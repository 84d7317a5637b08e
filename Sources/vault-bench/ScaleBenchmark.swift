import EvidenceVault
import Foundation
import VaultCrypto

/// `vault-bench scale [EVENTS]`: what a command costs in a large ledger, as ratios
/// measured in the same run (THREATS.md 46):
///   1. a vault of EVENTS events: `list` of one case and `log`, each with the
///      remembered head, against a keyless `verify`, per event (paired,
///      alternating runs, medians);
///   2. replay of a group with M and with 8M member admissions (the ratio must
///      stay near 8, not 64);
///   3. peak memory of `list` of a small case, beside an unrelated case whose
///      documents carry the largest sealed metadata evault writes, and beside one
///      whose metadata is tiny (measured in a child process, peak reset after
///      the identity is unlocked).
enum ScaleBenchmark {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

    /// A vault under `folder`, trusted in `folder/state`, with one group.
    static func makeVault(_ folder: String, creator: UnlockedIdentity) throws -> (Vault, KnownVaults) {
        let known = KnownVaults(path: folder + "/state/known-vaults.json")
        let vault = try Vault.create(at: folder + "/vault", creator: creator, knownVaults: known)
        try vault.createGroup(named: "bench", as: creator)
        return (vault, known)
    }

    /// Adds `count` copies of `file` to a case, in all-or-nothing batches of `batch`.
    static func fill(_ vault: Vault, caseID: ObjectID, file: NewDocument, count: Int, batch: Int = 2000, as actor: UnlockedIdentity) throws {
        var left = count
        while left > 0 {
            let now = min(batch, left)
            _ = try vault.addDocuments(Array(repeating: file, count: now), toCase: caseID.hex, as: actor)
            left -= now
        }
    }

    static func run(events: Int) throws {
        let root = NSTemporaryDirectory() + "vault-bench-scale-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let custodian = try UnlockedIdentity.generate(name: "bench")
        let small = root + "/small.txt"
        try Data("a small document".utf8).write(to: URL(fileURLWithPath: small))

        // 1. A large ledger: 100 cases, the documents spread over them; one case stays small.
        let (vault, known) = try makeVault(root + "/large", creator: custodian)
        let cases = try (0..<100).map { try vault.createCase(inGroup: "bench", reference: "CASE-\($0)", as: custodian).id }
        let perCase = max(1, (events - 104) / 99)
        let build = try seconds {
            for caseID in cases.dropFirst() {
                try fill(vault, caseID: caseID, file: NewDocument(path: small, kind: .other), count: perCase, as: custodian)
            }
            try fill(vault, caseID: cases[0], file: NewDocument(path: small, kind: .other), count: 10, as: custodian)
        }
        let count = Double(try vault.replay().count)
        print(String(format: "vault-bench scale: %.0f events built in %.1f s (batches of up to 2000 documents per transaction)", count, build))
        var verifyTimes: [Double] = [], listTimes: [Double] = [], logTimes: [Double] = []
        for _ in 0..<5 {
            verifyTimes.append(seconds { precondition(vault.verify().isClean) })
            listTimes.append(try seconds { _ = try Vault.open(at: vault.folder, knownVaults: known).documents(inCase: cases[0].hex, as: custodian) })
            logTimes.append(try seconds { _ = try Vault.open(at: vault.folder, knownVaults: known).log() })
        }
        let verifyPer = median(verifyTimes) / count, listPer = median(listTimes) / count, logPer = median(logTimes) / count
        print(String(format: "  keyless verify (every signature, index, %d blobs): %.2f s, %.1f us per event (reference)", Int(count) - 104, median(verifyTimes), verifyPer * 1e6))
        print(String(format: "  list of a 10-document case (remembered head): %.3f s, %.1f us per event, %.2f x verify", median(listTimes), listPer * 1e6, listPer / verifyPer))
        print(String(format: "  log of every event (remembered head):        %.3f s, %.1f us per event, %.2f x verify", median(logTimes), logPer * 1e6, logPer / verifyPer))

        // 2. Member admissions: M and 8M auditors, replay checking every signature.
        let members = 100
        var replays: [Int: [Double]] = [:]
        var vaults: [Int: Vault] = [:]
        for size in [members, 8 * members] {
            let (grown, _) = try makeVault(root + "/members-\(size)", creator: custodian)
            for index in 0..<size {
                try grown.addMember(try UnlockedIdentity.generate(name: "auditor-\(index)").publicIdentity, role: .auditor, toGroup: "bench", as: custodian)
            }
            vaults[size] = try Vault.open(at: grown.folder)  // no remembered head: every signature checked
        }
        for _ in 0..<5 {
            for size in [members, 8 * members] {
                let vault = try require(vaults[size])
                replays[size, default: []].append(try seconds { _ = try vault.replay() })
            }
        }
        let smallReplay = median(replays[members] ?? [1]), largeReplay = median(replays[8 * members] ?? [1])
        print(String(format: "  replay with %d members: %.3f s; with %d: %.3f s; ratio %.2f for 8x the members (quadratic would be ~64)",
                     members, smallReplay, 8 * members, largeReplay, largeReplay / smallReplay))

        // 3. Memory of `list` of a small case beside large or tiny sealed metadata elsewhere.
        let identityFolder = root + "/identity"
        try FileManager.default.createDirectory(atPath: identityFolder, withIntermediateDirectories: true)
        let passphrase = "benchmark passphrase only"
        let created = try IdentityStore.create(name: "reader", in: identityFolder, passphrase: SecureBytes(copying: Array(passphrase.utf8)),
                                               parameters: .interactive)
        let longName = root + "/" + String(repeating: "n", count: 200)
        try Data("x".utf8).write(to: URL(fileURLWithPath: longName))
        var peaks: [String: Int] = [:]
        for (label, document) in [("tiny", NewDocument(path: small, kind: .other)),
                                  ("largest", NewDocument(path: longName, kind: .other, title: String(repeating: "t", count: 1024),
                                                          tags: (0..<32).map { String(repeating: Character(String($0 % 10)), count: 64) }))] {
            let folder = root + "/memory-\(label)"
            let (memoryVault, _) = try makeVault(folder, creator: custodian)
            try memoryVault.addMember(created.publicIdentity, role: .lawyer, toGroup: "bench", as: custodian)
            let unrelated = try memoryVault.createCase(inGroup: "bench", reference: "UNRELATED", as: custodian).id
            try fill(memoryVault, caseID: unrelated, file: document, count: 3000, as: custodian)
            let target = try memoryVault.createCase(inGroup: "bench", reference: "TARGET", as: custodian).id
            try fill(memoryVault, caseID: target, file: NewDocument(path: small, kind: .other), count: 10, as: custodian)
            _ = try memoryVault.trust(.confirmedAtTerminal, for: try IdentityStore.unlock(created.secretPath, passphrase: SecureBytes(copying: Array(passphrase.utf8))))
            peaks[label] = try childPeak(vault: memoryVault.folder, state: folder + "/state", caseID: target.hex,
                                         identity: created.secretPath, passphrase: passphrase)
        }
        let tiny = Double(peaks["tiny"] ?? 0), largest = Double(peaks["largest"] ?? 0)
        print(String(format: "  peak memory of list of a 10-document case beside 3000 documents in another case: %.1f MiB (tiny metadata) vs %.1f MiB (largest metadata, about 3.4 KiB sealed each): %+.1f MiB",
                     tiny / 1024, largest / 1024, (largest - tiny) / 1024))
    }

    /// Runs `vault-bench list-peak` in a child process and returns its peak RSS in KiB.
    static func childPeak(vault: String, state: String, caseID: String, identity: String, passphrase: String) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
            : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
        process.arguments = ["list-peak", vault, state, caseID, identity]
        process.environment = ["EVAULT_BENCH_PASSPHRASE": passphrase]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// `vault-bench list-peak VAULT STATE CASE IDENTITY`: unlocks the identity, resets the
    /// peak-RSS counter (/proc/self/clear_refs), lists the case and prints VmHWM in KiB.
    static func listPeak(vault: String, state: String, caseID: String, identity: String) throws {
        let passphrase = ProcessInfo.processInfo.environment["EVAULT_BENCH_PASSPHRASE"] ?? ""
        let reader = try IdentityStore.unlock(identity, passphrase: SecureBytes(copying: Array(passphrase.utf8)))
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        let listed = try Vault.open(at: vault, knownVaults: KnownVaults(path: state + "/known-vaults.json")).documents(inCase: caseID, as: reader)
        precondition(!listed.isEmpty && listed.allSatisfy { $0.metadata != nil })
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        print(line.split(separator: " ").dropFirst().first ?? "-1")
    }
}

/// A missing value is a bug in the benchmark's own setup.
func require<T>(_ value: T?) throws -> T {
    guard let value else { throw VaultError(.integrity, "benchmark setup failed") }
    return value
}
