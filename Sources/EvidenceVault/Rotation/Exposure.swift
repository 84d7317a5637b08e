import Foundation
import VaultCrypto

/// What one member's keys could reach, computed from the ledger alone
/// (`evault exposure`): auditors run it without any key; a reader's identity
/// adds case references and titles. Rotation stops a removed member reading
/// what is added after their removal; it cannot revoke what they held before.
public struct ExposureReport: Sendable, Encodable {
    /// One admission to a group, and its end if they were removed.
    public struct Interval: Sendable, Encodable {
        public let role: String
        public let addedEvent: UInt64
        public let added: Date
        public let addedBy: String
        public let removedEvent: UInt64?
        public let removed: Date?
        public let removedBy: String?
        /// The removal's sealed reason, when a reader's identity opened it.
        public let reason: String?
    }

    /// A document the member's keys opened at some point.
    public struct ReachableDocument: Sendable, Encodable {
        public let id: String
        public let caseID: String
        public let addedEvent: UInt64
        public let added: Date
        /// `during membership`, `before joining (prev chain)` or `after removal`.
        public let when: String
        /// Their keys open the document's current blob (nothing re-encrypted it since).
        public let currentContentOpens: Bool
        /// The `document.reencrypt` event that moved it beyond their keys, if any.
        public let reencryptedEvent: UInt64?
        /// A blob their keys open is still in this vault's blob folder (before `clean`).
        public let openableBlobStillHere: Bool
        public let caseReference: String?
        public let title: String?
    }

    /// A custody record: a document this member exported through evault.
    public struct Export: Sendable, Encodable {
        public let event: UInt64
        public let time: Date
        public let documentID: String
        public let caseID: String
    }

    public struct GroupExposure: Sendable, Encodable {
        public let groupID: String
        public let groupName: String
        public let intervals: [Interval]
        /// The newest epoch sealed to them (0: none, an auditor); through the prev chain every earlier one too.
        public let highestEpoch: UInt32
        /// Epochs they confirmed (`epoch.confirm`).
        public let confirmedEpochs: [UInt32]
        /// Case-key generations their keys open.
        public let generations: Int
        public let documents: [ReachableDocument]
        /// Documents added after their last removal: none opens with their keys (replay enforces it).
        public let addedAfterRemoval: Int
    }

    public struct Authored: Sendable, Encodable {
        public var cases = 0
        public var documents = 0
        public var membersAdded = 0
        public var membersRemoved = 0
        public var rotations = 0
        public var reencryptions = 0
    }

    public let member: String
    public let name: String
    public let fingerprint: String
    public let groups: [GroupExposure]
    public let exports: [Export]
    public let authored: Authored
    /// What rotation cannot undo.
    public let limits: [String]
}

extension Vault {
    /// The exposure report of `memberText` (a name, fingerprint or prefix of at
    /// least 8 characters among every identity this vault admitted), optionally
    /// limited to one group. With `reader`, case references and titles are added
    /// where the reader's keys open them.
    public func exposure(of memberText: String, group groupName: String? = nil, reader: UnlockedIdentity? = nil) throws -> ExposureReport {
        let pin = try knownVaults?.pin(for: folder)
        var trace = ExposureTrace()
        let state = try databaseAccess {
            try database.read { db in
                try Self.replay(db, onto: LedgerState()) { try trace.record($0, after: $1) }
            }
        }
        try anchor(state, pin: pin)
        if let reader {
            try requireTrustedByIdentity(state, actor: reader)
            try requireKeptHead(in: state, for: reader)
        }
        let fingerprint = try state.resolveMember(memberText, among: Array(state.identities.keys), what: "identity of this vault")
        let onlyGroup = try groupName.map { try state.requireGroup(named: $0).id }
        let keys = reader.map { keyRing(for: $0, state: state) }
        let present = Set(((try? blobs.entries()) ?? []).map(\.name))
        func name(_ fingerprint: Fingerprint) -> String { state.displayName(of: fingerprint) }
        func date(_ time: UInt64) -> Date { Date(timeIntervalSince1970: TimeInterval(time)) }

        var groups: [ExposureReport.GroupExposure] = []
        for group in state.groups.values.sorted(by: { $0.sequence < $1.sequence }) where onlyGroup == nil || group.id == onlyGroup {
            let spans = trace.intervals[group.id]?[fingerprint] ?? []
            guard !spans.isEmpty else { continue }
            let highest = spans.map(\.epochHeld).max() ?? 0
            var documents: [ExposureReport.ReachableDocument] = []
            var afterRemoval = 0
            for theCase in try state.cases(inGroup: group.id) {
                let readable = keys.map { $0.canRead(theCase) } ?? false
                let reference = readable ? try? keys?.caseText(theCase, field: "reference", to: "read cases") : nil
                for document in try state.documents(of: theCase) {
                    let records = trace.records[document.documentID] ?? []
                    let when: String
                    if spans.contains(where: { document.sequence > $0.added && document.sequence < ($0.removed ?? .max) }) {
                        when = "during membership"
                    } else if document.sequence < spans[0].added {
                        when = "before joining (prev chain)"
                    } else {
                        when = "after removal"
                    }
                    let opening = records.filter { $0.epoch <= highest && highest > 0 }
                    if when == "after removal" && opening.isEmpty { afterRemoval += 1; continue }
                    guard !opening.isEmpty else { continue }
                    let current = records.last
                    let currentOpens = current.map { $0.epoch <= highest } ?? false
                    let movedBeyond = records.first { $0.epoch > highest && $0.sequence > (opening.last?.sequence ?? 0) }
                    let title = readable ? (try? keys?.documentKeyAndMetadata(document, to: "read documents"))?.1.title : nil
                    documents.append(.init(id: document.documentID.hex, caseID: theCase.id.hex, addedEvent: document.sequence, added: date(document.time),
                                           when: when, currentContentOpens: currentOpens, reencryptedEvent: movedBeyond?.sequence,
                                           openableBlobStillHere: opening.contains { present.contains($0.blob) },
                                           caseReference: reference, title: title))
                }
            }
            let generations = try state.cases(inGroup: group.id)
                .reduce(0) { $0 + $1.generations.filter { highest > 0 && $0.epoch <= highest }.count }
            groups.append(.init(
                groupID: group.id.hex, groupName: group.name,
                intervals: spans.map { span in
                    var reason: String?
                    if let keys, let removed = span.removed, let epoch = span.reasonEpoch {
                        reason = try? keys.reason(at: removed, group: group, epoch: epoch, typeCode: 7, member: fingerprint)
                    }
                    return .init(role: span.role.description, addedEvent: span.added, added: date(span.addedTime), addedBy: name(span.addedBy),
                                 removedEvent: span.removed, removed: span.removedTime.map(date), removedBy: span.removedBy.map(name),
                                 reason: reason)
                },
                highestEpoch: highest,
                confirmedEpochs: group.epochs.filter { $0.confirmedBy.contains(fingerprint) }.map(\.number),
                generations: generations, documents: documents, addedAfterRemoval: afterRemoval))
        }
        let firstRemoval = groups.flatMap(\.intervals).compactMap(\.removedEvent).min()
        return ExposureReport(
            member: fingerprint.hex, name: name(fingerprint), fingerprint: fingerprint.readable, groups: groups,
            exports: (trace.exports[fingerprint] ?? []).filter { onlyGroup == nil || $0.group == onlyGroup }.map {
                .init(event: $0.sequence, time: date($0.time), documentID: $0.document.hex, caseID: $0.theCase.hex)
            },
            authored: trace.authored[fingerprint] ?? .init(),
            limits: [
                "Rotation prevents reading of documents added after \(firstRemoval.map { "ledger event \($0)" } ?? "a removal"); it cannot revoke keys, blobs or plaintext obtained before.",
                "Exports are counted only when made through evault; a member who decrypted with the keys outside evault left no trace.",
                "Case references, titles and metadata sealed before the removal stay readable to them in the append-only ledger; 'evault reencrypt' and 'evault clean' remove only old content from this vault, not copies in backups, other offices or files they kept.",
            ])
    }
}

/// What the exposure report needs beyond the replayed state: membership
/// intervals with times, every key record of each document, exports and authorship.
struct ExposureTrace {
    struct Span {
        let role: Role
        let added: UInt64
        let addedTime: UInt64
        let addedBy: Fingerprint
        var removed: UInt64?
        var removedTime: UInt64?
        var removedBy: Fingerprint?
        var epochHeld: UInt32
        /// The epoch the removal's reason is sealed under.
        var reasonEpoch: UInt32? = nil
    }
    /// A key record of a document: the epoch its generation was made under, and its blob.
    struct KeyRecord {
        let sequence: UInt64
        let epoch: UInt32
        let blob: String
    }
    struct ExportRecord {
        let sequence: UInt64
        let time: UInt64
        let document: ObjectID
        let theCase: ObjectID
        let group: ObjectID
    }
    var intervals: [ObjectID: [Fingerprint: [Span]]] = [:]
    var records: [ObjectID: [KeyRecord]] = [:]
    var exports: [Fingerprint: [ExportRecord]] = [:]
    var authored: [Fingerprint: ExposureReport.Authored] = [:]

    mutating func record(_ event: Event, after: LedgerState) throws {
        let actor = event.actor
        func epochOf(_ caseID: ObjectID, generation: UInt32) throws -> UInt32 { try after.lookupCase(caseID)?.generation(generation)?.epoch ?? 0 }
        func refreshEpochs(_ groupID: ObjectID) {
            guard let group = after.groups[groupID] else { return }
            for (fingerprint, member) in group.members {
                if var spans = intervals[groupID]?[fingerprint], var last = spans.popLast(), last.removed == nil {
                    last.epochHeld = member.role.canRead ? member.epoch : 0
                    spans.append(last)
                    intervals[groupID]?[fingerprint] = spans
                }
            }
        }
        switch event.body {
        case .groupCreated(let groupID, _, let epoch, _, _):
            intervals[groupID, default: [:]][actor, default: []].append(
                Span(role: .custodian, added: event.sequence, addedTime: event.time, addedBy: actor, epochHeld: epoch))
        case .memberAdded(let groupID, let member, let role, let epoch, _):
            intervals[groupID, default: [:]][member.fingerprint, default: []].append(
                Span(role: role, added: event.sequence, addedTime: event.time, addedBy: actor, epochHeld: role.canRead ? epoch : 0))
            authored[actor, default: .init()].membersAdded += 1
        case .caseCreated:
            authored[actor, default: .init()].cases += 1
        case .documentAdded(let record):
            records[record.documentID, default: []].append(
                KeyRecord(sequence: event.sequence, epoch: try epochOf(record.caseID, generation: record.generation), blob: Hex.encode(record.blobHash)))
            authored[actor, default: .init()].documents += 1
        case .documentReencrypted(let record):
            records[record.documentID, default: []].append(
                KeyRecord(sequence: event.sequence, epoch: try epochOf(record.caseID, generation: record.generation), blob: Hex.encode(record.blobHash)))
            authored[actor, default: .init()].reencryptions += 1
        case .documentExported(let documentID, let caseID):
            exports[actor, default: []].append(ExportRecord(sequence: event.sequence, time: event.time, document: documentID, theCase: caseID,
                                                            group: try after.lookupCase(caseID)?.groupID ?? caseID))
        case .memberRemoved(let groupID, let member, _, let rotation):
            if var spans = intervals[groupID]?[member], var last = spans.popLast() {
                last.removed = event.sequence
                last.removedTime = event.time
                last.removedBy = actor
                last.reasonEpoch = rotation?.epoch ?? after.groups[groupID]?.epoch
                spans.append(last)
                intervals[groupID]?[member] = spans
            }
            authored[actor, default: .init()].membersRemoved += 1
            if rotation != nil { authored[actor, default: .init()].rotations += 1; refreshEpochs(groupID) }
        case .epochRotated(let groupID, _, _):
            authored[actor, default: .init()].rotations += 1
            refreshEpochs(groupID)
        case .genesis, .caseRekeyed, .epochConfirmed:
            break
        }
    }
}
