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
        let report = try Vault.open(at: path).verify()
        if output.json {
            try Terminal.printJSON(["id": report.vaultID?.hex ?? "", "folder": path, "creator": actor.fingerprint.hex])
        } else {
            Terminal.line("Created vault \(report.vaultID?.hex ?? "?") in \(path), creator \(actor.publicIdentity.name) (\(actor.fingerprint.readable))")
        }
    }
}

/// `evault group ...`
struct GroupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "group", abstract: "Working groups and their members.",
                                                    subcommands: [GroupCreate.self, GroupAdd.self, GroupShow.self, GroupList.self])
}

struct GroupCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a working group; you become its first custodian.")
    @Argument(help: "Group name (visible to auditors).") var name: String
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let group = try vault.open().createGroup(named: name, as: identity.unlock())
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
        let theVault = try vault.open()
        try theVault.addMember(member, role: role, toGroup: group, as: identity.unlock())
        let summary = try theVault.group(group)
        if output.json { try Terminal.printJSON(GroupJSON(summary)) } else {
            Terminal.line("Added \(member.name) (\(member.fingerprint.readable)) to \(summary.name) as \(role)"
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
        let summary = try vault.open().group(group)
        if output.json { try Terminal.printJSON(GroupJSON(summary)) } else { GroupJSON.printHuman(summary) }
    }
}

struct GroupList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "All working groups.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let groups = try vault.open().groups()
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
        let summary = try vault.open().createCase(inGroup: group, reference: ref, title: title, as: identity.unlock())
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
        let cases = try vault.open().cases(inGroup: group, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(cases.map(CaseJSON.init)) } else {
            if cases.isEmpty { Terminal.line("No cases.") }
            for item in cases {
                Terminal.line("\(item.id.hex)  \(item.groupName)  \(item.documentCount) document(s)  \(item.reference ?? "[sealed]")  \(item.title ?? "")")
            }
        }
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
    }

    func run() throws {
        let theVault = try vault.open()
        let actor = try identity.unlock()
        let documents = files.map { NewDocument(path: $0, kind: kind, title: title, tags: tag) }
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
        let documents = try vault.open().documents(inCase: caseRef, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(documents.map(DocumentJSON.init)) } else {
            if documents.isEmpty { Terminal.line("No documents.") }
            for document in documents { DocumentJSON.printLine(document) }
        }
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
        let document = try vault.open().document(doc, as: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(DocumentJSON(document)) } else { DocumentJSON.printHuman(document) }
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
        let document = try vault.open().export(doc, to: out, force: force, as: identity.unlock(), allowVisibleTemporary: allowVisibleTemp,
                                               progress: ProgressLine.make(label: "decrypting"))
        if output.json { try Terminal.printJSON(DocumentJSON(document)) } else {
            Terminal.line("Exported \(document.id.hex) to \(out) (\(document.metadata?.size ?? 0) bytes; final chunk, blob hash and plaintext commitment checked)")
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
        let report = try vault.open().verify(reader: reader)
        if output.json { try Terminal.printJSON(VerifyJSON(report)) } else {
            Terminal.line("Vault \(report.vaultID?.hex ?? "?"), created by \(report.creator?.name ?? "?") (\(report.creator?.fingerprint.readable ?? "?"))")
            Terminal.line("Ledger: \(report.eventsVerified) of \(report.eventsStored) event(s) verified; head \(Hex.encode(report.headHash))")
            Terminal.line("Blobs: \(report.documentsChecked) document(s), \(report.bytesHashed) bytes hashed")
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
    static let configuration = CommandConfiguration(commandName: "log", abstract: "The ledger in human form; nothing secret.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let entries = try vault.open().log()
        if output.json { try Terminal.printJSON(entries.map(LogJSON.init)) } else {
            for entry in entries {
                let objects = entry.objects.map { "\($0.kind) \($0.kind == "role" ? $0.id : String($0.id.prefix(12)))" }.joined(separator: ", ")
                Terminal.line("#\(entry.sequence)  \(entry.time.iso8601)  \(entry.actorName) [\(entry.actor.readable)]  \(entry.action)  \(objects)")
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
        abstract: "Remove blob files no ledger event names (orphans of interrupted adds) and leftover temporary files.")
    @Option(name: .long, help: "Only files older than this many seconds (default 600), so that adds in progress are never touched.")
    var minAge: Int = 600
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let removed = try vault.open().removeOrphans(minimumAge: TimeInterval(max(0, minAge)))
        if output.json { try Terminal.printJSON(removed.map { ["id": $0] }) } else {
            Terminal.line(removed.isEmpty ? "Nothing to remove." : "Removed \(removed.count) file(s) no ledger event names:")
            for name in removed { Terminal.line("  \(name)") }
        }
    }
}

struct IndexRebuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Drop and rebuild the index tables from the ledger.")
    @OptionGroup var vault: VaultOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let count = try vault.open().rebuildIndex()
        if output.json { try Terminal.printJSON(["events": count]) } else { Terminal.line("Rebuilt the index from \(count) ledger event(s).") }
    }
}
