import ArgumentParser
import EvidenceVault
import Foundation
import VaultCrypto

/// `evault demo`: the whole product in one narrated run, on fictional material.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a narrated demo on fictional evidence: identities, a vault, a group, a case, reading, refusal, verification, tampering, removal.")

    @Option(name: .long, help: "Folder for the demo (must not exist or be empty; default: a new folder under /tmp).")
    var dir: String?

    func run() throws {
        let root = try dir ?? makeTemporaryFolder()
        let manager = FileManager.default
        if manager.fileExists(atPath: root), !((try? manager.contentsOfDirectory(atPath: root)) ?? []).isEmpty {
            throw VaultError(.alreadyExists, "demo folder \(root) is not empty", hint: "choose another --dir")
        }
        for sub in ["identities", "incoming", "exports"] {
            try manager.createDirectory(atPath: "\(root)/\(sub)", withIntermediateDirectories: true)
        }
        let vaultPath = "\(root)/vault"

        step("1. Four people make identities: a custodian, two lawyers and an auditor.")
        say("   Each identity is a signing key and an encryption key, encrypted under the owner's passphrase.")
        say("   DEMO ONLY: the cheapest Argon2id setting, and passphrases printed here. Never do this with real keys.")
        var people: [UnlockedIdentity] = []
        for name in ["ines-custodian", "amara-lawyer", "tomas-lawyer", "kofi-auditor"] {
            let secret = "demo passphrase for \(name)"
            let created = try IdentityStore.create(name: name, in: "\(root)/identities", passphrase: SecureBytes(copying: Array(secret.utf8)),
                                                   parameters: .interactive)
            people.append(try IdentityStore.unlock(created.secretPath, passphrase: SecureBytes(copying: Array(secret.utf8))))
            say("   \(name.padding(toLength: 15, withPad: " ", startingAt: 0)) fingerprint \(created.publicIdentity.fingerprint.readable)   passphrase: \"\(secret)\"")
        }
        let (ines, amara, tomas, kofi) = (people[0], people[1], people[2], people[3])

        step("2. Ines creates the vault and the Latin-America working group, and admits the others.")
        let vault = try Vault.create(at: vaultPath, creator: ines, knownVaults: VaultOptions.knownVaults())  // trusted here, as init does
        try vault.createGroup(named: "latam-wg", as: ines)
        for (person, role) in [(amara, Role.lawyer), (tomas, Role.lawyer), (kofi, Role.auditor)] {
            try vault.addMember(person.publicIdentity, role: role, toGroup: "latam-wg", as: ines)
            say("   \(person.publicIdentity.name) joins as \(role)" + (role == .auditor ? " (receives no key at all)" : " (receives the group key, sealed to their own key)"))
        }
        let genesis = Hex.encode(try vault.trustCandidate().genesisHash)
        for person in [amara, tomas, kofi] { _ = try vault.trust(.genesis(genesis), for: person) }
        say("   Ines gives each of them the vault's genesis hash \(String(genesis.prefix(16)))... over another channel; each tells their own")
        say("   identity to trust the vault ('evault trust --genesis HASH --identity FILE'): a vault swapped in at that folder is refused.")

        step("3. Amara opens a case and adds a testimony and a medical report (both fictional, generated now).")
        let theCase = try vault.createCase(inGroup: "latam-wg", reference: "LATAM-2026-014", title: "Detention centre, fictional demo case", as: amara)
        say("   Case \(theCase.id.hex): its reference and title are sealed; only the group's readers can see them.")
        let testimony = "\(root)/incoming/testimony-witness-A.txt"
        let medical = "\(root)/incoming/medical-report-witness-A.txt"
        try Data(DemoMaterial.testimony.utf8).write(to: URL(fileURLWithPath: testimony))
        try Data(DemoMaterial.medicalReport(lines: 40_000).utf8).write(to: URL(fileURLWithPath: medical))
        let added = try vault.addDocuments([NewDocument(path: testimony, kind: .testimony, title: "Statement of witness A", tags: ["witness-a"])],
                                           toCase: "LATAM-2026-014", as: amara)
            + vault.addDocuments([NewDocument(path: medical, kind: .medical, title: "Forensic examination of witness A", tags: ["witness-a", "forensic"])],
                                 toCase: "LATAM-2026-014", as: amara)
        for document in added {
            guard let metadata = document.metadata else { continue }
            say("   added \(metadata.kind) \(document.id.hex): \(metadata.size) bytes -> blob \(Hex.encode(document.blobHash).prefix(16))... (\(document.blobSize) bytes encrypted)")
        }

        step("4. Tomas, the second lawyer, lists the case and exports the testimony.")
        for document in try vault.documents(inCase: "LATAM-2026-014", as: tomas) {
            guard let metadata = document.metadata else { continue }
            say("   \(document.id.hex.prefix(12))  \(metadata.kind)  \(metadata.fileName)  \"\(metadata.title)\"  by \(document.authorName)")
        }
        let exported = "\(root)/exports/testimony.txt"
        _ = try vault.export(added[0].id.hex, to: exported, as: tomas)
        let same = (try? Data(contentsOf: URL(fileURLWithPath: exported))) == (try? Data(contentsOf: URL(fileURLWithPath: testimony)))
        say("   exported to \(exported): \(same ? "identical to the original" : "DIFFERENT FROM THE ORIGINAL") (final chunk and plaintext commitment checked)")

        step("5. Kofi, the auditor, asks to export it and is refused.")
        do {
            _ = try vault.export(added[0].id.hex, to: "\(root)/exports/auditor-attempt.txt", as: kofi)
            say("   UNEXPECTED: the auditor could export")
            throw ExitCode.failure
        } catch let error as VaultError {
            say("   refused: \(error.message)")
        }

        step("6. Kofi verifies the whole vault with no key and no passphrase.")
        let report = vault.verify()
        say("   \(report.eventsVerified) ledger events: chain, signatures and authorisation replayed; \(report.documentsChecked) blobs hashed.")
        say(report.isClean ? "   Result: clean." : "   Result: \(report.findings.count) problem(s): \(report.findings)")

        step("7. Tomas's second laptop has never seen this vault: it refuses it until told to trust it.")
        let secondLaptop = KnownVaults(path: "\(root)/second-laptop/known-vaults.json")
        do {
            _ = try Vault.open(at: vaultPath, knownVaults: secondLaptop).documents(inCase: "LATAM-2026-014", as: tomas)
            say("   UNEXPECTED: an untrusted vault was read")
            throw ExitCode.failure
        } catch let error as VaultError where error.kind == .untrusted {
            say("   refused (exit 6): the vault is not trusted on this machine")
        }
        _ = try Vault.open(at: vaultPath, knownVaults: secondLaptop).trust(.genesis(genesis), for: tomas)
        say("   Tomas checks the genesis hash \(String(genesis.prefix(16)))... with Ines by phone; 'evault trust --genesis HASH --identity FILE' records it,")
        say("   and from then on a swapped, rolled-back or rewritten copy at that path is refused.")

        step("8. Someone flips one byte of the medical report in a copy of the vault; verify names the document.")
        let damaged = "\(root)/vault-damaged"
        try manager.copyItem(atPath: vaultPath, toPath: damaged)
        let blobPath = "\(damaged)/blobs/\(Hex.encode(added[1].blobHash))"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: blobPath))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: blobPath))
        let damagedReport = try Vault.open(at: damaged, access: .read).verify()
        for finding in damagedReport.findings { say("   found (auditor, no key): \(finding)") }
        for finding in try Vault.open(at: damaged, access: .read).verify(reader: tomas).findings {
            say("   found (Tomas's key names the chunk): \(finding.problem.components(separatedBy: "with the reader's key: ").last ?? "")")
        }
        do {
            _ = try Vault.open(at: damaged).export(added[1].id.hex, to: "\(root)/exports/damaged.txt", as: tomas)
        } catch let error as VaultError {
            say("   and export refuses it, leaving no file: \(error.message)")
        }

        step("9. Tomas's laptop is stolen. Ines removes him: the group moves to a new key in the same signed event.")
        let removal = try vault.removeMember("tomas-lawyer", fromGroup: "latam-wg", reason: "laptop stolen on 2 April (fictional)", as: ines)
        say("   latam-wg: epoch \(removal.previousEpoch) -> \(removal.epoch); the new key is sealed to Ines and Amara only, with a commitment every reader checks.")
        let later = "\(root)/incoming/photo-log-witness-A.txt"
        try Data("FICTIONAL DEMO PHOTO LOG: item 1-12, taken after the removal.\n".utf8).write(to: URL(fileURLWithPath: later))
        let afterRemoval = try vault.addDocuments([NewDocument(path: later, kind: .photo, title: "Photo log")], toCase: "LATAM-2026-014", as: amara)[0]
        say("   Amara adds a photo log; it is wrapped under a new case-key generation made under epoch \(removal.epoch).")
        var refused = false
        do { _ = try vault.export(afterRemoval.id.hex, to: "\(root)/exports/tomas-attempt.txt", as: tomas) } catch let error as VaultError {
            refused = true
            say("   Tomas (or the thief, with his identity file and passphrase) is refused: \(error.message)")
        }
        let exposure = try vault.exposure(of: "tomas-lawyer", group: "latam-wg")
        let reach = exposure.groups.first
        say("   'evault exposure tomas-lawyer' (keyless): keys of epochs 1 to \(reach?.highestEpoch ?? 0); \(reach?.documents.count ?? 0) document(s) his keys opened, \(exposure.exports.count) exported by him; \(reach?.addedAfterRemoval ?? 0) added after his removal, none opens with his keys.")
        say("   \(exposure.limits[0])")

        step("10. Lucia joins as a lawyer at epoch 2 and reads the testimony added at epoch 1 (the prev chain).")
        let lucia = try UnlockedIdentity.generate(name: "lucia-lawyer")
        try vault.addMember(lucia.publicIdentity, role: .lawyer, toGroup: "latam-wg", as: ines)
        _ = try vault.trust(.genesis(genesis), for: lucia)
        let luciaCopy = "\(root)/exports/testimony-lucia.txt"
        _ = try vault.export(added[0].id.hex, to: luciaCopy, as: lucia)
        let luciaSame = (try? Data(contentsOf: URL(fileURLWithPath: luciaCopy))) == (try? Data(contentsOf: URL(fileURLWithPath: testimony)))
        say("   Lucia's export of the epoch-1 testimony: \(luciaSame ? "identical to the original" : "DIFFERENT FROM THE ORIGINAL")")
        let rewritten = try vault.reencrypt(group: "latam-wg", as: ines)
        let cleaned = try Vault.open(at: vaultPath, access: .read).removeOrphans()
        let afterClean = try vault.exposure(of: "tomas-lawyer", group: "latam-wg").groups.first
        let stillOpen = afterClean?.documents.filter { $0.currentContentOpens || $0.openableBlobStillHere }.count ?? -1
        say("   Ines runs 'evault reencrypt latam-wg' (\(rewritten.reencrypted) documents under fresh keys) and 'evault clean' (\(cleaned.count) old blobs removed):")
        say("   documents in this vault that Tomas's keys still open: \(stillOpen). Copies he made before, and the sealed references, stay his.")
        let finalReport = vault.verify()
        say(finalReport.isClean ? "   Kofi verifies again: clean." : "   Kofi verifies again: \(finalReport.findings)")

        step("Done. Explore the demo vault yourself:")
        let invoked = CommandLine.arguments.first ?? "evault"
        let evault = invoked.contains("/") && !invoked.hasPrefix("/")
            ? URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(invoked).standardized.path : invoked
        say("""
              export EVAULT_VAULT=\(vaultPath)
              export EVAULT_IDENTITY=\(root)/identities/amara-lawyer.identity EVAULT_PASSPHRASE="demo passphrase for amara-lawyer"
              \(evault) log
              \(evault) group show latam-wg
              \(evault) case list
              \(evault) list LATAM-2026-014
              \(evault) show \(added[1].id.hex.prefix(8))
              \(evault) export \(added[1].id.hex.prefix(8)) --out /tmp/medical.txt
              \(evault) verify
              \(evault) exposure tomas-lawyer
              \(evault) verify --vault \(damaged) --identity $EVAULT_IDENTITY
            """)
        if !report.isClean || damagedReport.isClean || !same || !refused || !luciaSame || stillOpen != 0 || !finalReport.isClean {
            throw ExitCode.failure
        }
    }

    private func makeTemporaryFolder() throws -> String {
        var template = Array("/tmp/evault-demo.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw VaultError(.io, "cannot create a temporary folder") }
        return String(cString: made)
    }

    private func step(_ text: SafeText) { Terminal.line("\n\(text)") }
    private func say(_ text: SafeText) { Terminal.line(text) }
}

/// Fictional demo content, generated on the fly.
enum DemoMaterial {
    static let testimony = """
        FICTIONAL DEMO TESTIMONY: no real person or event is described.

        Statement of witness A, taken on 3 March 2026 in the presence of counsel.
        I was held for eleven days in a room without windows. On the third day
        I was questioned for many hours and was not allowed to sleep. I was not
        told why I was detained and I did not see a lawyer until I was released.
        I can describe the building, the guards' uniforms and the sounds I heard.
        I consent to this statement being used in proceedings.

        """

    static func medicalReport(lines: Int) -> String {
        var text = "FICTIONAL DEMO MEDICAL REPORT: no real person is described.\n\nForensic examination of witness A.\n"
        for line in 0..<lines {
            text += "Observation \(line): findings consistent with the account given; photographs annexed as item \(line % 12).\n"
        }
        return text
    }
}
