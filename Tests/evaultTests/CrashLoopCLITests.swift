import Foundation
import Testing

/// THREATS.md 52: the built binary killed (SIGKILL) or failed (EIO) at its
/// n-th file-changing system call, for n = 1, 2, ... until the operation runs
/// through untouched. After every run: `verify` passes, at once or after
/// `evault clean` removes what the run left; every acknowledged document is
/// listed; at the end every listed document exports to its content.
///
/// The faults come from an LD_PRELOAD shim (Fixtures/fault-shim/fault_shim.c)
/// under evault and the SQLite inside it, so SQLite's own writes, syncs and
/// truncations are cut as well as evault's.
@Suite("Crash and write-failure loops (CLI)", .serialized)
struct CrashLoopCLITests {
    typealias Setup = VaultCLITests.Setup

    /// The shim, compiled once with the system C compiler.
    static let shim = Result<String, Error> {
        let source = try #require(Bundle.module.url(forResource: "fault_shim", withExtension: "c", subdirectory: "Fixtures/fault-shim"))
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("evault-fault-shim-\(UUID().uuidString).so").path
        let compiler = Process()
        compiler.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        compiler.arguments = ["cc", "-shared", "-fPIC", "-O1", "-o", output, source.path, "-ldl"]
        try compiler.run()
        compiler.waitUntilExit()
        guard compiler.terminationStatus == 0 else { throw VaultTestFailure("cc could not build the fault shim") }
        return output
    }

    struct VaultTestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    enum Mode: String, CaseIterable { case kill, eio }

    /// One operation under test: its arguments for run `n`, and whether it adds a document.
    struct Operation: CustomStringConvertible, Sendable {
        let name: String
        let addsDocument: Bool
        let arguments: @Sendable (Setup, Int) throws -> [String]
        let actor: String
        /// Faults are injected at calls 1, 1 + stride, 1 + 2 stride, ... (1: every call).
        var stride = 1
        /// Whose calls are counted: the vault's (the kept ledger state's are left to the
        /// loop of its own, which counts only those: each is tested, neither multiplies the other).
        var onlyKeptState = false
        var description: String { name }
    }

    static let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }

    static let operations = [
        // A document of five chunks: blob written, synced, linked, then its event committed.
        Operation(name: "add", addsDocument: true, arguments: { setup, _ in
            ["add", "REF-1", try setup.file("testimony.bin", CrashLoopCLITests.content), "--kind", "testimony", "--title", "statement"]
        }, actor: "lawyer"),
        // A pure ledger append: one event and its index rows.
        Operation(name: "ledger append (case new)", addsDocument: false, arguments: { _, n in
            ["case", "new", "wg", "LOOP-\(n)", "--title", "case \(n)"]
        }, actor: "lawyer"),
        // A rotation: one event with the new epoch's seals, commitment and prev wrap.
        Operation(name: "group rotate", addsDocument: false, arguments: { _, n in
            ["group", "rotate", "wg", "--reason", "loop \(n)"]
        }, actor: "custodian"),
        // A removal with its rotation; the removed lawyer is admitted again first when needed.
        Operation(name: "group remove", addsDocument: false, arguments: { setup, n in
            try CrashLoopCLITests.admitFreshLawyer("leaver-\(n)", setup)
            return ["group", "remove", "wg", "leaver-\(n)", "--reason", "loop"]
        }, actor: "custodian"),
        // Re-encryption of a fresh three-document case after a removal. Before each run,
        // the previous run's case, killed anywhere, is re-encrypted again untouched:
        // it must finish, and its documents export identical.
        Operation(name: "reencrypt", addsDocument: false, arguments: { setup, n in
            if n > 1 { try CrashLoopCLITests.finishReencryption(setup, reference: "RE-\(n - 3)") }  // the previous run (stride 3)
            try setup.ok(["case", "new", "wg", "RE-\(n)"], as: "lawyer")
            let files = try (0..<3).map { try setup.file("re-\(n)-\($0).bin", CrashLoopCLITests.content) }
            try setup.ok(["add", "RE-\(n)"] + files + ["--kind", "medical"], as: "lawyer")
            try CrashLoopCLITests.admitFreshLawyer("removed-\(n)", setup)
            try setup.ok(["group", "remove", "wg", "removed-\(n)"], as: "custodian")
            return ["reencrypt", "wg", "--case", "RE-\(n)"]
        }, actor: "custodian", stride: 3),
    ]

    /// An add whose faults hit only the kept ledger state's writes (Docs/FORMAT.md §11),
    /// which come after the ledger commit: the document is there whatever happens to them.
    static let keptStateAdd = Operation(name: "add, kept state only", addsDocument: true, arguments: { setup, n in
        ["add", "REF-1", try setup.file("kept-\(n).bin", CrashLoopCLITests.content), "--kind", "testimony", "--title", "statement"]
    }, actor: "lawyer", onlyKeptState: true)

    /// Operations and the fault modes each is looped under (re-encryption under kill -9).
    static let loops: [(Operation, Mode)] = operations.flatMap { operation in
        (operation.name == "reencrypt" ? [Mode.kill] : Mode.allCases).map { (operation, $0) }
    } + Mode.allCases.map { (keptStateAdd, $0) }

    /// Makes an identity and admits it to wg as a lawyer (a removed identity is never admitted again).
    static func admitFreshLawyer(_ name: String, _ setup: Setup) throws {
        let made = try CLI.run(["identity", "new", name, "--out", setup.scratch.path, "--kdf", "interactive"],
                               environment: ["EVAULT_PASSPHRASE": setup.passphrase])
        #expect(made.status == 0, "\(made.stderr)")
        try setup.ok(["group", "add", "wg", setup.scratch.file("\(name).pub"), "--role", "lawyer"], as: "custodian")
    }

    /// Re-runs an interrupted re-encryption untouched: it completes, nothing stays
    /// under the old keys, and every document of the case exports identical.
    static func finishReencryption(_ setup: Setup, reference: String) throws {
        let done = try #require(try setup.json(["reencrypt", "wg", "--case", reference], as: "custodian") as? [String: Any])
        #expect(done["remaining"] as? Int == 0, "re-encryption of \(reference) left work: \(done)")
        let listed = try #require(try setup.json(["list", reference], as: "lawyer") as? [[String: Any]])
        #expect(listed.count == 3)
        for id in listed.compactMap({ $0["id"] as? String }) {
            let out = setup.scratch.file("out-\(id)")
            try? FileManager.default.removeItem(atPath: out)
            try setup.ok(["export", id, "--out", out], as: "lawyer")
            #expect(try setup.scratch.read("out-\(id)") == Data(Self.content), "document \(id) of \(reference) exports to other bytes")
        }
    }

    struct LoopReport {
        var runs = 0, faulted = 0, acknowledgedDespiteFault = 0, neededClean = 0, totalCalls = 0
        /// The calls whose failure the operation survived and still acknowledged.
        var toleratedCalls: [String] = []
    }

    @Test("killed or failed at every file-changing call: acknowledged work survives, the rest is absent or cleanable",
          arguments: loops)
    func loop(operation: Operation, mode: Mode) throws {
        let shim = try Self.shim.get()
        let setup = try Setup()
        if operation.name.hasPrefix("group") {
            try setup.ok(["add", "REF-1", try setup.file("before.bin", Self.content), "--kind", "testimony"], as: "lawyer")
        }
        let reportFile = setup.scratch.file("fault-report")
        var acknowledged: [String] = []
        var report = LoopReport()
        var n = 1
        while true {
            try? FileManager.default.removeItem(atPath: reportFile)
            var environment = Setup.environment(operation.actor, setup.scratch)
            environment["LD_PRELOAD"] = shim
            environment["EVAULT_FAULT_AT"] = "\(n)"
            environment["EVAULT_FAULT_MODE"] = mode.rawValue
            environment["EVAULT_FAULT_REPORT"] = reportFile
            environment[operation.onlyKeptState ? "EVAULT_FAULT_ONLY" : "EVAULT_FAULT_SKIP"] = "/kept/"
            let result = try CLI.run(try operation.arguments(setup, n), environment: environment, timeout: 120)
            report.runs += 1
            let context = "\(operation) \(mode) at call \(n): exit \(result.status) \(result.stderr.prefix(300))"
            #expect(!result.timedOut, "hang: \(context)")
            // "CALLS FIRED CALL", written at a normal exit; none when killed.
            let reported = (try? String(contentsOfFile: reportFile, encoding: .utf8))?
                .split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            let fired = reported.map { $0.count == 3 && $0[1] == "1" } ?? true
            if mode == .kill { #expect(fired == result.signalled, "only the shim kills: \(context)") } else { #expect(!result.signalled, "crash: \(context)") }
            if result.status == 0 && !result.signalled {
                if fired {
                    report.acknowledgedDespiteFault += 1
                    report.toleratedCalls.append("\(n):\(reported?.last ?? "?")")
                }
                if operation.addsDocument { acknowledged.append(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }
            } else {
                report.faulted += 1
                #expect(result.signalled || result.stderr.hasPrefix("evault: error: "), "no named error: \(context)")
            }
            try Self.checkConsistent(setup, acknowledged: acknowledged, context: context, report: &report)
            if !fired {
                // Past the last call: the operation ran untouched, and said so.
                #expect(result.status == 0, "\(context)")
                report.totalCalls = reported.flatMap { Int($0[0]) } ?? 0
                break
            }
            n += operation.stride
            if n > 2000 { Issue.record("no end after 2000 calls: \(context)"); break }
        }
        // Every document the vault lists is whole.
        let listed = try Self.listed(setup)
        for id in listed where operation.addsDocument {
            let out = setup.scratch.file("out-\(id)")
            try setup.ok(["export", id, "--out", out], as: "lawyer")
            #expect(try setup.scratch.read("out-\(id)") == Data(Self.content), "document \(id) exports to other bytes")
        }
        if operation.name == "reencrypt" {
            try Self.finishReencryption(setup, reference: "RE-\(n)")
            // After clean, no blob a removed member's keys opened is left: every superseded blob is gone.
            try setup.ok(["clean"], as: nil)
            let blobs = try FileManager.default.contentsOfDirectory(atPath: setup.scratch.file("vault/blobs"))
            let named = try #require(try setup.json(["log"], as: nil) as? [[String: Any]])
            let superseded = Set(named.flatMap { ($0["objects"] as? [[String: Any]]) ?? [] }
                .filter { $0["kind"] as? String == "supersedes" }.compactMap { $0["id"] as? String })
            #expect(!superseded.isEmpty)
            #expect(Set(blobs).isDisjoint(with: superseded), "superseded blobs left after clean")
        }
        if operation.name.hasPrefix("group") {
            // Whole epochs only: the readers left can read what was added before every rotation.
            let listed = try Self.listed(setup)
            #expect(!listed.isEmpty)
            for id in listed {
                let out = setup.scratch.file("read-\(id)")
                try? FileManager.default.removeItem(atPath: out)
                try setup.ok(["export", id, "--out", out], as: "lawyer")
            }
            try setup.ok(["verify", "--identity", setup.scratch.file("lawyer.identity")], as: nil)
        }
        print("crash loop \(operation) \(mode): n = 1...\(n), \(report.runs) runs (\(report.totalCalls) file-changing calls when untouched), \(report.faulted) refused or killed, \(report.acknowledgedDespiteFault) acknowledged though a call failed (call n:name \(report.toleratedCalls.joined(separator: " "))), \(report.neededClean) needed evault clean; \(acknowledged.count) acknowledged documents, \(listed.count) listed")
        #expect(report.runs == (n - 1) / operation.stride + 1)
        if operation.onlyKeptState && mode == .eio {
            // The kept state is a cache kept after the commit: no failure of its writes fails the add.
            #expect(report.faulted == 0)
            #expect(report.acknowledgedDespiteFault == report.runs - 1)
        } else {
            #expect(report.faulted >= 1)
        }
    }

    /// verify passes at once, or after `clean` removes leftovers; every acknowledged document is listed.
    static func checkConsistent(_ setup: Setup, acknowledged: [String], context: String, report: inout LoopReport) throws {
        var verify = try setup.run(["verify"], as: nil)
        if verify.status != 0 {
            report.neededClean += 1
            let clean = try setup.run(["clean", "--min-age", "0"], as: nil)
            #expect(clean.status == 0, "clean failed after \(context): \(clean.stderr)")
            verify = try setup.run(["verify"], as: nil)
        }
        #expect(verify.status == 0, "not clean after \(context), even after evault clean: \(verify.stdout.suffix(600)) \(verify.stderr)")
        let listed = try listed(setup)
        for id in acknowledged {
            #expect(listed.contains(id), "acknowledged document \(id) lost after \(context)")
        }
    }

    static func listed(_ setup: Setup) throws -> [String] {
        let json = try #require(try setup.json(["list", "REF-1"], as: "lawyer") as? [[String: Any]])
        return json.compactMap { $0["id"] as? String }
    }
}
