import Foundation
import VaultCrypto

/// One ledger event in human form: nothing secret (sealed fields are not shown).
public struct LogEntry: Sendable {
    public let sequence: UInt64
    public let time: Date
    /// The actor's one display name in this vault (`LedgerState.displayName`).
    public let actorName: String
    public let actor: Fingerprint
    public let action: String
    /// Object identifiers the event names, by kind (`group`, `case`, `document`, `member`, `vault`).
    public let objects: [(kind: String, id: String)]
    public let hash: [UInt8]
    /// Why this event's time deserves a look, if it does (`EventTimes`).
    public let timeFlag: String?
    /// Names of the objects above, by id, where the reader may know them:
    /// group names and member display names (public in the ledger), and case
    /// references the reader's keys open (`Vault.log(_:as:)`; empty otherwise).
    public var names: [String: String] = [:]
}

/// Which events `evault log` shows; every condition given must hold
/// (Docs/CLI.md, "evault log").
public struct LogFilter: Sendable {
    /// Events that name this case (id, id prefix, or with an identity its reference).
    public var caseText: String?
    /// Events that name this document (id or id prefix): its add, exports, re-encryptions.
    public var documentText: String?
    /// Events signed by this member (name, fingerprint or prefix, as `exposure` takes them).
    public var actorText: String?
    /// Events of this action (`LogFilter.actions`).
    public var action: String?
    /// Events signed at or after this time (the signer's own clock).
    public var since: Date?
    /// Events signed before this time.
    public var until: Date?

    public init(caseText: String? = nil, documentText: String? = nil, actorText: String? = nil, action: String? = nil,
                since: Date? = nil, until: Date? = nil) {
        (self.caseText, self.documentText, self.actorText, self.action, self.since, self.until) = (caseText, documentText, actorText, action, since, until)
    }

    /// Every action an event can have, in type order.
    public static let actions: [String] = EventBody.actionNames.sorted { $0.key < $1.key }.map(\.value)

    /// The test each entry must pass, with the texts resolved against `state`.
    func matcher(in state: LedgerState) throws -> (LogEntry) -> Bool {
        if let action, !Self.actions.contains(action) {
            throw VaultError(.invalidInput, "no action \(action)", hint: "give one of \(Self.actions.joined(separator: ", "))")
        }
        if let since, let until, since >= until {
            throw VaultError(.invalidInput, "--since \(since.iso8601Text) is not before --until \(until.iso8601Text)")
        }
        let actor = try actorText.map { try state.resolveMember($0, among: Array(state.identities.keys), what: "identity of this vault") }
        let document = try documentText.map { try state.resolveDocument(Vault.lookupForm($0)).documentID.hex }
        let (action, since, until) = (action, since, until)
        return { entry in
            (actor.map { entry.actor == $0 } ?? true)
                && (document.map { id in entry.objects.contains { $0.kind == "document" && $0.id == id } } ?? true)
                && (action.map { entry.action == $0 } ?? true)
                && (since.map { entry.time >= $0 } ?? true)
                && (until.map { entry.time < $0 } ?? true)
        }
    }
}

extension Date {
    /// ISO 8601 in UTC, to the second.
    var iso8601Text: String { ISO8601DateFormatter().string(from: self) }
}

extension Vault {
    /// The verified ledger in order; fails closed if any event does not verify.
    /// It reads the ledger once, with a cursor, checking every signature (on
    /// both cores), then the head this machine remembers (`KnownVaults`).
    /// With `actor`, a ledger that does not hold the head `actor`'s kept state proves is refused.
    public func log(as actor: UnlockedIdentity? = nil, now: Date = Date()) throws -> [LogEntry] {
        try fullLog(as: actor, now: now).entries
    }

    /// The events `filter` selects, in order, with the names of the objects
    /// they name where the reader may know them (`LogEntry.names`). With a case,
    /// as `log(case:as:)`; otherwise as `log(as:)`.
    public func log(_ filter: LogFilter, as actor: UnlockedIdentity?, now: Date = Date()) throws -> [LogEntry] {
        func selected(_ entries: [LogEntry], _ state: LedgerState) throws -> [LogEntry] {
            let matches = try filter.matcher(in: state)
            let keys = actor.map { keyRing(for: $0, state: state) }
            var references: [String: String?] = [:]
            return try entries.filter(matches).map { entry in
                var named = entry
                for object in entry.objects {
                    switch object.kind {
                    case "group":
                        if let id = ObjectID(hex: object.id), let name = state.groups[id]?.name { named.names[object.id] = name }
                    case "member":
                        if let fingerprint = try? Fingerprint(rawValue: Hex.decode(object.id) ?? []) { named.names[object.id] = state.displayName(of: fingerprint) }
                    case "case":
                        guard let keys else { continue }
                        if references[object.id] == nil {
                            references[object.id] = try ObjectID(hex: object.id).flatMap { try state.lookupCase($0) }
                                .flatMap { theCase in keys.canRead(theCase) ? try? keys.caseTexts(theCase, to: "read cases").reference : nil }
                        }
                        if let reference = references[object.id] ?? nil { named.names[object.id] = reference }
                    default:
                        continue
                    }
                }
                return named
            }
        }
        guard let caseText = filter.caseText else {
            let (entries, state) = try fullLog(as: actor, now: now)
            return try selected(entries, state)
        }
        guard let actor else {
            let theCase = try replay().resolveCase(caseText, keys: nil)
            let (entries, state) = try fullLog(as: nil, now: now)
            return try selected(entries.filter { entry in entry.objects.contains { $0.kind == "case" && $0.id == theCase.id.hex } }, state)
        }
        return try withVerifiedState(for: actor) { state in try selected(try caseEntries(caseText, as: actor, state: state, now: now), state) }
    }

    /// The whole verified ledger in human form, and the state it replayed to.
    private func fullLog(as actor: UnlockedIdentity?, now: Date) throws -> (entries: [LogEntry], state: LedgerState) {
        let pin = try knownVaults?.pin(for: folder)
        var clock = EventTimes(now: now)
        // Only what the log shows is kept, never an event's sealed bytes.
        var pending: [(sequence: UInt64, time: UInt64, actor: Fingerprint, action: String, objects: [(String, String)],
                       hash: [UInt8], flag: String?)] = []
        // Every signature is checked (on both cores): what this machine remembers is not authenticated.
        let state = try databaseAccess {
            try database.read { db in
                try Self.replay(db, onto: LedgerState()) { event, _ in
                    pending.append((event.sequence, event.time, event.actor, event.body.action, Self.objects(of: event.body),
                                    event.hash, clock.flag(event)))
                }
            }
        }
        // The custody view of a swapped, cut or untrusted vault must not look complete.
        try anchor(state, pin: pin)
        if let actor {
            try requireTrustedByIdentity(state, actor: actor)
            try requireKeptHead(in: state, for: actor)
        }
        return (pending.map { item in
            LogEntry(sequence: item.sequence, time: Date(timeIntervalSince1970: TimeInterval(item.time)),
                     actorName: state.displayName(of: item.actor), actor: item.actor,
                     action: item.action, objects: item.objects, hash: item.hash, timeFlag: item.flag)
        }, state)
    }

    /// The events that name one case (its creation and rekeys, its documents'
    /// adds, exports and re-encryptions), in order. With `actor`, from the state
    /// it verified and kept: only the case's events are read from the ledger,
    /// each checked against its verified hash. Without, the whole log is
    /// replayed and filtered (the case then given by id or id prefix). Times are
    /// flagged against the case's previous event and the genesis (`EventTimes`).
    public func log(case caseText: String, as actor: UnlockedIdentity?, now: Date = Date()) throws -> [LogEntry] {
        guard let actor else {
            let theCase = try replay().resolveCase(caseText, keys: nil)
            return try log(now: now).filter { entry in entry.objects.contains { $0.kind == "case" && $0.id == theCase.id.hex } }
        }
        return try withVerifiedState(for: actor) { state in try caseEntries(caseText, as: actor, state: state, now: now) }
    }

    /// The events of one case, read from `state` (the actor's kept state).
    private func caseEntries(_ caseText: String, as actor: UnlockedIdentity, state: LedgerState, now: Date) throws -> [LogEntry] {
        let theCase = try state.resolveCase(caseText, keys: keyRing(for: actor, state: state))
        let fields = sealedFields(state)
        var clock = EventTimes(now: now)
        _ = clock.flag(try fields.event(at: 0))
        return try state.events(inCase: theCase.id).map { sequence in
            let event = try fields.event(at: sequence)
            return LogEntry(sequence: event.sequence, time: Date(timeIntervalSince1970: TimeInterval(event.time)),
                            actorName: state.displayName(of: event.actor), actor: event.actor, action: event.body.action,
                            objects: Self.objects(of: event.body), hash: event.hash, timeFlag: clock.flag(event))
        }
    }

    static func objects(of body: EventBody) -> [(String, String)] {
        switch body {
        case .genesis(let vaultID, _): return [("vault", vaultID.hex)]
        case .groupCreated(let groupID, _, let epoch, _, _): return [("group", groupID.hex), ("epoch", "\(epoch)")]
        case .memberAdded(let groupID, let member, let role, _, _):
            return [("group", groupID.hex), ("member", member.fingerprint.hex), ("role", role.description)]
        case .caseCreated(let caseID, let groupID, _, _, _, _, _, _): return [("case", caseID.hex), ("group", groupID.hex)]
        case .documentAdded(let record): return [("document", record.documentID.hex), ("case", record.caseID.hex)]
        case .documentExported(let documentID, let caseID): return [("document", documentID.hex), ("case", caseID.hex)]
        case .memberRemoved(let groupID, let member, _, let rotation):
            return [("group", groupID.hex), ("member", member.hex)] + (rotation.map { [("epoch", "\($0.epoch)")] } ?? [])
        case .epochRotated(let groupID, _, let rotation): return [("group", groupID.hex), ("epoch", "\(rotation.epoch)")]
        case .caseRekeyed(let caseID, _, let epoch, let generation, _, _):
            return [("case", caseID.hex), ("generation", "\(generation)"), ("epoch", "\(epoch)")]
        case .documentReencrypted(let record):
            return [("document", record.documentID.hex), ("case", record.caseID.hex), ("generation", "\(record.generation)"),
                    ("supersedes", Hex.encode(record.oldBlobHash))]
        case .epochConfirmed(let groupID, let epoch, _): return [("group", groupID.hex), ("epoch", "\(epoch)")]
        }
    }
}
