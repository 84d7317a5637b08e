import Foundation
import VaultCrypto

/// What `group remove` and `group rotate` report.
public struct RotationSummary: Sendable {
    /// The group after the event.
    public let group: GroupSummary
    /// The removed member (nil for a rotation without removal).
    public let removed: Fingerprint?
    public let removedName: String?
    /// The epoch before the event and after it (equal when an auditor was removed).
    public let previousEpoch: UInt32
    public let epoch: UInt32
    /// The event's sequence number.
    public let sequence: UInt64
}

extension Vault {
    /// Longest `--reason` text, in UTF-8 bytes.
    public static let maxReasonLength = 1024

    /// Removes a member from a group (custodians only). Removing a lawyer or
    /// custodian rotates the group in the same signed event: a new epoch key is
    /// sealed to exactly the remaining readers, carrying the previous one (the
    /// prev chain); removing an auditor, who holds no key, rotates nothing. The
    /// last custodian cannot be removed. `reason` is sealed for the group's readers.
    @discardableResult
    public func removeMember(_ memberText: String, fromGroup groupName: String, reason: String = "",
                             as actor: UnlockedIdentity) throws -> RotationSummary {
        try Self.checkReason(reason)
        var removed: Fingerprint?
        var previousEpoch: UInt32 = 0
        let (event, state) = try append(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            try state.requireCustodian(actor, of: group, to: "remove members")
            let fingerprint: Fingerprint
            do {
                fingerprint = try state.resolveMember(memberText, among: Array(group.members.keys), what: "member of group \(group.name)")
            } catch let error as VaultError where error.kind == .notFound {
                let removed = group.removals.map(\.member)
                guard let gone = try? state.resolveMember(memberText, among: removed, what: "former member"),
                      let removal = group.removals.last(where: { $0.member == gone }) else { throw error }
                throw VaultError(.notFound, "\(state.displayName(of: gone)) (\(gone.readable)) was already removed from \(group.name) in ledger event \(removal.sequence)")
            }
            guard let member = group.members[fingerprint] else { throw VaultError(.notFound, "not a member") }
            if member.role == .custodian, !group.members.values.contains(where: { $0.role == .custodian && $0.identity.fingerprint != fingerprint }) {
                throw VaultError(.notPermitted, "\(state.displayName(of: fingerprint)) is the last custodian of group \(group.name) and cannot be removed",
                                 hint: "admit another custodian first")
            }
            removed = fingerprint
            previousEpoch = group.epoch
            let keys = keyRing(for: actor, state: state)
            guard member.role.canRead else {
                let key = try keys.epochKey(in: group, to: "remove members")
                return .memberRemoved(groupID: group.id, member: fingerprint,
                                      sealedReason: try KeyWrap.sealReason(reason, epochKey: key, groupID: group.id, epoch: group.epoch,
                                                                           typeCode: 7, member: fingerprint),
                                      rotation: nil)
            }
            let (rotation, next) = try makeRotation(of: group, readers: group.readers.filter { $0 != fingerprint }, keys: keys, state: state)
            return .memberRemoved(groupID: group.id, member: fingerprint,
                                  sealedReason: try KeyWrap.sealReason(reason, epochKey: next, groupID: group.id, epoch: rotation.epoch,
                                                                       typeCode: 7, member: fingerprint),
                                  rotation: rotation)
        }
        let group = try state.requireGroup(named: groupName)
        logger.info("member removed", metadata: ["group": "\(group.id.hex)", "epoch": "\(group.epoch)"])
        return RotationSummary(group: try summary(of: group, in: state), removed: removed, removedName: removed.map { state.displayName(of: $0) },
                               previousEpoch: previousEpoch, epoch: group.epoch, sequence: event.sequence)
    }

    /// Moves a group to a new epoch with the same members (custodians only):
    /// after a suspected compromise, a stolen laptop, or on a schedule.
    @discardableResult
    public func rotateGroup(_ groupName: String, reason: String = "", as actor: UnlockedIdentity) throws -> RotationSummary {
        try Self.checkReason(reason)
        var previousEpoch: UInt32 = 0
        let (event, state) = try append(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            try state.requireCustodian(actor, of: group, to: "rotate its key")
            previousEpoch = group.epoch
            let (rotation, next) = try makeRotation(of: group, readers: group.readers, keys: keyRing(for: actor, state: state), state: state)
            return .epochRotated(groupID: group.id,
                                 sealedReason: try KeyWrap.sealReason(reason, epochKey: next, groupID: group.id, epoch: rotation.epoch,
                                                                      typeCode: 8, member: nil),
                                 rotation: rotation)
        }
        let group = try state.requireGroup(named: groupName)
        logger.info("group rotated", metadata: ["group": "\(group.id.hex)", "epoch": "\(group.epoch)"])
        return RotationSummary(group: try summary(of: group, in: state), removed: nil, removedName: nil, previousEpoch: previousEpoch,
                               epoch: group.epoch, sequence: event.sequence)
    }

    private static func checkReason(_ reason: String) throws {
        guard reason.utf8.count <= maxReasonLength else { throw VaultError(.invalidInput, "a reason is at most \(maxReasonLength) bytes") }
        try TextRules.requirePrintable(reason, what: "the reason")
    }

    /// A new epoch key for `readers`: the current key is opened (and checked
    /// against its commitment) by the custodian's own client before anything is
    /// sealed; the new key is committed to, chained to the current commitment,
    /// carries the current key (prev chain), and is sealed to each reader.
    /// Costs follow the number of readers, never the number of cases or documents.
    func makeRotation(of group: LedgerState.Group, readers: [Fingerprint], keys: KeyRing, state: LedgerState) throws -> (Rotation, GroupEpochKey) {
        let current = try keys.epochKey(in: group, to: "rotate its key")
        let next = try GroupEpochKey.random()
        let epoch = group.epoch + 1
        let seals = try readers.sorted().map { fingerprint -> Rotation.Seal in
            guard let member = group.members[fingerprint] else { throw VaultError(.integrity, "reader \(fingerprint.readable) is not a member") }
            return Rotation.Seal(member: fingerprint,
                                 wrap: try KeyWrap.sealEpochKey(next, groupID: group.id, epoch: epoch, to: member.identity.encryptionKey))
        }
        let rotation = Rotation(epoch: epoch, commitment: try keys.commitment(forNext: next, of: group),
                                previousKeyWrap: try KeyWrap.wrapPreviousKey(current, under: next, groupID: group.id, previousEpoch: group.epoch),
                                seals: seals)
        return (rotation, next)
    }

    /// Signs `epoch.confirm` for the actor's current epoch of a group, after
    /// opening the key sealed to them and checking it against the commitment
    /// (which `epochKey` does): auditors then see who confirmed each epoch.
    @discardableResult
    public func confirmEpoch(ofGroup groupName: String, as actor: UnlockedIdentity) throws -> UInt32 {
        var confirmed: UInt32 = 0
        try append(as: actor) { state in
            let group = try state.requireGroup(named: groupName)
            let member = try state.requireReader(actor, of: group, to: "confirm its key")
            _ = try keyRing(for: actor, state: state).epochKey(in: group, epoch: member.epoch, to: "confirm its key")
            guard let commitment = group.epochs[Int(member.epoch) - 1].commitment else {
                throw VaultError(.invalidInput, "epoch \(member.epoch) of group \(group.name) was made by evault version 1 and has no commitment to confirm; rotate the group first")
            }
            guard !group.epochs[Int(member.epoch) - 1].confirmedBy.contains(actor.fingerprint) else {
                throw VaultError(.alreadyExists, "you already confirmed epoch \(member.epoch) of group \(group.name)")
            }
            confirmed = member.epoch
            return .epochConfirmed(groupID: group.id, epoch: member.epoch, commitment: commitment)
        }
        return confirmed
    }
}
