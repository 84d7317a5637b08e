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

    init(_ group: GroupSummary) {
        id = group.id.hex
        name = group.name
        epoch = group.epoch
        cases = group.caseCount
        members = group.members.map {
            MemberJSON(id: $0.fingerprint.hex, name: $0.name, fingerprint: $0.fingerprint.readable, role: $0.role.description,
                       epoch: $0.epoch, addedBy: $0.addedBy.hex, event: $0.sequence)
        }
    }

    static func printHuman(_ group: GroupSummary) {
        Terminal.line("Group \(group.name) (\(group.id.hex)), epoch \(group.epoch), \(group.caseCount) case(s)")
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

    init(_ item: CaseSummary) {
        id = item.id.hex
        group = item.groupName
        reference = item.reference
        title = item.title
        author = item.author.hex
        created = item.created.iso8601
        documents = item.documentCount
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
        metadata = document.metadata.map {
            Metadata(fileName: $0.fileName, title: $0.title, kind: $0.kind.description, tags: $0.tags, size: $0.size)
        }
    }

    static func printLine(_ document: DocumentSummary) {
        let described = document.metadata.map { "\($0.kind)  \($0.fileName)  \($0.size) bytes  \($0.title)" } ?? "[sealed]  \(document.blobSize) bytes encrypted"
        Terminal.line("\(document.id.hex)  \(document.added.iso8601)  \(document.authorName)  \(described)")
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
        } else {
            Terminal.line("  Metadata: sealed (give --identity of a lawyer or custodian of the case's group to read it)")
        }
    }
}

struct VerifyJSON: Encodable {
    struct FindingJSON: Encodable {
        let id: String
        let object: String
        let problem: String
    }
    let id: String
    let creator: String?
    let clean: Bool
    let eventsVerified: UInt64
    let eventsStored: Int
    let head: String
    let documentsChecked: Int
    let bytesHashed: UInt64
    let findings: [FindingJSON]

    init(_ report: VerificationReport) {
        id = report.vaultID?.hex ?? ""
        creator = report.creator?.fingerprint.hex
        clean = report.isClean
        eventsVerified = report.eventsVerified
        eventsStored = report.eventsStored
        head = Hex.encode(report.headHash)
        documentsChecked = report.documentsChecked
        bytesHashed = report.bytesHashed
        findings = report.findings.map {
            FindingJSON(id: $0.object.split(separator: " ").last.map(String.init) ?? $0.object, object: $0.object, problem: $0.problem)
        }
    }
}

struct LogJSON: Encodable {
    struct Object: Encodable {
        let kind: String
        let id: String
    }
    let id: UInt64
    let time: String
    let actor: String
    let actorName: String
    let action: String
    let objects: [Object]
    let hash: String

    init(_ entry: LogEntry) {
        id = entry.sequence
        time = entry.time.iso8601
        actor = entry.actor.hex
        actorName = entry.actorName
        action = entry.action
        objects = entry.objects.map { Object(kind: $0.kind, id: $0.id) }
        hash = Hex.encode(entry.hash)
    }
}
