import Foundation
import Testing

/// The vault commands through the built binary: flows, refusals, exit codes, JSON.
@Suite("evault vault commands", .serialized)
struct VaultCLITests {
    /// A vault made through the CLI: custodian, two lawyers, an auditor, an outsider in another group, one case.
    final class Setup: @unchecked Sendable {
        let scratch: Scratch
        let caseID: String
        /// The vault's genesis hash, as `init` printed it.
        let genesis: String
        var vault: String { scratch.file("vault") }
        let passphrase = "a passphrase for tests"

        init() throws {
            scratch = try Scratch()
            for name in ["custodian", "lawyer", "lawyer2", "auditor", "outsider"] {
                let made = try CLI.run(["identity", "new", name, "--out", scratch.path, "--kdf", "interactive"],
                                       environment: ["EVAULT_PASSPHRASE": passphrase])
                #expect(made.status == 0, "\(made.stderr)")
            }
            let created = try Setup.expectOK(["init", "--json"], as: "custodian", in: scratch)
            genesis = (try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any])?["genesis"] as? String ?? ""
            try Setup.expectOK(["group", "create", "wg"], as: "custodian", in: scratch)
            try Setup.expectOK(["group", "create", "other"], as: "custodian", in: scratch)
            for (member, role, group) in [("lawyer", "lawyer", "wg"), ("lawyer2", "lawyer", "wg"), ("auditor", "auditor", "wg"), ("outsider", "lawyer", "other")] {
                try Setup.expectOK(["group", "add", group, scratch.file("\(member).pub"), "--role", role], as: "custodian", in: scratch)
            }
            // Each member's identity is told to trust the vault, with the hash the custodian gave out of
            // band: the lawyer now, the others before their first command here (`run`, `ok`, `json`).
            try Setup.expectOK(["trust", "--genesis", genesis], as: "lawyer", in: scratch)
            let made = try Setup.run(["case", "new", "wg", "REF-1", "--title", "first"], as: "lawyer", in: scratch)
            caseID = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(caseID.count == 32)
        }

        static func environment(_ who: String?, _ scratch: Scratch) -> [String: String] {
            var env = ["EVAULT_VAULT": scratch.file("vault"), "EVAULT_PASSPHRASE": "a passphrase for tests",
                       "EVAULT_STATE_DIR": scratch.file("state")]
            if let who { env["EVAULT_IDENTITY"] = scratch.file("\(who).identity") }
            return env
        }

        static func run(_ arguments: [String], as who: String?, in scratch: Scratch) throws -> CLI.Result {
            try CLI.run(arguments, environment: environment(who, scratch))
        }

        @discardableResult
        static func expectOK(_ arguments: [String], as who: String?, in scratch: Scratch) throws -> CLI.Result {
            let result = try run(arguments, as: who, in: scratch)
            #expect(result.status == 0, "\(arguments): \(result.stderr)")
            return result
        }

        func run(_ arguments: [String], as who: String?) throws -> CLI.Result {
            try trustOnFirstUse(who)
            return try Setup.run(arguments, as: who, in: scratch)
        }
        @discardableResult
        func ok(_ arguments: [String], as who: String?) throws -> CLI.Result {
            try trustOnFirstUse(who)
            return try Setup.expectOK(arguments, as: who, in: scratch)
        }

        /// Members whose identity has not yet been told to trust the vault (`trust --genesis`).
        private var untrusted: Set<String> = ["lawyer2", "auditor", "outsider"]
        private let lock = NSLock()

        /// Runs `trust --genesis` as `who` before their first command through `run` or `ok`
        /// (a command run with `Setup.environment` directly gets no such help).
        private func trustOnFirstUse(_ who: String?) throws {
            guard let who, lock.withLock({ untrusted.remove(who) }) != nil else { return }
            try Setup.expectOK(["trust", "--genesis", genesis], as: who, in: scratch)
        }

        func json(_ arguments: [String], as who: String?) throws -> Any {
            try JSONSerialization.jsonObject(with: Data(try ok(arguments + ["--json"], as: who).stdout.utf8))
        }

        func file(_ name: String, _ bytes: [UInt8]) throws -> String {
            try scratch.write(Data(bytes), name)
            return scratch.file(name)
        }
    }

    @Test("removal from the built binary: rotation, refusal, exposure, a newcomer reads old evidence, reencrypt and clean")
    func removalRotationAndExposure() throws {
        let setup = try Setup()
        let content = (0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let first = try setup.ok(["add", "REF-1", try setup.file("first.bin", content), "--kind", "testimony"], as: "lawyer2")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try setup.ok(["export", first, "--out", setup.scratch.file("lawyer2-copy.bin")], as: "lawyer2")
        let removed = try setup.ok(["group", "remove", "wg", "lawyer2", "--reason", "left the NGO"], as: "custodian")
        #expect(removed.stdout.contains("Rotated wg to epoch 2"))
        let later = try setup.ok(["add", "REF-1", try setup.file("later.bin", content.reversed()), "--kind", "medical"], as: "lawyer")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = try setup.run(["export", later, "--out", setup.scratch.file("stolen.bin")], as: "lawyer2")
        #expect(refused.status == 3 && refused.stderr.contains("not a member of group wg"))
        #expect(!FileManager.default.fileExists(atPath: setup.scratch.file("stolen.bin")))
        // Lawyers may not remove or rotate; the last custodian stays; an auditor goes without rotation.
        #expect(try setup.run(["group", "rotate", "wg"], as: "lawyer").status == 3)
        #expect(try setup.run(["group", "remove", "wg", "custodian"], as: "custodian").stderr.contains("last custodian"))
        let auditorGone = try setup.ok(["group", "remove", "wg", "auditor"], as: "custodian")
        #expect(!auditorGone.stdout.contains("Rotated"))
        let again = try setup.run(["group", "remove", "wg", "lawyer2"], as: "custodian")
        #expect(again.status == 1 && again.stderr.contains("already removed from wg in ledger event"), "\(again.stderr)")

        let exposure = try #require(try setup.json(["exposure", "lawyer2"], as: nil) as? [String: Any])
        let group = try #require((exposure["groups"] as? [[String: Any]])?.first)
        #expect(group["highestEpoch"] as? Int == 1)
        #expect(group["addedAfterRemoval"] as? Int == 1)
        let documents = try #require(group["documents"] as? [[String: Any]])
        #expect(documents.map { $0["id"] as? String } == [first])
        #expect(documents.first?["currentContentOpens"] as? Bool == true)
        #expect((exposure["exports"] as? [[String: Any]])?.count == 1)
        #expect((exposure["limits"] as? [String])?.first?.contains("cannot revoke") == true)
        let human = try setup.ok(["exposure", "lawyer2"], as: nil).stdout
        #expect(human.contains("removed in event") && human.contains("cannot revoke keys, blobs or plaintext obtained before"))
        #expect(!human.contains("left the NGO"), "the reason is sealed: keyless output must not show it")
        let withKey = try setup.ok(["exposure", "lawyer2", "--identity", setup.scratch.file("lawyer.identity")], as: nil).stdout
        #expect(withKey.contains("reason: left the NGO"))

        // A newcomer admitted at epoch 2 reads the epoch-1 document.
        let made = try CLI.run(["identity", "new", "newcomer", "--out", setup.scratch.path, "--kdf", "interactive"],
                               environment: ["EVAULT_PASSPHRASE": setup.passphrase])
        #expect(made.status == 0)
        try setup.ok(["group", "add", "wg", setup.scratch.file("newcomer.pub"), "--role", "lawyer"], as: "custodian")
        let untrusted = try setup.run(["export", first, "--out", setup.scratch.file("newcomer.bin")], as: "newcomer")
        #expect(untrusted.status == 6 && untrusted.stderr.contains("newcomer has not been told to trust"), "a newcomer's identity trusts nothing yet")
        try setup.ok(["trust", "--genesis", setup.genesis], as: "newcomer")
        try setup.ok(["export", first, "--out", setup.scratch.file("newcomer.bin")], as: "newcomer")
        #expect(try setup.scratch.read("newcomer.bin") == Data(content))

        #expect(try setup.run(["reencrypt", "wg"], as: "lawyer").status == 3)
        let rewritten = try #require(try setup.json(["reencrypt", "wg"], as: "custodian") as? [String: Any])
        #expect(rewritten["reencrypted"] as? Int == 1 && rewritten["remaining"] as? Int == 0)
        try setup.ok(["clean"], as: nil)
        let after = try #require(try setup.json(["exposure", "lawyer2"], as: nil) as? [String: Any])
        let reached = try #require(((after["groups"] as? [[String: Any]])?.first?["documents"] as? [[String: Any]])?.first)
        #expect(reached["currentContentOpens"] as? Bool == false && reached["openableBlobStillHere"] as? Bool == false)
        try setup.ok(["export", first, "--out", setup.scratch.file("after.bin")], as: "lawyer")
        #expect(try setup.scratch.read("after.bin") == Data(content))
        try setup.ok(["verify", "--identity", setup.scratch.file("newcomer.identity")], as: nil)
    }

    @Test("a second lawyer reads what the first added; an auditor and an outsider are refused")
    func readersAndRefusals() throws {
        let setup = try Setup()
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let added = try setup.ok(["add", "REF-1", try setup.file("statement.bin", content), "--kind", "testimony", "--title", "Statement",
                                  "--tag", "w1"], as: "lawyer")
        let documentID = added.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(documentID.count == 32)
        let oneTitleForTwo = try setup.run(["add", "REF-1", try setup.file("x.bin", [1]), try setup.file("y.bin", [2]), "--kind", "other",
                                            "--title", "Statement"], as: "lawyer")
        #expect(oneTitleForTwo.status == 64 && oneTitleForTwo.stderr.contains("same title"), "one --title for several files is refused")

        let listed = try #require(try setup.json(["list", String(setup.caseID.prefix(6))], as: "lawyer2") as? [[String: Any]])
        #expect(listed.count == 1)
        #expect(listed[0]["id"] as? String == documentID)
        #expect((listed[0]["metadata"] as? [String: Any])?["title"] as? String == "Statement")

        try setup.ok(["export", String(documentID.prefix(8)), "--out", setup.scratch.file("out.bin")], as: "lawyer2")
        #expect(try setup.scratch.read("out.bin") == Data(content))

        let refusedExisting = try setup.run(["export", documentID, "--out", setup.scratch.file("out.bin")], as: "lawyer2")
        #expect(refusedExisting.status == 1)
        #expect(refusedExisting.stderr.contains("already exists"))
        try setup.ok(["export", documentID, "--out", setup.scratch.file("out.bin"), "--force"], as: "lawyer2")

        let auditor = try setup.run(["export", documentID, "--out", setup.scratch.file("auditor.bin")], as: "auditor")
        #expect(auditor.status == 3)
        #expect(auditor.stderr.hasPrefix("evault: error: auditor is an auditor of group wg"))
        #expect(!FileManager.default.fileExists(atPath: setup.scratch.file("auditor.bin")))
        let outsider = try setup.run(["export", documentID, "--out", setup.scratch.file("outsider.bin")], as: "outsider")
        #expect(outsider.status == 3)
        #expect(outsider.stderr.contains("is not a member of group wg"))
        let outsiderAdd = try setup.run(["add", setup.caseID, setup.scratch.file("statement.bin"), "--kind", "other"], as: "outsider")
        #expect(outsiderAdd.status == 3)
        let lawyerAdmits = try setup.run(["group", "add", "wg", setup.scratch.file("outsider.pub"), "--role", "lawyer"], as: "lawyer")
        #expect(lawyerAdmits.status == 3)
        #expect(lawyerAdmits.stderr.contains("not a custodian"))

        // Without an identity: sizes and times, no metadata; references are sealed.
        let sealed = try #require(try setup.json(["show", documentID], as: nil) as? [String: Any])
        #expect(sealed["id"] as? String == documentID)
        #expect(sealed["metadata"] == nil)
        let byReference = try setup.run(["list", "REF-1"], as: nil)
        #expect(byReference.status == 1)
        #expect(byReference.stderr.contains("references are sealed"))
    }

    @Test("log filters combine (actor, document, action, since, until, case); objects are named where the reader may know them")
    func logFilters() throws {
        let setup = try Setup()
        let added = try setup.ok(["add", "REF-1", try setup.file("a.bin", [1, 2, 3]), "--kind", "testimony"], as: "lawyer")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try setup.ok(["add", "REF-1", try setup.file("b.bin", [4, 5]), "--kind", "medical"], as: "lawyer")
        try setup.ok(["export", added, "--out", setup.scratch.file("a-copy.bin")], as: "lawyer2")
        func entries(_ filters: [String], as who: String? = nil) throws -> [[String: Any]] {
            try #require(try setup.json(["log"] + filters, as: who) as? [[String: Any]])
        }
        let all = try entries([])
        let byLawyer2 = try entries(["--actor", "lawyer2"])
        #expect(byLawyer2.count == 1 && byLawyer2.first?["action"] as? String == "document.export")
        let fingerprint = try #require(byLawyer2.first?["actor"] as? String)
        #expect(try entries(["--actor", String(fingerprint.prefix(10))]).count == 1, "a fingerprint prefix names the member too")
        let ofDocument = try entries(["--document", String(added.prefix(8))])
        #expect(ofDocument.map { $0["action"] as? String } == ["document.add", "document.export"])
        #expect(try entries(["--document", added, "--actor", "lawyer"]).count == 1, "filters combine")
        #expect(try entries(["--action", "document.add"]).count == 2)
        #expect(try entries(["--since", "2000-01-01"]).count == all.count)
        #expect(try entries(["--until", "2000-01-01"]).isEmpty)
        #expect(try entries(["--since", "2999-01-01T00:00:00Z"]).isEmpty)
        let today = String(try #require(all.last?["time"] as? String).prefix(10))
        #expect(try entries(["--since", today, "--until", today]).count == all.count, "a date is a whole day")
        #expect(try entries(["--case", "REF-1", "--action", "document.export"], as: "lawyer").count == 1)
        // Names: groups and members for everyone, the case's reference only for a reader.
        let keyless = try entries(["--action", "case.create"])
        let objects = try #require(keyless.first?["objects"] as? [[String: Any]])
        #expect(objects.first { $0["kind"] as? String == "group" }?["name"] as? String == "wg")
        #expect(objects.first { $0["kind"] as? String == "case" }?["name"] == nil, "the reference is sealed")
        let read = try #require(try entries(["--action", "case.create"], as: "lawyer").first?["objects"] as? [[String: Any]])
        #expect(read.first { $0["kind"] as? String == "case" }?["name"] as? String == "REF-1")
        #expect(try setup.ok(["log", "--actor", "lawyer2"], as: nil).stdout.contains("case \(String(setup.caseID.prefix(12)))"))
        #expect(try setup.ok(["log", "--action", "member.add"], as: nil).stdout.contains("member lawyer2 ("))
        // Bad values: named, non-zero, nothing shown.
        let badAction = try setup.run(["log", "--action", "export"], as: nil)
        #expect(badAction.status != 0 && badAction.stderr.contains("document.export") && badAction.stdout.isEmpty)
        #expect(try setup.run(["log", "--since", "2026-12-04T10:00"], as: nil).status == 64, "a time without its zone is refused")
        #expect(try setup.run(["log", "--since", "2026-12-05", "--until", "2026-12-04"], as: nil).status != 0)
        #expect(try setup.run(["log", "--actor", "nobody-here"], as: nil).stderr.contains("no identity of this vault"))
        #expect(try setup.run(["log", "--document", "ffff"], as: nil).status != 0)
    }

    @Test("JSON output names every object by id; group, case and log views agree")
    func jsonViews() throws {
        let setup = try Setup()
        let groups = try #require(try setup.json(["group", "list"], as: nil) as? [[String: Any]])
        #expect(groups.map { $0["name"] as? String } == ["wg", "other"])
        let wg = groups[0]
        #expect((wg["id"] as? String)?.count == 32)
        let members = try #require(wg["members"] as? [[String: Any]])
        #expect(members.map { $0["role"] as? String } == ["custodian", "lawyer", "lawyer", "auditor"])
        #expect(members.allSatisfy { ($0["id"] as? String)?.count == 64 })
        let cases = try #require(try setup.json(["case", "list"], as: "lawyer") as? [[String: Any]])
        #expect(cases.map { $0["id"] as? String } == [setup.caseID])
        #expect(cases[0]["reference"] as? String == "REF-1")
        let auditorCases = try #require(try setup.json(["case", "list"], as: "auditor") as? [[String: Any]])
        #expect(auditorCases[0]["reference"] == nil, "auditors do not see references")
        let log = try #require(try setup.json(["log"], as: nil) as? [[String: Any]])
        #expect(log.map { $0["action"] as? String } == ["vault.create", "group.create", "group.create", "member.add", "member.add", "member.add", "member.add", "case.create"])
        #expect(log.allSatisfy { $0["id"] != nil && ($0["actor"] as? String)?.count == 64 })
        let human = try setup.ok(["log"], as: nil).stdout
        #expect(!human.contains("REF-1") && !human.contains("first"), "the log shows nothing sealed")
    }

    @Test("verify exits 0 when clean and 4 naming the damaged document; index rebuild restores edited rows")
    func verifyAndRebuild() throws {
        let setup = try Setup()
        let documentID = try setup.ok(["add", "REF-1", try setup.file("a.bin", Array(repeating: 7, count: 100_000)), "--kind", "photo"],
                                      as: "lawyer").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let clean = try setup.run(["verify"], as: nil)
        #expect(clean.status == 0)
        #expect(clean.stdout.contains("OK: no problems found"))
        let blobs = try FileManager.default.contentsOfDirectory(atPath: "\(setup.vault)/blobs")
        let blobPath = "\(setup.vault)/blobs/\(try #require(blobs.first))"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: blobPath))
        bytes[bytes.count - 100] ^= 0x08
        try bytes.write(to: URL(fileURLWithPath: blobPath))
        let damaged = try setup.run(["verify", "--json"], as: nil)
        #expect(damaged.status == 4)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(damaged.stdout.utf8)) as? [String: Any])
        let findings = try #require(report["findings"] as? [[String: Any]])
        #expect(findings.map { $0["id"] as? String } == [documentID])
        let export = try setup.run(["export", documentID, "--out", setup.scratch.file("x")], as: "lawyer")
        #expect(export.status == 4)
        #expect(export.stderr.contains("chunk 1 failed authentication"))
        #expect(!FileManager.default.fileExists(atPath: setup.scratch.file("x")))
    }

    @Test("A9: killing an export leaves no plaintext at or beside the destination")
    func killedExport() throws {
        let setup = try Setup()
        let big = setup.scratch.file("big.bin")
        FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        for index in 0..<192 { try handle.write(contentsOf: Data(repeating: UInt8(index), count: 1 << 20)) }
        try handle.close()
        let id = try setup.ok(["add", "REF-1", big, "--kind", "video"], as: "lawyer").stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let outFolder = setup.scratch.file("exports")
        try FileManager.default.createDirectory(atPath: outFolder, withIntermediateDirectories: true)
        var killed = 0
        for delay in [0.0, 0.15, 0.3, 0.45] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["export", id, "--out", "\(outFolder)/out.bin"]
            process.environment = Setup.environment("lawyer", setup.scratch)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: 0.2 + delay)  // past start-up and the Argon2id unlock, into the decryption
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let left = try FileManager.default.contentsOfDirectory(atPath: outFolder)
            if process.terminationReason == .uncaughtSignal {
                killed += 1
                #expect(left.isEmpty, "after kill -9 at +\(delay)s: \(left)")
            } else {
                #expect(left == ["out.bin"], "a completed export leaves exactly the file")
                try FileManager.default.removeItem(atPath: "\(outFolder)/out.bin")
            }
        }
        #expect(killed >= 1, "at least one export was killed part-way")
    }

    @Test("F33: kill -9 during add leaves a vault that is clean or holds only a removable orphan blob; acknowledged documents stay")
    func killedAdd() throws {
        let setup = try Setup()
        let acknowledged = try setup.ok(["add", "REF-1", try setup.file("first.bin", [1, 2, 3]), "--kind", "other"], as: "lawyer")
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let big = setup.scratch.file("big.bin")
        FileManager.default.createFile(atPath: big, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: big))
        for index in 0..<192 { try handle.write(contentsOf: Data(repeating: UInt8(index), count: 1 << 20)) }
        try handle.close()
        var killed = 0
        for delay in [0.0, 0.1, 0.2, 0.3, 0.45] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["add", "REF-1", big, "--kind", "video"]
            process.environment = Setup.environment("lawyer", setup.scratch)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            Thread.sleep(forTimeInterval: 0.2 + delay)
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            if process.terminationReason == .uncaughtSignal { killed += 1 }
            let report = try #require(try JSONSerialization.jsonObject(with: Data(try setup.run(["verify", "--json"], as: nil).stdout.utf8)) as? [String: Any])
            let findings = try #require(report["findings"] as? [[String: Any]])
            #expect(findings.allSatisfy { ($0["object"] as? String)?.hasPrefix("blob file ") == true && ($0["problem"] as? String)?.contains("orphan") == true },
                    "\(findings)")
            let listed = try setup.ok(["list", "REF-1"], as: "lawyer").stdout
            #expect(listed.contains(acknowledged))
        }
        #expect(killed >= 1, "at least one add was killed part-way")
        // Cleanly repairable: clean removes the orphans, and verify is then clean.
        try setup.ok(["clean", "--min-age", "0"], as: nil)
        #expect(try setup.run(["verify"], as: nil).status == 0)
        #expect(try setup.ok(["list", "REF-1"], as: "lawyer").stdout.contains(acknowledged))
    }

    @Test("F36: two processes adding at once both succeed and the ledger stays one chain")
    func concurrentProcesses() throws {
        let setup = try Setup()
        var processes: [Process] = []
        for index in 0..<2 {
            let path = try setup.file("p\(index).bin", Array(repeating: UInt8(index), count: 3 << 20))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CLI.binary)
            process.arguments = ["add", "REF-1", path, path, path, "--kind", "other"]
            process.environment = Setup.environment("lawyer", setup.scratch)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            processes.append(process)
        }
        for process in processes { try process.run() }
        for process in processes {
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
        let listed = try #require(try setup.json(["list", "REF-1"], as: "lawyer") as? [[String: Any]])
        #expect(listed.count == 6)
        #expect(try setup.run(["verify"], as: nil).status == 0)
    }

    @Test("D26: a vault restored from an older copy is refused (exit 4) for reading and writing; verify reports it")
    func rolledBackVault() throws {
        let setup = try Setup()
        try setup.ok(["add", "REF-1", try setup.file("one.bin", [1, 2, 3]), "--kind", "other"], as: "lawyer")
        let copy = setup.scratch.file("vault-copy")
        try FileManager.default.copyItem(atPath: setup.vault, toPath: copy)
        try setup.ok(["add", "REF-1", try setup.file("two.bin", [4, 5, 6]), "--kind", "other"], as: "lawyer")
        try FileManager.default.removeItem(atPath: setup.vault)
        try FileManager.default.copyItem(atPath: copy, toPath: setup.vault)
        let list = try setup.run(["list", "REF-1"], as: "lawyer")
        #expect(list.status == 4)
        #expect(list.stderr.contains("rolled back or cut"))
        let add = try setup.run(["add", "REF-1", setup.scratch.file("two.bin"), "--kind", "other"], as: "lawyer")
        #expect(add.status == 4)
        let verify = try setup.run(["verify"], as: nil)
        #expect(verify.status == 4)
        #expect(verify.stdout.contains("rolled back or cut"))
        // A machine that never saw the newer state verifies it as a first contact, and trusts nothing.
        var fresh = Setup.environment(nil, setup.scratch)
        fresh["EVAULT_STATE_DIR"] = setup.scratch.file("other-machine")
        let elsewhere = try CLI.run(["verify"], environment: fresh)
        #expect(elsewhere.status == 0)
        #expect(elsewhere.stdout.contains("FIRST CONTACT"))
        #expect(try CLI.run(["log"], environment: fresh).status == 6, "untrusted: exit 6")
        // Accepting the restored copy is explicit.
        let accepted = try setup.run(["trust", "--accept-older"], as: nil)
        #expect(accepted.status == 0, "\(accepted.stderr)")
        #expect(accepted.stdout.contains("Accepted an older copy"))
        #expect(try setup.run(["list", "REF-1"], as: "lawyer").status == 0)
    }

    @Test("bad input: unknown case, missing file, wrong passphrase, no vault, bad kind")
    func badInput() throws {
        let setup = try Setup()
        let unknown = try setup.run(["list", "NO-SUCH-CASE"], as: "lawyer")
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no case matches the case given"))
        #expect(!unknown.stderr.contains("NO-SUCH-CASE"), "errors do not repeat a (possibly sealed) case reference")
        let missing = try setup.run(["add", "REF-1", setup.scratch.file("absent.txt"), "--kind", "other"], as: "lawyer")
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("absent.txt does not exist"))
        var environment = Setup.environment("lawyer", setup.scratch)
        environment["EVAULT_PASSPHRASE"] = "not the passphrase"
        let wrong = try CLI.run(["list", "REF-1"], environment: environment)
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("wrong passphrase"))
        let noVault = try CLI.run(["verify", "--vault", setup.scratch.file("nowhere")])
        #expect(noVault.status == 1)
        #expect(noVault.stderr.contains("no vault at"))
        let badKind = try setup.run(["add", "REF-1", setup.scratch.file("lawyer.pub"), "--kind", "selfie"], as: "lawyer")
        #expect(badKind.status == 64)
        let secretAsMember = try setup.run(["group", "add", "wg", setup.scratch.file("outsider.identity"), "--role", "lawyer"], as: "custodian")
        #expect(secretAsMember.status == 1)
        #expect(secretAsMember.stderr.contains("share and add the .pub file instead"))
        #expect(try setup.run(["verify"], as: nil).status == 0, "nothing was damaged by the failures")
    }
}
