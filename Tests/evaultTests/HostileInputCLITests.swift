import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto
#if canImport(Glibc)
import Glibc
#endif

/// Hostile input through the built binary (THREATS.md 42, 45, 48-51): names,
/// files and records written by someone else, untrusted vaults, passphrase
/// files, partial adds, and what other processes can see of evault's secrets.
@Suite("Hostile input through the binary", .serialized)
struct HostileInputCLITests {
    typealias Setup = VaultCLITests.Setup

    /// Characters that must never reach a terminal raw.
    static let forbidden: [Unicode.Scalar] = ["\u{1B}", "\u{9B}", "\u{07}", "\u{7F}", "\u{202E}", "\u{2066}", "\u{200B}", "\u{2028}", "\u{FEFF}"]

    static func expectNoRawControls(_ result: CLI.Result, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for scalar in forbidden {
            #expect(!result.stdout.unicodeScalars.contains(scalar), "\(what): U+\(String(scalar.value, radix: 16)) on stdout",
                    sourceLocation: sourceLocation)
            #expect(!result.stderr.unicodeScalars.contains(scalar), "\(what): U+\(String(scalar.value, radix: 16)) on stderr",
                    sourceLocation: sourceLocation)
        }
    }

    /// What a member's modified client could sign in REF-1, as the lawyer: a
    /// document whose sealed metadata is whatever `seal` makes of the real one.
    static func signDocument(_ setup: Setup, title: String = "", tags: [String] = [], fileName: String = "input",
                             seal: (_ metadata: DocumentMetadata, _ caseKey: CaseKey, _ caseID: ObjectID, _ documentID: ObjectID) throws -> [UInt8])
        throws -> ObjectID {
        let vault = try Vault.open(at: setup.vault)
        let lawyer = try IdentityStore.unlock(setup.scratch.file("lawyer.identity"), passphrase: SecureBytes(copying: Array(setup.passphrase.utf8)))
        let state = try vault.replay()
        let caseID = try #require(ObjectID(hex: setup.caseID))
        let theCase = try #require(try state.lookupCase(caseID))
        let caseKey = try vault.keyRing(for: lawyer, state: state).caseKey(theCase, to: "test")
        let input = try setup.file("signed-input", [1, 2, 3, 4])
        let documentID = try ObjectID.random(), key = try DocumentKey.random()
        let encrypted = try DocumentStream.encrypt(inputPath: input, documentID: documentID, version: 1, key: key, store: vault.blobs)
        let metadata = DocumentMetadata(fileName: fileName, title: title, kind: .other, tags: tags, size: encrypted.plaintextSize,
                                        commitmentSalt: encrypted.commitmentSalt, plaintextCommitment: encrypted.plaintextCommitment)
        let record = DocumentRecord(documentID: documentID, caseID: theCase.id, version: 1, generation: 1,
                                    wrappedKey: try KeyWrap.wrapDocumentKey(key, under: caseKey, caseID: theCase.id, documentID: documentID,
                                                                            version: 1, generation: 1),
                                    blobHash: encrypted.blobHash, blobSize: encrypted.blobSize,
                                    sealedMetadata: try seal(metadata, caseKey, theCase.id, documentID))
        try vault.append(as: lawyer) { _ in .documentAdded(record) }
        return documentID
    }

    /// Seals metadata as an honest client would.
    static func honestSeal(_ metadata: DocumentMetadata, _ caseKey: CaseKey, _ caseID: ObjectID, _ documentID: ObjectID) throws -> [UInt8] {
        try KeyWrap.sealField(metadata.encoded(), caseKey: caseKey, caseID: caseID, objectID: documentID, version: 1, field: "metadata")
    }

    @Test("escape sequences in file names, titles, tags, group and identity names, names on disk and quoted errors never reach the terminal")
    func nothingUntrustedReachesTheTerminalRaw() throws {
        let setup = try Setup()
        let paint = "\u{1B}[2J\u{1B}[1;1H\u{1B}[32mOK: no problems found\u{1B}[0m"
        // A file name from a witness's phone, added through the CLI as it is.
        let phoneName = "IMG\u{1B}]0;pwned\u{07}\u{202E}gpj.exe"
        let added = try setup.ok(["add", "REF-1", try setup.file(phoneName, [9, 9, 9]), "--kind", "photo"], as: "lawyer")
        Self.expectNoRawControls(added, "add")
        // A member's patched client: sealed title and tags with escapes.
        let hostile = try Self.signDocument(setup, title: "Statement\(paint)", tags: ["a\u{9B}31m", "b\u{2066}c"], fileName: "x\u{7F}\u{FEFF}.pdf",
                                            seal: Self.honestSeal)
        // A .pub whose name carries bidi and zero-width characters.
        _ = try IdentityStore.create(name: "mallory\u{202E}\u{200B}\u{2028}", in: setup.scratch.path,
                                     passphrase: SecureBytes(copying: Array(setup.passphrase.utf8)), parameters: .interactive)
        let pub = setup.scratch.file("mallory\u{202E}\u{200B}\u{2028}.pub")
        let admit = try setup.run(["group", "add", "wg", pub, "--role", "auditor"], as: "custodian")
        #expect(admit.status == 1 && admit.stderr.contains("invisible or control character"), "\(admit.stderr)")
        Self.expectNoRawControls(admit, "group add")
        Self.expectNoRawControls(try setup.ok(["identity", "show", pub], as: nil), "identity show")
        // A group name with a bidi override, created through the library (the CLI refuses it).
        let custodian = try IdentityStore.unlock(setup.scratch.file("custodian.identity"), passphrase: SecureBytes(copying: Array(setup.passphrase.utf8)))
        try Vault.open(at: setup.vault).createGroup(named: "wg\u{202E}lativ", as: custodian)
        // A name planted in blobs/ by the storage.
        try Data([1]).write(to: URL(fileURLWithPath: "\(setup.vault)/blobs/stray\n\(paint)"))

        for (arguments, who) in [(["list", "REF-1"], "lawyer2"), (["show", hostile.hex], "lawyer2"), (["log"], nil),
                                 (["group", "show", "wg"], nil), (["group", "list"], nil), (["case", "list"], "lawyer2"),
                                 (["verify"], nil)] as [([String], String?)] {
            let result = try setup.run(arguments, as: who)
            Self.expectNoRawControls(result, arguments.joined(separator: " "))
            let json = try setup.run(arguments + ["--json"], as: who)
            Self.expectNoRawControls(json, arguments.joined(separator: " ") + " --json")
            #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil, "\(arguments) --json parses")
        }
        let verify = try setup.run(["verify"], as: nil)
        #expect(verify.status == 4 && verify.stdout.contains("PROBLEMS"))
        // A finding's JSON id is the whole planted name, never a word of it that names a real blob.
        let realBlob = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(setup.vault)/blobs").first { $0.count == 64 })
        try Data([2]).write(to: URL(fileURLWithPath: "\(setup.vault)/blobs/junk \(realBlob)"))
        let report = try #require(try JSONSerialization.jsonObject(with: Data(try setup.run(["verify", "--json"], as: nil).stdout.utf8)) as? [String: Any])
        let ids = (report["findings"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(ids.contains("junk \(realBlob)") && !ids.contains(realBlob), "\(ids)")
        #expect(verify.stdout.contains("\\u{1B}[2J"), "the planted name is shown, visibly escaped")
        // JSON carries the exact values.
        let shown = try #require(try JSONSerialization.jsonObject(with: Data(try setup.ok(["show", hostile.hex, "--json"], as: "lawyer2").stdout.utf8)) as? [String: Any])
        #expect((shown["metadata"] as? [String: Any])?["title"] as? String == "Statement\(paint)")
        // Errors that quote what was typed.
        let missing = try setup.run(["add", "REF-1", setup.scratch.file("no\u{1B}[31msuch"), "--kind", "other"], as: "lawyer")
        #expect(missing.status == 1 && missing.stderr.contains("no\\u{1B}[31msuch"))
        Self.expectNoRawControls(missing, "error quoting a file name")
        let usage = try setup.run(["list", "REF-1", "--kind\u{1B}[31m"], as: "lawyer")
        Self.expectNoRawControls(usage, "usage error")
        #expect(usage.status == 64 && usage.stderr.contains("\n") && !usage.stderr.contains("\\n"), "usage text keeps its line breaks")
    }

    @Test("one signed record a reader cannot open: the listing goes on, marks it, and exits 5")
    func unreadableRecordExitsFive() throws {
        let setup = try Setup()
        try setup.ok(["add", "REF-1", try setup.file("good.txt", [1]), "--kind", "other", "--title", "good"], as: "lawyer")
        let documentID = try Self.signDocument(setup) { metadata, caseKey, caseID, documentID in
            var sealed = try Self.honestSeal(metadata, caseKey, caseID, documentID)
            sealed[0] ^= 1  // no reader can open it
            return sealed
        }
        let list = try setup.run(["list", "REF-1"], as: "lawyer2")
        #expect(list.status == 5, "\(list.stderr)")
        #expect(list.stdout.contains("good") && list.stdout.contains("[unreadable: event"))
        #expect(try setup.run(["case", "list"], as: "lawyer2").status == 0)
        #expect(try setup.run(["verify"], as: nil).status == 0, "keyless verify cannot see inside sealed fields")
        let withKey = try CLI.run(["verify", "--identity", setup.scratch.file("lawyer2.identity")],
                                  environment: Setup.environment(nil, setup.scratch))
        #expect(withKey.status == 4 && withKey.stdout.contains("document \(documentID.hex)"))
    }

    @Test("passphrase files: pipes are accepted, files readable by group or others refused; a FIFO as input is refused without blocking")
    func passphraseFilesAndInputs() throws {
        let setup = try Setup()
        var environment = Setup.environment("lawyer", setup.scratch)
        environment["EVAULT_PASSPHRASE"] = nil
        let file = setup.scratch.file("pass.txt")
        try Data((setup.passphrase + "\n").utf8).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o644)
        let open = try CLI.run(["list", "REF-1", "--passphrase-file", file], environment: environment)
        #expect(open.status == 1 && open.stderr.contains("readable by group or others"), "\(open.stderr)")
        chmod(file, 0o600)
        chown(file, 65534, 65534)
        let foreign = try CLI.run(["list", "REF-1", "--passphrase-file", file], environment: environment)
        #expect(foreign.status == 1 && foreign.stderr.contains("belongs to another user"), "\(foreign.stderr)")
        chown(file, getuid(), getgid())
        #expect(try CLI.run(["list", "REF-1", "--passphrase-file", file], environment: environment).status == 0)
        // A pipe, as `--passphrase-file <(pass show x)` gives one.
        let piped = Process()
        piped.executableURL = URL(fileURLWithPath: "/bin/bash")
        piped.arguments = ["-c", "\"$EVAULT_BIN\" list REF-1 --passphrase-file <(printf '%s' \"$P\")"]
        piped.environment = environment.merging(["EVAULT_BIN": CLI.binary, "P": setup.passphrase, "PATH": "/usr/bin:/bin"]) { $1 }
        piped.standardInput = FileHandle.nullDevice
        piped.standardOutput = FileHandle.nullDevice
        piped.standardError = FileHandle.nullDevice
        try piped.run()
        piped.waitUntilExit()
        #expect(piped.terminationStatus == 0)
        // A FIFO named as a document to add: refused at once, not read.
        let fifo = setup.scratch.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        let started = Date()
        let add = try setup.run(["add", "REF-1", fifo, "--kind", "other"], as: "lawyer")
        #expect(add.status == 1 && add.stderr.contains("FIFO"), "\(add.stderr)")
        #expect(Date().timeIntervalSince(started) < 20)
    }

    @Test("a multi-file add commits all or nothing and prints every id; cheap checks come before the passphrase")
    func allOrNothingAndCheapChecksFirst() throws {
        let setup = try Setup()
        let good = try setup.file("good.bin", [1, 2, 3])
        let partial = try setup.run(["add", "REF-1", good, setup.scratch.file("missing.bin"), "--kind", "other"], as: "lawyer")
        #expect(partial.status == 1 && partial.stderr.contains("missing.bin does not exist"))
        #expect(try setup.ok(["list", "REF-1"], as: "lawyer").stdout.contains("No documents."), "the first file was not committed")
        let both = try setup.ok(["add", "REF-1", good, try setup.file("second.bin", [4, 5]), "--kind", "other"], as: "lawyer")
        #expect(both.stdout.split(separator: "\n").count == 2)
        #expect(try setup.run(["verify"], as: nil).status == 0)
        // With a wrong passphrase, the cheap check speaks first.
        var wrong = Setup.environment("lawyer", setup.scratch)
        wrong["EVAULT_PASSPHRASE"] = "not the passphrase at all"
        let missing = try CLI.run(["add", "REF-1", setup.scratch.file("absent.bin"), "--kind", "other"], environment: wrong)
        #expect(missing.status == 1 && missing.stderr.contains("absent.bin does not exist"), "\(missing.stderr)")
        let existing = try CLI.run(["export", String(both.stdout.prefix(32)), "--out", good], environment: wrong)
        #expect(existing.status == 1 && existing.stderr.contains("already exists"), "\(existing.stderr)")
        var wrongCustodian = Setup.environment("custodian", setup.scratch)
        wrongCustodian["EVAULT_PASSPHRASE"] = "not the passphrase at all"
        let noGroup = try CLI.run(["group", "add", "no-such-group", setup.scratch.file("auditor.pub"), "--role", "auditor"], environment: wrongCustodian)
        #expect(noGroup.status == 1 && noGroup.stderr.contains("no working group"), "\(noGroup.stderr)")
    }

    @Test("first use is explicit: an unknown vault is refused (exit 6) until trusted with its genesis or creator; impostors are named")
    func trustIsExplicit() throws {
        let setup = try Setup()
        var elsewhere = Setup.environment("lawyer", setup.scratch)
        elsewhere["EVAULT_STATE_DIR"] = setup.scratch.file("laptop-2")
        let refused = try CLI.run(["list", "REF-1"], environment: elsewhere)
        #expect(refused.status == 6, "\(refused.stderr)")
        let verify = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["verify", "--json"], environment: elsewhere).stdout.utf8)) as? [String: Any])
        let genesis = try #require(verify["genesis"] as? String)
        let vaultID = try #require(verify["vaultId"] as? String)
        #expect(genesis.count == 64 && vaultID.count == 32 && verify["trusted"] as? Bool == false)
        #expect(refused.stderr.contains(genesis) && refused.stderr.contains(vaultID))
        let add = try CLI.run(["add", "REF-1", try setup.file("x.bin", [1]), "--kind", "other"], environment: elsewhere)
        #expect(add.status == 6)
        #expect(try CLI.run(["trust"], environment: elsewhere).status == 6, "no confirmation without a terminal")
        #expect(try CLI.run(["trust", "--genesis", String(repeating: "ab", count: 32)], environment: elsewhere).status == 4)
        let lawyerFingerprint = try IdentityStore.loadPublic(setup.scratch.file("lawyer.pub")).fingerprint.readable
        #expect(try CLI.run(["trust", "--vault-id", vaultID, "--creator", lawyerFingerprint], environment: elsewhere).status == 4)
        let trusted = try CLI.run(["trust", "--genesis", genesis], environment: elsewhere)
        #expect(trusted.status == 0 && trusted.stdout.contains("Trusted vault"), "\(trusted.stderr)")
        #expect(try CLI.run(["list", "REF-1"], environment: elsewhere).status == 0)
        // An impostor made elsewhere that reuses the group name "wg" is named as such.
        var mallory = Setup.environment("outsider", setup.scratch)
        mallory["EVAULT_VAULT"] = setup.scratch.file("fake-vault")
        mallory["EVAULT_STATE_DIR"] = setup.scratch.file("mallory-state")
        #expect(try CLI.run(["init"], environment: mallory).status == 0)
        #expect(try CLI.run(["group", "create", "wg"], environment: mallory).status == 0)
        let impostor = try CLI.run(["group", "show", "wg", "--vault", setup.scratch.file("fake-vault")], environment: Setup.environment(nil, setup.scratch))
        #expect(impostor.status == 6 && impostor.stderr.contains("reuses group name(s) wg"), "\(impostor.stderr)")
    }

    @Test("F1: a trusted folder pointed at another vault that admits you is refused for your identity (exit 4, then 6); trust says what it needs")
    func redirectedFolderIsRefused() throws {
        let setup = try Setup()
        // Mallory's own vault, on her own machine, admits the lawyer.
        var mallory = Setup.environment("outsider", setup.scratch)
        mallory["EVAULT_VAULT"] = setup.scratch.file("mallory-vault")
        mallory["EVAULT_STATE_DIR"] = setup.scratch.file("mallory-state")
        #expect(try CLI.run(["init"], environment: mallory).status == 0)
        #expect(try CLI.run(["group", "create", "wg"], environment: mallory).status == 0)
        #expect(try CLI.run(["group", "add", "wg", setup.scratch.file("lawyer.pub"), "--role", "lawyer"], environment: mallory).status == 0)
        // She can write the lawyer's vault folder and state folder: her vault goes to the trusted
        // path, and known-vaults.json is edited to say it is the vault trusted there.
        let state = setup.scratch.file("state")
        try FileManager.default.moveItem(atPath: setup.vault, toPath: setup.scratch.file("real-vault"))
        try FileManager.default.copyItem(atPath: setup.scratch.file("mallory-vault"), toPath: setup.vault)
        let theirs = try #require(try JSONSerialization.jsonObject(with: try setup.scratch.read("mallory-state/known-vaults.json")) as? [String: Any])
        var ours = try #require(try JSONSerialization.jsonObject(with: try setup.scratch.read("state/known-vaults.json")) as? [String: Any])
        let fakeID = try #require((theirs["vaults"] as? [String: Any])?.keys.first)
        var vaults = try #require(ours["vaults"] as? [String: Any])
        vaults[fakeID] = (theirs["vaults"] as? [String: Any])?[fakeID]
        var paths = try #require(ours["paths"] as? [String: String])
        paths[setup.vault] = fakeID
        ours["vaults"] = vaults
        ours["paths"] = paths
        try JSONSerialization.data(withJSONObject: ours).write(to: URL(fileURLWithPath: "\(state)/known-vaults.json"))
        var outside = Setup.environment(nil, setup.scratch)
        outside["EVAULT_STATE_DIR"] = setup.scratch.file("outside")
        func eventCount() throws -> Int? {
            (try JSONSerialization.jsonObject(with: Data(try CLI.run(["verify", "--json"], environment: outside).stdout.utf8)) as? [String: Any])?["eventsVerified"] as? Int
        }
        let eventsBefore = try eventCount()
        #expect(eventsBefore == 3)
        let leak = try setup.run(["case", "new", "wg", "LEAK-1", "--title", "a victim's name"], as: "lawyer")
        #expect(leak.status == 4 && leak.stderr.contains("not vault") && leak.stderr.contains("your identity was told to trust there"), "\(leak.stderr)")
        #expect(try setup.run(["case", "list"], as: "lawyer").status == 4)
        // With the trust records deleted as well: refused as untrusted for this identity, naming the vault.
        try FileManager.default.removeItem(atPath: "\(state)/trust")
        let untrusted = try setup.run(["case", "new", "wg", "LEAK-1"], as: "lawyer")
        #expect(untrusted.status == 6 && untrusted.stderr.contains("lawyer has not been told to trust") && untrusted.stderr.contains(fakeID), "\(untrusted.stderr)")
        #expect(try eventCount() == eventsBefore, "nothing was written to her vault")
        // verify with that identity says so (F4 of the same review), without calling it a finding.
        let checked = try setup.run(["verify", "--identity", setup.scratch.file("lawyer.identity"), "--json"], as: nil)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(checked.stdout.utf8)) as? [String: Any])
        #expect(report["trustedByIdentity"] as? Bool == false && checked.status == 0, "\(checked.stdout)")
        #expect(try setup.run(["verify", "--identity", setup.scratch.file("lawyer.identity")], as: nil).stdout.contains("has not been told to trust this vault"))
        // `trust` without evidence will not take the machine's list as evidence for the identity.
        let noEvidence = try setup.run(["trust"], as: "lawyer")
        #expect(noEvidence.status == 6 && noEvidence.stderr.contains("without a check"), "\(noEvidence.stderr)")
        // The real vault back: each identity trusts it again with the genesis hash (a deleted record
        // is never re-made from what the state folder holds, kept states included).
        try FileManager.default.removeItem(atPath: setup.vault)
        try FileManager.default.moveItem(atPath: setup.scratch.file("real-vault"), toPath: setup.vault)
        let trusted = try setup.run(["trust", "--genesis", setup.genesis], as: "lawyer")
        #expect(trusted.status == 0 && trusted.stdout.contains("Your identity lawyer trusts it"), "\(trusted.stderr)")
        #expect(try setup.run(["list", "REF-1"], as: "lawyer").status == 0)
        #expect(try setup.run(["case", "list"], as: "custodian").status == 6, "the custodian's record went too")
        #expect(try setup.run(["trust", "--genesis", setup.genesis], as: "custodian").status == 0)
        #expect(try setup.run(["case", "list"], as: "custodian").status == 0)
    }

    @Test("while a command runs, its environment no longer shows the passphrase, it writes no core file and is not dumpable")
    func processHygiene() throws {
        let setup = try Setup()
        // Hold the write lock, so that `add` waits with its identity unlocked.
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], isolation_level=None); c.execute('BEGIN IMMEDIATE'); print('locked', flush=True); time.sleep(6)", "\(setup.vault)/vault.sqlite"]
        let lockOut = Pipe()
        locker.standardOutput = lockOut
        try locker.run()
        _ = lockOut.fileHandleForReading.availableData  // "locked"
        // Run as an unprivileged user, so that dumpability shows in /proc ownership.
        _ = try runTool("/bin/chown", ["-R", "65534:65534", setup.scratch.path])
        let add = Process()
        add.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        add.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary, "add", "REF-1", try setup.file("held.bin", [5]), "--kind", "other"]
        add.environment = Setup.environment("lawyer", setup.scratch).merging(["HOME": setup.scratch.path, "PATH": "/usr/bin:/bin"]) { $1 }
        add.standardInput = FileHandle.nullDevice
        add.standardOutput = FileHandle.nullDevice
        add.standardError = FileHandle.nullDevice
        try add.run()
        Thread.sleep(forTimeInterval: 2.5)
        let pid = add.processIdentifier
        let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
        let limits = (try? String(contentsOfFile: "/proc/\(pid)/limits", encoding: .utf8)) ?? ""
        var status = stat()
        let statResult = stat("/proc/\(pid)/environ", &status)
        add.waitUntilExit()
        locker.waitUntilExit()
        #expect(!environ.isEmpty, "the command was still running")
        #expect(environ.range(of: Data(setup.passphrase.utf8)) == nil, "the passphrase is gone from /proc/PID/environ")
        #expect(limits.split(separator: "\n").contains { $0.hasPrefix("Max core file size") && $0.split(separator: " ").contains("0") })
        #expect(statResult == 0 && status.st_uid == 0, "a non-dumpable process's /proc files belong to root, not to its user")
        #expect(add.terminationStatus == 0)
    }

    @Test("one name per person: a custodian admitting a name that looks like a current member's is refused, naming them")
    func lookAlikeNamesAreRefused() throws {
        let setup = try Setup()
        for name in ["Lawyer", "l\u{0430}wyer"] {  // case, and a Cyrillic a
            _ = try IdentityStore.create(name: name, in: setup.scratch.path, passphrase: SecureBytes(copying: Array(setup.passphrase.utf8)),
                                         parameters: .interactive)
            let refused = try setup.run(["group", "add", "wg", setup.scratch.file("\(name).pub"), "--role", "lawyer"], as: "custodian")
            #expect(refused.status == 1 && refused.stderr.contains("cannot be told apart from that of lawyer"), "\(refused.stderr)")
        }
        #expect(try setup.json(["group", "show", "wg"], as: nil) is [String: Any])
    }

    @Test("a stray file does not stop verify from remembering the head: a custody record deleted afterwards is detected")
    func strayFileDoesNotStopRemembering() throws {
        let setup = try Setup()
        // The auditor's own machine, which learnt the vault before the export below.
        var auditor = Setup.environment(nil, setup.scratch)
        auditor["EVAULT_STATE_DIR"] = setup.scratch.file("auditor-machine")
        let genesis = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["verify", "--json"], environment: auditor).stdout.utf8)) as? [String: Any])["genesis"] as? String
        #expect(try CLI.run(["trust", "--genesis", genesis ?? ""], environment: auditor).status == 0)
        let added = try setup.ok(["add", "REF-1", try setup.file("doc.bin", [1, 2]), "--kind", "other"], as: "lawyer")
        try setup.ok(["export", String(added.stdout.prefix(32)), "--out", setup.scratch.file("out.bin")], as: "lawyer2")
        try Data("planted".utf8).write(to: URL(fileURLWithPath: "\(setup.vault)/blobs/planted.txt"))
        let first = try CLI.run(["verify"], environment: auditor)
        #expect(first.status == 4 && first.stdout.contains("Remembered the new head: event"), "\(first.stdout)")
        // The storage deletes the export's custody record (the last event).
        let events = try #require(try JSONSerialization.jsonObject(with: Data(try CLI.run(["verify", "--json"], environment: auditor).stdout.utf8)) as? [String: Any])
        let last = try #require(events["eventsVerified"] as? Int) - 1
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        sqlite.arguments = ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DELETE FROM events WHERE seq = ?', (int(sys.argv[2]),)); c.commit()",
                            "\(setup.vault)/vault.sqlite", "\(last)"]
        try sqlite.run()
        sqlite.waitUntilExit()
        let second = try CLI.run(["verify"], environment: auditor)
        #expect(second.status == 4 && second.stdout.contains("rolled back or cut"), "\(second.stdout)")
    }

    @Test("an event dated 2010 or 2100 is flagged by log and verify, and not refused")
    func oddTimesAreFlagged() throws {
        let setup = try Setup()
        let added = try setup.ok(["add", "REF-1", try setup.file("doc.bin", [1, 2]), "--kind", "other"], as: "lawyer")
        let documentID = try #require(ObjectID(hex: String(added.stdout.prefix(32))))
        let caseID = try #require(ObjectID(hex: setup.caseID))
        let vault = try Vault.open(at: setup.vault)
        let lawyer = try IdentityStore.unlock(setup.scratch.file("lawyer.identity"), passphrase: SecureBytes(copying: Array(setup.passphrase.utf8)))
        for seconds in [1_262_304_000.0, 4_102_444_800.0] {  // 2010-01-01, 2100-01-01
            try vault.append(as: lawyer, now: Date(timeIntervalSince1970: seconds)) { _ in .documentExported(documentID: documentID, caseID: caseID) }
        }
        let log = try setup.ok(["log"], as: nil)
        #expect(log.stdout.components(separatedBy: "[time flagged:").count - 1 >= 2, "\(log.stdout)")
        let verify = try setup.run(["verify"], as: nil)
        #expect(verify.status == 0 && verify.stdout.contains("Time: event"), "\(verify.stdout)")
    }

    @Test("field limits fit real needs: a 257-byte case reference or a 1025-byte title is refused")
    func fieldLimits() throws {
        let setup = try Setup()
        let reference = try setup.run(["case", "new", "wg", String(repeating: "R", count: 257)], as: "lawyer")
        #expect(reference.status == 1 && reference.stderr.contains("1 to 256 bytes"), "\(reference.stderr)")
        let title = try setup.run(["add", "REF-1", try setup.file("t.bin", [1]), "--kind", "other", "--title", String(repeating: "t", count: 1025)],
                                  as: "lawyer")
        #expect(title.status == 1 && title.stderr.contains("at most 1024"), "\(title.stderr)")
    }

    @Test("an argument that is not UTF-8 is refused before anything runs, so no other file is read or written in its place")
    func nonUTF8Arguments() throws {
        let scratch = try Scratch()  // refused before any vault or identity is looked at: none is needed
        let source = scratch.file("c\u{FFFD}.txt")  // what a lossy reading of c\xff.txt would name
        try Data("evidence".utf8).write(to: URL(fileURLWithPath: source))
        for arguments in [#"add REF-1 "$(printf 'c\377.txt')" --kind other"#, #"export 0000 --out "$(printf 'r\377.txt')""#] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec \"$0\" " + arguments, CLI.binary]
            process.currentDirectoryURL = URL(fileURLWithPath: scratch.path)
            process.environment = ["PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"]
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            try errors.fileHandleForReading.close()
            process.waitUntilExit()
            #expect(process.terminationStatus == 64 && text.contains("is not valid UTF-8"), "\(arguments): \(text)")
        }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("r\u{FFFD}.txt")))
        #expect(FileManager.default.fileExists(atPath: source))
    }

    private func runTool(_ path: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
