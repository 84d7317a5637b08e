import ArgumentParser
import EvidenceVault
import Foundation
import VaultCrypto

/// `evault group remove GROUP MEMBER`
struct GroupRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove",
        abstract: "Remove a member (custodians only); removing a lawyer or custodian rotates the group's key in the same event.")
    @Argument(help: "Group name or id.") var group: String
    @Argument(help: "The member: a name, a fingerprint, or at least its first 8 characters.") var member: String
    @Option(name: .long, help: "Why (sealed for the group's readers; may name people).") var reason: String = ""
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let theVault = try vault.open(.write)
        _ = try theVault.group(group)  // before the passphrase is asked
        let result = try theVault.removeMember(member, fromGroup: group, reason: reason, as: identity.unlock())
        if output.json { try Terminal.printJSON(RotationJSON(result)) } else {
            Terminal.line("Removed \(result.removedName ?? "?") (\(result.removed?.readable ?? "?")) from \(result.group.name) in ledger event \(result.sequence)")
            if result.epoch != result.previousEpoch {
                Terminal.line("Rotated \(result.group.name) to epoch \(result.epoch): the new key is sealed to the \(result.group.members.filter { $0.role.canRead }.count) remaining lawyers and custodians.")
                Terminal.line("What they could read before stays exposed: see 'evault exposure'; 'evault reencrypt \(result.group.name)' then 'evault clean' rewrite old content under new keys.")
            }
        }
    }
}

/// `evault group rotate GROUP`
struct GroupRotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Move a group to a new epoch key with the same members (custodians only).")
    @Argument(help: "Group name or id.") var group: String
    @Option(name: .long, help: "Why (sealed for the group's readers).") var reason: String = ""
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let theVault = try vault.open(.write)
        _ = try theVault.group(group)
        let result = try theVault.rotateGroup(group, reason: reason, as: identity.unlock())
        if output.json { try Terminal.printJSON(RotationJSON(result)) } else {
            Terminal.line("Rotated \(result.group.name) from epoch \(result.previousEpoch) to \(result.epoch) in ledger event \(result.sequence); new documents use new case keys.")
        }
    }
}

/// `evault group confirm GROUP`
struct GroupConfirm: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confirm", abstract: "Sign that the epoch key sealed to you opened and matches its commitment (auditors see who confirmed).")
    @Argument(help: "Group name or id.") var group: String
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions

    func run() throws {
        let theVault = try vault.open(.write)
        _ = try theVault.group(group)
        let epoch = try theVault.confirmEpoch(ofGroup: group, as: identity.unlock())
        Terminal.line("Confirmed epoch \(epoch) of \(group).")
    }
}

struct RotationJSON: Encodable {
    let group: String
    let removed: String?
    let previousEpoch: UInt32
    let epoch: UInt32
    let event: UInt64

    init(_ result: RotationSummary) {
        group = result.group.id.hex
        removed = result.removed?.hex
        previousEpoch = result.previousEpoch
        epoch = result.epoch
        event = result.sequence
    }
}

/// `evault exposure MEMBER`
struct ExposureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exposure",
        abstract: "What a member's keys could read, what they exported and authored (keyless; --identity adds case references and titles).")
    @Argument(help: "The member: a name, a fingerprint, or at least its first 8 characters.") var member: String
    @Option(name: .long, help: "Only this group.") var group: String?
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let theVault = try vault.open(.read)
        _ = try theVault.groups()
        let report = try theVault.exposure(of: member, group: group, reader: identity.unlockIfGiven())
        if output.json { try Terminal.printJSON(report); return }
        Terminal.line("Exposure of \(report.name) (\(report.fingerprint))")
        if report.groups.isEmpty { Terminal.line("  never a member of \(group ?? "any group")") }
        for item in report.groups {
            Terminal.line("Group \(item.groupName) (\(item.groupID))")
            for span in item.intervals {
                let end = span.removedEvent.map { "removed in event \($0) (\(report.dateText(span.removed))) by \(span.removedBy ?? "?")" } ?? "still a member"
                Terminal.line("  \(span.role) from event \(span.addedEvent) (\(report.dateText(span.added))), added by \(span.addedBy); \(end)"
                              + (span.reason.map { $0.isEmpty ? "" : "; reason: \($0)" } ?? ""))
            }
            if item.highestEpoch == 0 {
                Terminal.line("  keys: none (auditor): no document opens with anything they held")
            } else {
                Terminal.line("  keys: epochs 1 to \(item.highestEpoch) (the newest sealed to them opens every earlier one), \(item.generations) case-key generation(s); confirmed: \(item.confirmedEpochs.isEmpty ? "none" : item.confirmedEpochs.map(String.init).joined(separator: ", "))")
            }
            let during = item.documents.filter { $0.when == "during membership" }.count
            let before = item.documents.filter { $0.when == "before joining (prev chain)" }.count
            let still = item.documents.filter { $0.currentContentOpens || $0.openableBlobStillHere }.count
            Terminal.line("  documents their keys opened: \(item.documents.count) (\(during) added while a member, \(before) added before they joined); \(still) still open with their keys in this vault")
            Terminal.line("  documents added after their removal: \(item.addedAfterRemoval), none opens with any key they held")
            for document in item.documents {
                let status = document.currentContentOpens ? "opens with their keys"
                    : document.openableBlobStillHere ? "re-encrypted in event \(document.reencryptedEvent.map(String.init) ?? "?"); old blob still here until 'evault clean'"
                    : "re-encrypted in event \(document.reencryptedEvent.map(String.init) ?? "?"); old blob removed from this vault"
                let label = [document.caseReference, document.title].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
                Terminal.line("    \(document.id)  event \(document.addedEvent)  \(document.when)  \(status)\(label.isEmpty ? "" : "  [\(label)]")")
            }
        }
        Terminal.line("Exported through evault: \(report.exports.count)")
        for export in report.exports { Terminal.line("    document \(export.documentID) in event \(export.event) (\(report.dateText(export.time)))") }
        let a = report.authored
        Terminal.line("Authored: \(a.cases) case(s), \(a.documents) document(s), \(a.membersAdded) admission(s), \(a.membersRemoved) removal(s), \(a.rotations) rotation(s), \(a.reencryptions) re-encryption(s)")
        for limit in report.limits { Terminal.line("\(limit)") }
    }
}

extension ExposureReport {
    func dateText(_ date: Date?) -> String { date?.iso8601 ?? "?" }
}

/// `evault reencrypt GROUP`
struct ReencryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reencrypt",
        abstract: "Write anew, under fresh keys, every document a removed member's keys open (custodians only); resumable.")
    @Argument(help: "Group name or id.") var group: String
    @Option(name: .long, help: "Only this case (id, prefix or reference).") var `case`: String?
    @Option(name: .long, help: "Re-encrypt what keys of epochs before this one open (after a rotation for a suspected compromise).")
    var beforeEpoch: UInt32?
    @OptionGroup var vault: VaultOptions
    @OptionGroup var identity: IdentityOptions
    @OptionGroup var output: OutputOptions

    func run() throws {
        let theVault = try vault.open(.write)
        _ = try theVault.group(group)
        let actor = try identity.unlock()
        let onTerminal = isatty(2) == 1
        let summary = try theVault.reencrypt(group: group, caseText: `case`, beforeEpoch: beforeEpoch, as: actor) { done, total in
            guard onTerminal, total > 0 else { return }
            Terminal.progress("\rre-encrypting: \(done) of \(total) document(s)")
            if done == total { Terminal.progress("\n") }
        }
        if output.json {
            try Terminal.printJSON(["reencrypted": summary.reencrypted, "planned": summary.planned, "remaining": summary.remaining,
                                    "beforeEpoch": Int(summary.beforeEpoch), "superseded": summary.superseded])
        } else {
            Terminal.line("Re-encrypted \(summary.reencrypted) document(s) under the current epoch (\(summary.planned - summary.reencrypted) already done); \(summary.remaining) left under epochs before \(summary.beforeEpoch).")
            if summary.superseded > 0 { Terminal.line("Run 'evault clean' to remove the \(summary.superseded) superseded blob(s) from this vault.") }
        }
    }
}
