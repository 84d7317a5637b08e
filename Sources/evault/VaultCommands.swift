import ArgumentParser
import EvidenceVault
import Foundation
import VaultCrypto

/// `evault init`
struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a vault; the genesis event names its id and you as its creator.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let actor = try identity.unlock()
        let path = try vault.path()
        _ = try Vault.create(at: path, creator: actor, knownVaults: VaultOptions.knownVaults())
        let report = try Vault.open(at: path, access: .read).verify()
        let genesis = report.genesisHash.map(Hex.encode) ?? "?"
        if output.json {
            try Terminal.printJSON(["id": report.vaultID?.hex ?? "", "folder": path, "creator": actor.fingerprint.hex, "genesis": genesis])
        } else {
            Terminal.line("Created vault \(report.vaultID?.hex ?? "?") in \(path), creator \(actor.publicIdentity.name) (\(actor.fingerprint.readable))")
            Terminal.line("Genesis: \(genesis)")
            Terminal.line("Give each member the genesis hash over another channel; they run 'evault trust --genesis HASH' once.")
        }
    }
}

/// `evault group ...`
struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Working groups and their members.",
                                                    subcommands: [GroupCreate.self, GroupAdd.self, GroupRemove.self, GroupRotate.self, GroupConfirm.self,
                                                                  GroupShow.self, GroupList.self])
}

struct GroupCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a working group; you become its first custodian.")
    @Argument(help: "Group name (visible to auditors).") var name: String
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        try TextRules.requirePrintable(name, what: "the group name")
        let theVault = try vault.open(.write)
        _ = try theVault.groups()  // trusted and replays, before the passphrase is asked
        let group = try theVault.createGroup(named: name, as: identity.unlock())
        if output.json { try Terminal.printJSON(GroupJSON(group)) } else { Terminal.line("Created group \(group.name) (\(group.id.hex)), epoch \(group.epoch)") }
    }
}

struct GroupAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Admit a member (custodians only).")
    @Argument(help: "Group name or id.") var group: String
    @Argument(help: "The member's .pub file (check its fingerprint with them first).") var pubfile: String
    @Option(name: .long, help: "lawyer, custodian or auditor.") var role: Role
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let member = try IdentityStore.loadPublic(pubfile)
        let theVault = try vault.open(.write)
        _ = try theVault.group(group)  // the group exists (and the vault is trusted) before the passphrase is asked
        try theVault.addMember(member, role: role, toGroup: group, as: identity.unlock())
        let summary = try theVault.group(group)
        if output.json { try Terminal.printJSON(GroupJSON(summary)) } else {
            Terminal.line("Added \(summary.members.first { $0.fingerprint == member.fingerprint }?.name ?? member.name) (\(member.fingerprint.readable)) to \(summary.name) as \(role)"
                  + (role == .auditor ? " (no keys: auditors cannot read)" : ""))
        }
    }
}

struct GroupShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Members, roles, fingerprints and epoch of a group.")
    @Argument(help: "Group name or id.") var group: String
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let summary = try vault.open(.read).group(group)
        if output.json { try Terminal.printJSON(GroupJSON(summary)) } else { GroupJSON.printHuman(summary) }
    }
}

struct GroupList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "All working groups.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let groups = try vault.open(.read).groups()
        if output.json { try Terminal.printJSON(groups.map(GroupJSON.init)) } else {
            if groups.isEmpty { Terminal.line("No groups.") }
            for group in groups { GroupJSON.printHuman(group) }
        }
    }
}

/// `evault case ...`
struct CaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "case", abstract: "Cases of a working group.",
                                                    subcommands: [CaseNew.self, CaseList.self])
}

struct CaseNew: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "new", abstract: "Open a case; prints its id. The reference and title are sealed.")
    @Argument(help: "Group name or id.") var group: String
    @Argument(help: "Case reference (sealed).") var ref: String
    @Option(name: .long, help: "Case title (sealed).") var title: String = ""
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let theVault = try vault.open(.write)
        _ = try theVault.group(group)  // before the passphrase is asked
        let summary = try theVault.createCase(inGroup: group, reference: ref, title: title, as: identity.unlock())
        if output.json { try Terminal.printJSON(CaseJSON(summary)) } else { Terminal.line("\(summary.id.hex)") }
    }
}

struct CaseList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Cases (references and titles where you can read them).")
    @Argument(help: "Only this group.") var group: String?
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let cases = try vault.open(.read).cases(inGroup: group, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(cases.map(CaseJSON.init)) } else {
            if cases.isEmpty { Terminal.line("No cases.") }
            for item in cases {
                if let problem = item.problem {
                    Terminal.line("\(item.id.hex)  \(item.groupName)  \(item.documentCount) document(s)  [unreadable: event \(item.sequence) by \(item.authorName)]")
                    Terminal.note("evault: warning: \(problem)")
                } else {
                    Terminal.line("\(item.id.hex)  \(item.groupName)  \(item.documentCount) document(s)  \(item.reference ?? "[sealed]")  \(item.title ?? "")")
                }
            }
        }
        try Unreadable.exitIfAny(cases.filter { $0.problem != nil }.count)
    }
}

/// `evault add CASE FILE...`
struct AddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Encrypt files into a case; prints one document id per file.")
    @Argument(help: "Case id, id prefix or reference.") var caseRef: String
    @Argument(help: "Files to add.") var files: [String]
    @Option(name: .long, help: "testimony, medical, photo, audio, video, document or other.") var kind: DocumentKind
    @Option(name: .long, help: "Title (sealed).") var title: String = ""
    @Option(name: .long, help: "A tag (sealed); repeat for several.") var tag: [String] = []
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one file") }
        // One title for several files is how records go wrong (issue 10): each file gets its own.
        guard files.count == 1 || title.isEmpty else {
            throw ValidationError("--title would give all \(files.count) files the same title: add each file with its own --title, or several files without one")
        }
    }

    func run() throws {
        let theVault = try vault.open(.write)
        let documents = files.map { NewDocument(path: $0, kind: kind, title: title, tags: tag) }
        try theVault.checkBeforeAdding(documents, toCase: caseRef)  // cheap checks before the passphrase
        let actor = try identity.unlock()
        let progress = ProgressLine.make(label: "encrypting")
        let added = try theVault.addDocuments(documents, toCase: caseRef, as: actor, progress: progress.map { report in { _, done, total in report(done, total) } })
        if output.json { try Terminal.printJSON(added.map(DocumentJSON.init)) } else { for document in added { Terminal.line("\(document.id.hex)") } }
    }
}

/// `evault list CASE`
struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "Documents of a case.")
    @Argument(help: "Case id, id prefix or reference.") var caseRef: String
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let documents = try vault.open(.read).documents(inCase: caseRef, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(documents.map(DocumentJSON.init)) } else {
            if documents.isEmpty { Terminal.line("No documents.") }
            for document in documents { DocumentJSON.printLine(document) }
        }
        try Unreadable.exitIfAny(documents.filter { $0.problem != nil }.count)
    }
}

/// `evault show DOC`
struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "One document: ids, size, time, author, and for readers its metadata.")
    @Argument(help: "Document id or unique prefix.") var doc: String
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let document = try vault.open(.read).document(doc, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(DocumentJSON(document)) } else { DocumentJSON.printHuman(document) }
        try Unreadable.exitIfAny(document.problem == nil ? 0 : 1)
    }
}

/// `evault export DOC --out PATH`
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Decrypt a document to PATH (readers only), checking it fully first.")
    @Argument(help: "Document id or unique prefix.") var doc: String
    @Option(name: .long, help: "Destination file.") var out: String
    @Flag(name: .long, help: "Replace an existing file.") var force = false
    @Flag(name: .long, help: "Allow a destination file system without O_TMPFILE (an interrupted export could leave partial plaintext there).")
    var allowVisibleTemp = false
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let theVault = try vault.open(.write)
        try theVault.checkBeforeExporting(doc, to: out, force: force)  // before the passphrase is asked
        let document = try theVault.export(doc, to: out, force: force, as: identity.unlock(), allowVisibleTemporary: allowVisibleTemp,
                                           progress: ProgressLine.make(label: "decrypting"))
        if output.json { try Terminal.printJSON(DocumentJSON(document)) } else {
            Terminal.line("Exported \(document.id.hex) to \(out) (\(document.metadata?.size ?? 0) bytes; key commitment, every chunk and plaintext commitment checked)")
            Terminal.line("SHA-256 of the file: \(document.exportedSHA256.map(Hex.encode) ?? "?") (compare with 'sha256sum')")
        }
    }
}

/// `evault verify`
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Check ledger, index and blobs without any key. Exit 0 only when clean.")
    @OptionGroup var vault: VaultOptions
    @Option(name: .long, help: "Optional: a reader's .identity, to also name the damaged chunk of a damaged document (EVAULT_IDENTITY is not used here).")
    var identity: String?
    @Option(name: .long, help: "Read that identity's passphrase from FILE.")
    var passphraseFile: String?
    @OptionGroup var output: OutputOptions

    func run() throws {
        // No identity and no passphrase by default: an auditor holds no key.
        let reader = try identity.map { try IdentityOptions.unlock(path: $0, passphraseFile: passphraseFile) }
        let report = try vault.open(.read).verify(reader: reader)
        if output.json { try Terminal.printJSON(VerifyJSON(report)) } else {
            Terminal.line("Vault \(report.vaultID?.hex ?? "?"), created by \(report.creator?.name ?? "?") (\(report.creator?.fingerprint.readable ?? "?"))")
            Terminal.line("Genesis: \(report.genesisHash.map(Hex.encode) ?? "?")")
            if let head = report.anchor.comparedAgainst {
                Terminal.line("Remembered head: compared against event \(head.sequence) (\(String(head.hash.prefix(16)))...) that this machine verified before")
            } else {
                Terminal.line("Remembered head: none. FIRST CONTACT: this machine does not trust this vault; compare the genesis hash with your custodian, then 'evault trust'")
            }
            if let reader, report.anchor.trustedByReader == false {
                Terminal.line("Your identity: \(reader.publicIdentity.name) has not been told to trust this vault at this folder; other commands with it refuse it until 'evault trust --identity' with the genesis hash")
            }
            let partial: SafeText = Int(report.eventsVerified) < report.eventsStored ? " (the last event that verified)" : ""
            Terminal.line(report.anchor.rememberedNewHead ? "Remembered the new head: event \(report.eventsVerified == 0 ? 0 : report.eventsVerified - 1)\(partial)"
                          : "Remembered the new head: no" + (report.anchor.trusted ? " (the ledger contradicts what this machine remembers)" : " (vault not trusted here)"))
            Terminal.line("Ledger: \(report.eventsVerified) of \(report.eventsStored) event(s) verified; head \(Hex.encode(report.headHash))")
            Terminal.line("Blobs: \(report.documentsChecked) document(s), \(report.bytesHashed) bytes hashed")
            for flag in report.timeFlags { Terminal.line("Time: \(flag) (flagged, not refused: clocks drift)") }
            if report.isClean { Terminal.line("OK: no problems found") } else {
                Terminal.line("PROBLEMS: \(report.findings.count)")
                for finding in report.findings { Terminal.line("  - \(finding)") }
            }
        }
        if !report.isClean { throw ExitCode(ExitStatus.integrity) }
    }
}

/// `evault log`
struct LogCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "The ledger in human form; nothing secret.",
        discussion: "Filters combine: every one given must hold. Times are the signer's own clock, in ISO 8601: a date (2026-12-04, a whole day in UTC) or a date and time with its zone (2026-12-04T09:30:00Z, 2026-12-04T11:30+02:00).")
    @Option(name: .customLong("case"), help: "Only the events that name this case (id, id prefix, or with --identity its reference).")
    var caseRef: String?
    @Option(name: .long, help: "Only the events that name this document (id or id prefix): its add, exports and re-encryptions.")
    var document: String?
    @Option(name: .long, help: "Only the events signed by this member (name, fingerprint, or fingerprint prefix).")
    var actor: String?
    @Option(name: .long, help: "Only the events of this action (\(LogFilter.actions.joined(separator: ", "))).")
    var action: String?
    @Option(name: .long, help: "Only the events signed at or after this date or time.")
    var since: LogTime?
    @Option(name: .long, help: "Only the events signed before this time, or up to the end of this date.")
    var until: LogTime?
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let opened = try vault.open(.read)
        let filter = LogFilter(caseText: caseRef, documentText: document, actorText: actor, action: action,
                               since: since?.start, until: until?.end)
        let entries = try opened.log(filter, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(entries.map(LogJSON.init)) } else {
            for entry in entries {
                let objects = entry.objects.map { object -> String in
                    if let name = entry.names[object.id] { return "\(object.kind) \(name) (\(object.id.prefix(12)))" }
                    return "\(object.kind) \(object.kind == "role" ? object.id : String(object.id.prefix(12)))"
                }.joined(separator: ", ")
                Terminal.line("#\(entry.sequence)  \(entry.time.iso8601)  \(entry.actorName) [\(entry.actor.readable)]  \(entry.action)  \(objects)"
                              + (entry.timeFlag.map { "  [time flagged: \($0)]" } ?? ""))
            }
        }
    }
}

/// `evault index rebuild`
struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "index", abstract: "The SQLite index projected from the ledger.",
                                                    subcommands: [IndexRebuild.self])
}

/// `evault clean`
struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove blobs superseded by re-encryption, blob files no ledger event names (orphans of interrupted adds) and leftover temporary files.")
    @Option(name: .long, help: "Only files older than this many seconds (default 600), so that adds in progress are never touched.")
    var minAge: Int = 600
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let removed = try vault.open(.read).removeOrphans(minimumAge: TimeInterval(max(0, minAge)))
        if output.json { try Terminal.printJSON(removed.map { ["id": $0] }) } else {
            Terminal.line(removed.isEmpty ? "Nothing to remove." : "Removed \(removed.count) file(s) (superseded by re-encryption, or named by no ledger event):")
            for name in removed { Terminal.line("  \(name)") }
        }
    }
}

struct IndexRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Drop and rebuild the index tables from the ledger.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let count = try vault.open(.write).rebuildIndex()
        if output.json { try Terminal.printJSON(["events": count]) } else { Terminal.line("Rebuilt the index from \(count) ledger event(s).") }
    }
}

/// `evault trust`: record that this machine trusts a vault, checked out of band.
struct TrustCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Trust a vault on this machine, after checking its genesis hash (or vault id and creator) with your custodian.",
        discussion: "Every command but a keyless 'verify' refuses a vault this machine has not been told to trust. With --identity (or EVAULT_IDENTITY), your identity is told too: every command run with an identity also requires that the identity itself trusts the vault at that folder (this machine's list can be edited by whoever writes its state folder; your identity's record cannot). --accept-older accepts a copy older than the one this machine saw (a restored backup).")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @Option(name: .long, help: "The vault's genesis hash (64 hex characters), given to you out of band.") var genesis: String?
    @Option(name: .long, help: "The vault id, given to you out of band (with --creator).") var vaultId: String?
    @Option(name: .long, help: "The creator's fingerprint, given to you out of band (with --vault-id).") var creator: String?
    @Flag(name: .long, help: "Accept a copy older than the head this machine remembers (a restored backup).") var acceptOlder = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if genesis != nil && (vaultId != nil || creator != nil) { throw ValidationError("give --genesis, or --vault-id with --creator, not both") }
        if (vaultId == nil) != (creator == nil) { throw ValidationError("--vault-id and --creator go together") }
    }

    func run() throws {
        let path = try vault.path()
        let theVault = try Vault.open(at: path, access: .read, logger: VaultLogging.warningsToStandardError, knownVaults: VaultOptions.knownVaults())
        let actor = try identity.unlockIfGiven()
        let candidate = try theVault.trustCandidate(for: actor)
        let evidence: TrustEvidence
        if let genesis {
            evidence = .genesis(genesis)
        } else if let vaultId, let creator {
            evidence = .creator(vaultID: vaultId, fingerprint: creator)
        } else if candidate.alreadyTrusted, candidate.alreadyTrustedByIdentity ?? true {
            evidence = .alreadyTrustedHere  // same id and genesis as the vault trusted here (an older copy, another path)
        } else {
            evidence = try confirmAtTerminal(candidate, path: path)
        }
        let outcome = try theVault.trust(evidence, acceptOlder: acceptOlder, for: actor)
        var said: SafeText
        switch outcome {
        case .trusted: said = "Trusted vault \(candidate.vaultID.hex) at \(path) on this machine (\(candidate.events) events)."
        case .alreadyTrusted: said = "Vault \(candidate.vaultID.hex) was already trusted on this machine; \(path) now names it."
        case .acceptedOlder(let from, let to):
            said = "Accepted an older copy of vault \(candidate.vaultID.hex): the remembered head moves back from event \(from) to event \(to); the \(from - to) later event(s) this machine saw are not in this copy."
        }
        if let actor { said = "\(said) Your identity \(actor.publicIdentity.name) trusts it at \(path) too." }
        if output.json {
            var fields = ["vaultId": candidate.vaultID.hex, "genesis": Hex.encode(candidate.genesisHash), "outcome": "\(outcome)"]
            if let actor { fields["identity"] = actor.fingerprint.hex }
            try Terminal.printJSON(fields)
        } else {
            Terminal.line(said)
            for reuse in candidate.reuse { Terminal.note("evault: warning: this vault reuses \(reuse)") }
        }
    }

    /// Shows what the vault says about itself and asks for a typed "yes" at the terminal.
    private func confirmAtTerminal(_ candidate: TrustCandidate, path: String) throws -> TrustEvidence {
        let details: SafeText = "vault id \(candidate.vaultID.hex), created by \(candidate.creatorName) (\(candidate.creator.fingerprint.readable)), genesis \(Hex.encode(candidate.genesisHash))"
        guard isatty(0) == 1 else {
            throw VaultError(.untrusted, "not trusting the vault at \(path) without a check: \(details)",
                             hint: "compare with your custodian, then pass --genesis HASH (or --vault-id ID --creator FINGERPRINT)")
        }
        Terminal.line("The vault at \(path) says it is:")
        Terminal.line("  Vault id:    \(candidate.vaultID.hex)")
        Terminal.line("  Created by:  \(candidate.creatorName) (\(candidate.creator.fingerprint.readable))")
        Terminal.line("  Genesis:     \(Hex.encode(candidate.genesisHash))")
        Terminal.line("  Events:      \(candidate.events)")
        for reuse in candidate.reuse { Terminal.line("  WARNING: it reuses \(reuse) of a vault this machine knows: it may be an impostor.") }
        Terminal.progress("Compare these with what your custodian told you over another channel. Type yes to trust it: ")
        guard readLine(strippingNewline: true)?.lowercased() == "yes" else {
            throw VaultError(.untrusted, "not trusted: you did not confirm")
        }
        return .confirmedAtTerminal
    }
}

/// Exit status 5 after a listing in which some records could not be opened (THREATS.md 45).
enum Unreadable {
    static func exitIfAny(_ count: Int) throws {
        guard count > 0 else { return }
        Terminal.note("evault: error: \(count) record(s) could not be opened with your keys, or their ledger rows changed after they were verified (see any warning above, and run 'evault verify'); everything else was shown")
        throw ExitCode(ExitStatus.unreadable)
    }
}
