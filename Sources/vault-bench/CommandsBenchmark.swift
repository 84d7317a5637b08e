import EvidenceVault
import Foundation
import GRDB
import VaultCrypto

/// `vault-bench commands [CASES] [DOCUMENTS_PER_CASE]`: what the everyday
/// commands cost in a large vault once the identity is unlocked, through the
/// library, against the full replay every command did before the kept ledger
/// state (Docs/FORMAT.md §11), measured in the same run: paired, alternating
/// rounds, medians of 5.
///
/// The vault: a group with a custodian, 8 lawyers and 4 auditors, CASES cases,
/// each with DOCUMENTS_PER_CASE documents of 1 KB (one transaction per case).
enum CommandsBenchmark {
    static func run(cases: Int, documentsPerCase: Int) throws {
        let root = (ProcessInfo.processInfo.environment["EVAULT_BENCH_DIR"] ?? NSTemporaryDirectory()) + "/vault-bench-commands-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let custodian = try UnlockedIdentity.generate(name: "custodian")
        let lawyer = try UnlockedIdentity.generate(name: "lawyer")
        let small = root + "/1k.bin"
        try Data((0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: small))

        let (vault, known) = try ScaleBenchmark.makeVault(root + "/vault", creator: custodian)
        try vault.addMember(lawyer.publicIdentity, role: .lawyer, toGroup: "bench", as: custodian)
        for index in 0..<7 {
            try vault.addMember(try UnlockedIdentity.generate(name: "lawyer-\(index)").publicIdentity, role: .lawyer, toGroup: "bench", as: custodian)
        }
        for index in 0..<4 {
            try vault.addMember(try UnlockedIdentity.generate(name: "auditor-\(index)").publicIdentity, role: .auditor, toGroup: "bench", as: custodian)
        }
        // The reader of the memory figure below, from an identity file (a child process unlocks it).
        let identityFolder = root + "/identity"
        try FileManager.default.createDirectory(atPath: identityFolder, withIntermediateDirectories: true)
        let passphrase = "benchmark passphrase only"
        let reader = try IdentityStore.create(name: "reader", in: identityFolder, passphrase: SecureBytes(copying: Array(passphrase.utf8)),
                                              parameters: .interactive)
        try vault.addMember(reader.publicIdentity, role: .lawyer, toGroup: "bench", as: custodian)
        // Each identity is told to trust the vault on this machine, as `evault trust --identity` does.
        for identity in [lawyer, try IdentityStore.unlock(reader.secretPath, passphrase: SecureBytes(copying: Array(passphrase.utf8)))] {
            _ = try vault.trust(.confirmedAtTerminal, for: identity)
        }
        var caseIDs: [ObjectID] = []
        let build = try ScaleBenchmark.seconds {
            var made = 0
            while made < cases {
                let batch = min(1000, cases - made)
                caseIDs += try vault.createCases(inGroup: "bench", (made..<made + batch).map { ("CASE-\($0)", "") }, as: custodian).map(\.id)
                made += batch
            }
            for caseID in caseIDs {
                _ = try vault.addDocuments(Array(repeating: NewDocument(path: small, kind: .other), count: documentsPerCase),
                                           toCase: caseID.hex, as: custodian)
            }
        }
        if let keep = ProcessInfo.processInfo.environment["EVAULT_BENCH_KEEP"] {
            try FileManager.default.copyItem(atPath: vault.folder, toPath: keep)
            print("  vault copied to \(keep) (for `vault-bench verify`)")
        }
        let events = try vault.replay().count
        print(String(format: "vault-bench commands: %d events (%d cases of %d documents, 14 members), built in %.0f s",
                     Int(events), cases, documentsPerCase, build))

        let target = caseIDs[caseIDs.count / 2]
        var listedFirst: [DocumentSummary] = []
        let first = try ScaleBenchmark.seconds { listedFirst = try Vault.open(at: vault.folder, knownVaults: known).documents(inCase: target.hex, as: lawyer) }
        print(String(format: "  first command of the lawyer (no kept state yet: full replay, then kept): %.3f s", first))
        let document = listedFirst[documentsPerCase / 2].id

        // EVAULT_BENCH_PROFILE=N: N lists and N case lists in a row, for `perf record --delay` (nothing printed).
        if let rounds = ProcessInfo.processInfo.environment["EVAULT_BENCH_PROFILE"].flatMap(Int.init) {
            print("  profiling: \(rounds) lists and case lists")
            for _ in 0..<rounds {
                _ = try Vault.open(at: vault.folder, knownVaults: known).documents(inCase: target.hex, as: lawyer)
                _ = try Vault.open(at: vault.folder, knownVaults: known).cases(inGroup: "bench", as: lawyer)
            }
        }
        var times: [String: [Double]] = [:]
        for _ in 0..<5 {
            // Reference first in each round, then each command on a freshly opened vault (as a new process would).
            times["reference", default: []].append(try ScaleBenchmark.seconds { _ = try Vault.open(at: vault.folder, knownVaults: known).replay() })
            times["list", default: []].append(try ScaleBenchmark.seconds {
                let listed = try Vault.open(at: vault.folder, knownVaults: known).documents(inCase: target.hex, as: lawyer)
                precondition(listed.count >= documentsPerCase)
            })
            times["show", default: []].append(try ScaleBenchmark.seconds {
                let shown = try Vault.open(at: vault.folder, knownVaults: known).document(document.hex, as: lawyer)
                precondition(shown.metadata != nil)
            })
            times["cases", default: []].append(try ScaleBenchmark.seconds {
                let listed = try Vault.open(at: vault.folder, knownVaults: known).cases(inGroup: "bench", as: lawyer)
                precondition(listed.count == cases)
            })
            times["log", default: []].append(try ScaleBenchmark.seconds {
                let entries = try Vault.open(at: vault.folder, knownVaults: known).log(case: target.hex, as: lawyer)
                precondition(entries.count > documentsPerCase)
            })
            times["add", default: []].append(try ScaleBenchmark.seconds {
                _ = try Vault.open(at: vault.folder, knownVaults: known).addDocuments([NewDocument(path: small, kind: .other)],
                                                                                      toCase: target.hex, as: lawyer)
            })
        }
        // Keyless verify against a raw two-core signature-verify loop over the same events (paired, alternating).
        let (signed, keys) = try ledgerEvents(vault.folder + "/vault.sqlite", state: try vault.replay())
        for _ in 0..<3 {
            times["raw", default: []].append(ScaleBenchmark.seconds { precondition(verifyAll(signed, keys: keys, threads: 2)) })
            times["verify", default: []].append(ScaleBenchmark.seconds { precondition(vault.verify(threads: 2).isClean) })
        }
        let reference = ScaleBenchmark.median(times["reference"] ?? [1])
        print(String(format: "  reference: keyless replay of the whole ledger, every signature checked on two cores: %.3f s", reference))
        for (key, label, goal) in [("list", "list CASE", 0.050), ("show", "show DOC", 0.050), ("cases", "case list GROUP", 0.300),
                                   ("add", "add of a 1 KB file", 0.100), ("log", "log --case CASE", 0.100)] {
            let value = ScaleBenchmark.median(times[key] ?? [1])
            print("  " + label.padding(toLength: 20, withPad: " ", startingAt: 0)
                  + String(format: "%8.1f ms   %.3f x reference   (goal under %.0f ms: %@)", value * 1000, value / reference, goal * 1000,
                           value < goal ? "met" : "not met"))
        }
        let raw = ScaleBenchmark.median(times["raw"] ?? [1]), verify = ScaleBenchmark.median(times["verify"] ?? [1])
        print(String(format: "  keyless verify (every signature, the index, %d blobs): %.2f s, %.0f events/s; raw two-core Ed25519 verify of the same events: %.2f s, %.0f events/s; verify at %.0f%% of raw (goal 80%%: %@)",
                     cases * documentsPerCase, verify, Double(events) / verify, raw, Double(events) / raw, raw / verify * 100,
                     raw / verify >= 0.8 ? "met" : "not met"))

        // Peak memory of `list CASE` in a child process, after its identity (Argon2id, interactive) is unlocked.
        var peaks: [Int] = []
        for _ in 0..<2 {  // the first builds the reader's kept state
            peaks.append(try ScaleBenchmark.childPeak(vault: vault.folder, state: root + "/vault/state", caseID: target.hex,
                                                      identity: reader.secretPath, passphrase: passphrase))
        }
        print(String(format: "  peak memory of list CASE beyond the unlocked identity: %.1f MiB with the kept state (%.1f MiB building it) (goal under 100 MiB: %@)",
                     Double(peaks[1]) / 1024, Double(peaks[0]) / 1024, peaks[1] < 100 * 1024 ? "met" : "not met"))
    }

    /// Every event of the ledger, decoded, with its signer's key.
    static func ledgerEvents(_ database: String, state: LedgerState) throws -> ([Event], [SigningPublicKey]) {
        let queue = try DatabaseQueue(path: database, configuration: { var c = Configuration(); c.readonly = true; return c }())
        let events = try queue.read { db in try Data.fetchAll(db, sql: "SELECT bytes FROM events ORDER BY seq").map { try Event.decode(Array($0)) } }
        let creator = try require(state.creator.flatMap { state.identities[$0] })
        let keys = try events.map { event in try require(event.sequence == 0 ? creator.signingKey : state.identities[event.actor]?.signingKey) }
        return (events, keys)
    }

    /// Verifies every signature, `threads` at a time, striding (the reference loop).
    static func verifyAll(_ events: [Event], keys: [SigningPublicKey], threads: Int) -> Bool {
        let failures = UnsafeMutableBufferPointer<Int>.allocate(capacity: threads)
        failures.initialize(repeating: 0)
        defer { failures.deallocate() }
        nonisolated(unsafe) let results = failures
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            var index = worker
            while index < events.count {
                if !events[index].hasValidSignature(by: keys[index]) { results[worker] += 1 }
                index += threads
            }
        }
        return failures.allSatisfy { $0 == 0 }
    }
}
