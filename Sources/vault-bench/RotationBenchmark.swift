import EvidenceVault
import Foundation
import VaultCrypto

/// `vault-bench rotate [DOCUMENTS] [CASES]`: what `group rotate` costs in a
/// group holding DOCUMENTS documents in CASES cases (default 100,000 in 5,000),
/// against a plain one-event append (`case new`) in the same vault, in paired,
/// alternating runs (medians). Both replay the whole ledger (signatures up to
/// the remembered head skipped, as the CLI does); a rotation then adds only
/// what follows the number of readers, never the number of cases or documents
/// (case keys get their new generation lazily, on the next add).
enum RotationBenchmark {
    static func run(documents: Int, cases: Int) throws {
        let root = NSTemporaryDirectory() + "vault-bench-rotate-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let custodian = try UnlockedIdentity.generate(name: "bench")
        let small = root + "/small.txt"
        try Data("a small document".utf8).write(to: URL(fileURLWithPath: small))
        let (vault, known) = try ScaleBenchmark.makeVault(root + "/large", creator: custodian)
        for index in 0..<8 {
            try vault.addMember(try UnlockedIdentity.generate(name: "lawyer-\(index)").publicIdentity, role: .lawyer, toGroup: "bench", as: custodian)
        }
        let build = try ScaleBenchmark.seconds {
            let made = try vault.createCases(inGroup: "bench", (0..<cases).map { ("CASE-\($0)", "") }, as: custodian).map(\.id)
            // Documents in batches of 2000 per transaction, spread round the cases.
            var left = documents, next = 0
            while left > 0 {
                let now = min(2000, left)
                try ScaleBenchmark.fill(vault, caseID: made[next % made.count], file: NewDocument(path: small, kind: .other), count: now, as: custodian)
                left -= now
                next += 1
            }
        }
        let events = try vault.replay().count
        print(String(format: "vault-bench rotate: %d documents in %d cases, 9 readers, %d events, built in %.0f s", documents, cases, Int(events), build))
        var rotations: [Double] = [], appends: [Double] = [], replays: [Double] = []
        for round in 0..<5 {
            let opened = try Vault.open(at: vault.folder, knownVaults: known)
            replays.append(try ScaleBenchmark.seconds { _ = try opened.replay() })
            appends.append(try ScaleBenchmark.seconds {
                _ = try opened.addMember(try UnlockedIdentity.generate(name: "auditor-\(round)").publicIdentity, role: .auditor,
                                         toGroup: "bench", as: custodian)
            })
            rotations.append(try ScaleBenchmark.seconds { try opened.rotateGroup("bench", as: custodian) })
        }
        let rotation = ScaleBenchmark.median(rotations), append = ScaleBenchmark.median(appends), replay = ScaleBenchmark.median(replays)
        print(String(format: "  group rotate: %.3f s (median of 5); admitting an auditor (one plain event, reference): %.3f s; ratio %.2f", rotation, append, rotation / append))
        print(String(format: "  replay alone (what every command does first, signatures up to the remembered head skipped): %.3f s; rotation's own work: %.3f s",
                     replay, rotation - replay))
        let state = try vault.replay()
        let group = try require(state.group(named: "bench"))
        print("  after \(group.epoch - 1) rotations: every case still at its old generation (\(try state.allCases().filter { $0.generation == 1 }.count) of \(try state.allCases().count)); the next add to a case makes its new one")
        let first = try ScaleBenchmark.seconds { _ = try vault.addDocuments([NewDocument(path: small, kind: .other)], toCase: "CASE-0", as: custodian) }
        let second = try ScaleBenchmark.seconds { _ = try vault.addDocuments([NewDocument(path: small, kind: .other)], toCase: "CASE-0", as: custodian) }
        print(String(format: "  first add to a case after the rotation (with case.rekey): %.3f s; the next add: %.3f s", first, second))
        if let keep = ProcessInfo.processInfo.environment["EVAULT_BENCH_KEEP"] {
            try FileManager.default.moveItem(atPath: root + "/large", toPath: keep)
            print("  vault kept in \(keep)")
        }
    }
}
