import EvidenceVault
import Foundation
import VaultCrypto

/// JSON shapes of command output. Every object carries its identifier as `id`.
struct MemberJSON: Encodable {
    let id: String
    let name: String
    let fingerprint: String
    let role: String
    let epoch: UInt32
    let addedBy: String
    let event: UInt64
}

struct GroupJSON: Encodable {
    let id: String
    let name: String
    let epoch: UInt32
    let cases: Int
    let members: [MemberJSON]
    /// Readers who confirmed the current epoch's committed key.
    let confirmedBy: [String]
    let committed: Bool

    init(_ group: GroupSummary) {
        id = group.id.hex
        name = group.name
        epoch = group.epoch
        cases = group.caseCount
        confirmedBy = group.confirmedBy
        committed = group.committed
        members = group.members.map {
            MemberJSON(id: $0.fingerprint.hex, name: $0.name, fingerprint: $0.fingerprint.readable, role: $0.role.description,
                       epoch: $0.epoch, addedBy: $0.addedBy.hex, event: $0.sequence)
        }
    }

    static func printHuman(_ group: GroupSummary) {
        Terminal.line("Group \(group.name) (\(group.id.hex)), epoch \(group.epoch), \(group.caseCount) case(s)")
        let readers = group.members.filter { $0.role.canRead }.count
        Terminal.line(group.committed
            ? "  epoch \(group.epoch) key confirmed by \(group.confirmedBy.count) of \(readers) reader(s)\(group.confirmedBy.isEmpty ? "" : ": " + group.confirmedBy.joined(separator: ", "))"
            : "  epoch \(group.epoch) key has no commitment (made by evault version 1): rotate the group once")
        for member in group.members {
            Terminal.line("  \(member.role.description.padding(toLength: 10, withPad: " ", startingAt: 0)) \(member.name)  \(member.fingerprint.readable)")
        }
    }
}

struct CaseJSON: Encodable {
    let id: String
    let group: String
    let reference: String?
    let title: String?
    let author: String
    let created: String
    let documents: Int
    let event: UInt64
    /// Set when your keys do not open this case's sealed fields.
    let problem: String?

    init(_ item: CaseSummary) {
        id = item.id.hex
        group = item.groupName
        reference = item.reference
        title = item.title
        author = item.author.hex
        created = item.created.iso8601
        documents = item.documentCount
        event = item.sequence
        problem = item.problem
    }
}

struct DocumentJSON: Encodable {
    struct Metadata: Encodable {
        let fileName: String
        let title: String
        let kind: String
        let tags: [String]
        let size: UInt64
    }
    let id: String
    let caseId: String
    let version: UInt32
    let blob: String
    let blobSize: UInt64
    let author: String
    let authorName: String
    let added: String
    let event: UInt64
    let metadata: Metadata?
    /// Set when your keys do not open this document's key or metadata.
    let problem: String?
    /// After `export`: the SHA-256 of the file written (compare with `sha256sum`).
    let sha256: String?

    init(_ document: DocumentSummary) {
        id = document.id.hex
        caseId = document.caseID.hex
        version = document.version
        blob = Hex.encode(document.blobHash)
        blobSize = document.blobSize
        author = document.author.hex
        authorName = document.authorName
        added = document.added.iso8601
        event = document.sequence
        sha256 = document.exportedSHA256.map(Hex.encode)
        metadata = document.metadata.map {
            Metadata(fileName: $0.fileName, title: $0.title, kind: $0.kind.description, tags: $0.tags, size: $0.size)
        }
        problem = document.problem
    }

    static func printLine(_ document: DocumentSummary) {
        let described: SafeText
        if let metadata = document.metadata {
            described = "\(metadata.kind)  \(metadata.fileName)  \(metadata.size) bytes  \(metadata.title)"
        } else if document.problem != nil {
            described = "[unreadable: event \(document.sequence) by \(document.authorName)]"
        } else {
            described = "[sealed]  \(document.blobSize) bytes encrypted"
        }
        Terminal.line("\(document.id.hex)  \(document.added.iso8601)  \(document.authorName)  \(described)")
        if let problem = document.problem { Terminal.note("evault: warning: \(problem)") }
    }

    static func printHuman(_ document: DocumentSummary) {
        Terminal.line("Document \(document.id.hex) (version \(document.version))")
        Terminal.line("  Case:     \(document.caseID.hex)")
        Terminal.line("  Added:    \(document.added.iso8601) by \(document.authorName) [\(document.author.readable)], ledger event \(document.sequence)")
        Terminal.line("  Blob:     \(Hex.encode(document.blobHash)) (\(document.blobSize) bytes)")
        if let metadata = document.metadata {
            Terminal.line("  File:     \(metadata.fileName) (\(metadata.size) bytes)")
            Terminal.line("  Kind:     \(metadata.kind)")
            Terminal.line("  Title:    \(metadata.title)")
            Terminal.line("  Tags:     \(metadata.tags.joined(separator: ", "))")
        } else if let problem = document.problem {
            Terminal.line("  Metadata: unreadable with your keys: \(problem)")
        } else {
            Terminal.line("  Metadata: sealed (only lawyers and custodians of the case's group read it: give --identity of one)")
        }
    }
}

struct VerifyJSON: Encodable {
    struct FindingJSON: Encodable {
        let id: String
        let object: String
        let problem: String

        init(_ finding: Finding) {
            // The object's id or name exactly as it follows its kind (a name may contain spaces).
            let kinds = ["blob folder entry ", "vault folder entry ", "index row ", "document ", "event ", "case ", "group ", "blob folder", "vault folder"]
            id = kinds.first { finding.object.hasPrefix($0) }.map { String(finding.object.dropFirst($0.count)) } ?? finding.object
            object = finding.object
            problem = finding.problem
        }
    }
    struct HeadJSON: Encodable {
        let event: UInt64
        let hash: String
    }
    let id: String
    let vaultId: String
    let genesis: String
    let creator: String?
    let clean: Bool
    let trusted: Bool
    let comparedAgainst: HeadJSON?
    let rememberedNewHead: Bool
    let eventsVerified: UInt64
    let eventsStored: Int
    let head: String
    let documentsChecked: Int
    let bytesHashed: UInt64
    let findings: [FindingJSON]
    let timeFlags: [FindingJSON]
    /// With --identity: whether that identity trusts this vault at this folder.
    let trustedByIdentity: Bool?

    init(_ report: VerificationReport) {
        id = report.vaultID?.hex ?? ""
        vaultId = id
        genesis = report.genesisHash.map(Hex.encode) ?? ""
        creator = report.creator?.fingerprint.hex
        clean = report.isClean
        trusted = report.anchor.trusted
        comparedAgainst = report.anchor.comparedAgainst.map { HeadJSON(event: $0.sequence, hash: $0.hash) }
        rememberedNewHead = report.anchor.rememberedNewHead
        trustedByIdentity = report.anchor.trustedByReader
        eventsVerified = report.eventsVerified
        eventsStored = report.eventsStored
        head = Hex.encode(report.headHash)
        documentsChecked = report.documentsChecked
        bytesHashed = report.bytesHashed
        findings = report.findings.map(FindingJSON.init)
        timeFlags = report.timeFlags.map(FindingJSON.init)
    }
}

struct LogJSON: Encodable {
    struct Object: Encodable {
        let kind: String
        let id: String
        /// A group's or member's name, or a case's reference the reader opened; absent otherwise.
        let name: String?
    }
    let id: UInt64
    let time: String
    let actor: String
    let actorName: String
    let action: String
    let objects: [Object]
    let hash: String
    let timeFlag: String?

    init(_ entry: LogEntry) {
        id = entry.sequence
        time = entry.time.iso8601
        actor = entry.actor.hex
        actorName = entry.actorName
        action = entry.action
        objects = entry.objects.map { Object(kind: $0.kind, id: $0.id, name: entry.names[$0.id]) }
        hash = Hex.encode(entry.hash)
        timeFlag = entry.timeFlag
    }
}
