import Foundation
import GRDB
import Testing
@testable import EvidenceVault
import VaultCrypto

/// Removal, rotation, committed keys, re-encryption and exposure (THREATS.md 55-60).
@Suite("Rotation and revocation (THREATS.md 55-60)")
struct RotationTests {
    /// Every epoch key `identity` can reach from every wrap ever sealed to it in `group`, through the prev chain.
    func everyKeyHeld(by identity: UnlockedIdentity, in groupID: ObjectID, env: TestVault) throws -> [UInt32: GroupEpochKey] {
        let state = try env.vault.replay()
        let group = try #require(state.groups[groupID])
        let fields = env.vault.sealedFields(state)
        var keys: [UInt32: GroupEpochKey] = [:]
        for sequence in 0..<state.count {
            var wraps: [(UInt32, [UInt8])] = []
            switch try fields.event(at: sequence).body {
            case .groupCreated(let id, _, let epoch, let wrap, _) where id == groupID: wraps.append((epoch, wrap))
            case .memberAdded(let id, let member, _, let epoch, let wrap) where id == groupID && member.fingerprint == identity.fingerprint:
                wraps.append((epoch, wrap))
            case .memberRemoved(let id, _, _, .some(let rotation)) where id == groupID,
                 .epochRotated(let id, _, let rotation) where id == groupID:
                wraps += rotation.seals.filter { $0.member == identity.fingerprint }.map { (rotation.epoch, $0.wrap) }
            default: break
            }
            for (epoch, wrap) in wraps {
                guard let key = try? KeyWrap.openEpochKey(wrap, groupID: groupID, epoch: epoch, with: identity) else { continue }
                keys[epoch] = key
                var current = key, number = epoch
                while number > 1, let previous = group.epochs[Int(number) - 1].previousKeyWrap,
                      let older = try? KeyWrap.unwrapPreviousKey(previous, under: current, groupID: groupID, previousEpoch: number - 1) {
                    keys[number - 1] = older
                    current = older
                    number -= 1
                }
            }
        }
        return keys
    }

    @Test("B15: nothing added after a removal opens with any key the removed lawyer ever held; a later member reads epoch 1")
    func removedLawyerLosesTheFuture() throws {
        let env = try TestVault()
        let before = try env.add(sampleBytes(5000, seed: 1))
        let removal = try env.vault.removeMember("second-lawyer", fromGroup: "wg", reason: "left the NGO", as: env.custodian)
        #expect(removal.previousEpoch == 1 && removal.epoch == 2)
        try env.vault.rotateGroup("wg", as: env.custodian)
        let after = try env.add(sampleBytes(7000, seed: 2))
        let secondCase = try env.vault.createCase(inGroup: "wg", reference: "CASE-2", as: env.lawyer)
        let path = env.folder.file("late.bin")
        try Data(sampleBytes(300, seed: 3)).write(to: URL(fileURLWithPath: path))
        let late = try env.vault.addDocuments([NewDocument(path: path, kind: .photo)], toCase: secondCase.id.hex, as: env.lawyer)[0]

        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let held = try everyKeyHeld(by: env.secondLawyer, in: group.id, env: env)
        #expect(Set(held.keys) == [1], "the removed lawyer holds exactly epoch 1")
        let fields = env.vault.sealedFields(state)
        // Every case generation made after the removal, under every key they held: nothing opens.
        var tried = 0
        for theCase in try state.allCases() where theCase.groupID == group.id {
            for generation in theCase.generations where generation.sequence > removal.sequence {
                let wrapped = try fields.wrappedKey(of: theCase, generation: generation)
                for key in held.values {
                    tried += 1
                    #expect(throws: (any Error).self) {
                        _ = try KeyWrap.unwrapCaseKey(wrapped, under: key, groupID: group.id, caseID: theCase.id,
                                                      generation: generation.number, epoch: generation.epoch)
                    }
                }
            }
        }
        #expect(tried >= 2)
        // And the documents added after it are under those generations only.
        for document in [after, late] {
            let recorded = try #require(state.documents[document.id])
            let generation = try #require(try state.lookupCase(recorded.caseID)?.generation(recorded.generation))
            #expect(generation.epoch == 3 && generation.sequence > removal.sequence)
        }
        expectVaultError(.notPermitted, "not a member") { _ = try env.export(after.id, as: env.secondLawyer) }
        expectVaultError(.notPermitted, "not a member") { _ = try env.add(sampleBytes(10), as: env.secondLawyer) }
        // A member admitted at epoch 3 reads the epoch-1 document through the prev chain.
        let newcomer = try UnlockedIdentity.generate(name: "newcomer")
        try env.vault.addMember(newcomer.publicIdentity, role: .lawyer, toGroup: "wg", as: env.custodian)
        #expect(try env.export(before.id, as: newcomer) == sampleBytes(5000, seed: 1))
        #expect(try env.export(after.id, as: newcomer) == sampleBytes(7000, seed: 2))
        #expect(env.vault.verify(reader: newcomer).findings.isEmpty)
    }

    @Test("B16: an older epoch, a removed member's later signature, a removal without rotation and an unequal seal set are refused")
    func replayRules() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(50))
        try env.vault.removeMember("second-lawyer", fromGroup: "wg", as: env.custodian)
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let keys = env.vault.keyRing(for: env.custodian, state: state)
        // The removed lawyer signs: refused as a non-member, whatever the event.
        expectVaultError(.notPermitted, "not a lawyer or custodian") {
            try env.vault.append(as: env.secondLawyer) { _ in .documentExported(documentID: document.id, caseID: env.caseID) }
        }
        expectVaultError(.notPermitted) {
            try env.vault.append(as: env.secondLawyer) { _ in
                .caseCreated(caseID: try .random(), groupID: group.id, epoch: 2, generation: 1, wrappedKey: [1], sealedReference: [1],
                             sealedTitle: [1], commitment: try Random.bytes(32))
            }
        }
        // An older epoch replayed (a rotation to the current or an earlier epoch).
        let (good, _) = try env.vault.makeRotation(of: group, readers: group.readers, keys: keys, state: state)
        for epoch: UInt32 in [1, 2, 4] {
            let stale = Rotation(epoch: epoch, commitment: try Random.bytes(32), previousKeyWrap: good.previousKeyWrap, seals: good.seals)
            expectVaultError(.notPermitted, "an older or skipped epoch") {
                try env.vault.append(as: env.custodian) { _ in .epochRotated(groupID: group.id, sealedReason: [], rotation: stale) }
            }
        }
        // The very same rotation event body appended twice: the second is an older epoch.
        try env.vault.append(as: env.custodian) { _ in .epochRotated(groupID: group.id, sealedReason: [], rotation: good) }
        expectVaultError(.notPermitted, "older or skipped") {
            try env.vault.append(as: env.custodian) { _ in .epochRotated(groupID: group.id, sealedReason: [], rotation: good) }
        }
        let now = try env.vault.replay()
        let current = try now.requireGroup(named: "wg")
        let (next, _) = try env.vault.makeRotation(of: current, readers: current.readers, keys: env.vault.keyRing(for: env.custodian, state: now), state: now)
        // A reader's removal without rotation; an auditor's with one.
        expectVaultError(.notPermitted, "without a rotation") {
            try env.vault.append(as: env.custodian) { _ in .memberRemoved(groupID: group.id, member: env.lawyer.fingerprint, sealedReason: [], rotation: nil) }
        }
        expectVaultError(.notPermitted, "auditors hold no key") {
            try env.vault.append(as: env.custodian) { _ in .memberRemoved(groupID: group.id, member: env.auditor.fingerprint, sealedReason: [], rotation: next) }
        }
        // The seal set must equal the reader set: one missing, one extra, one twice.
        let missing = Rotation(epoch: next.epoch, commitment: next.commitment, previousKeyWrap: next.previousKeyWrap,
                               seals: next.seals.filter { $0.member != env.lawyer.fingerprint })
        let extra = Rotation(epoch: next.epoch, commitment: next.commitment, previousKeyWrap: next.previousKeyWrap,
                             seals: next.seals + [.init(member: env.auditor.fingerprint, wrap: next.seals[0].wrap)])
        let twice = Rotation(epoch: next.epoch, commitment: next.commitment, previousKeyWrap: next.previousKeyWrap,
                             seals: next.seals + [next.seals[0]])
        for (rotation, fragment) in [(missing, "not sealed to: lawyer"), (extra, "sealed to non-readers: auditor"), (twice, "twice")] {
            expectVaultError(.notPermitted, fragment) {
                try env.vault.append(as: env.custodian) { _ in .epochRotated(groupID: group.id, sealedReason: [], rotation: rotation) }
            }
        }
        // One commitment per key: a commitment seen before is refused.
        let reused = Rotation(epoch: next.epoch, commitment: good.commitment, previousKeyWrap: next.previousKeyWrap, seals: next.seals)
        expectVaultError(.notPermitted, "already recorded") {
            try env.vault.append(as: env.custodian) { _ in .epochRotated(groupID: group.id, sealedReason: [], rotation: reused) }
        }
        // A lawyer may not rotate; the last custodian may not be removed.
        expectVaultError(.notPermitted, "only custodians rotate") {
            try env.vault.append(as: env.lawyer) { _ in .epochRotated(groupID: group.id, sealedReason: [], rotation: next) }
        }
        expectVaultError(.notPermitted, "last custodian") { try env.vault.removeMember("custodian", fromGroup: "wg", as: env.custodian) }
        #expect(env.findings().isEmpty)
    }

    @Test("B16: a document under a stale generation after a rotation is refused; a version-1 event after version 2 is refused")
    func staleGenerationAndDowngrade() throws {
        let env = try TestVault()
        let first = try env.add(sampleBytes(100))
        try env.vault.rotateGroup("wg", as: env.custodian)
        let state = try env.vault.replay()
        let stale = try #require(state.documents[first.id])
        let record = try env.vault.sealedFields(state).record(of: stale)
        expectVaultError(.notPermitted, "stale generation") {
            try env.vault.append(as: env.lawyer) { _ in
                .documentAdded(DocumentRecord(documentID: try .random(), caseID: env.caseID, version: 1, generation: 1, wrappedKey: record.wrappedKey,
                                              blobHash: try Random.bytes(32), blobSize: record.blobSize, sealedMetadata: record.sealedMetadata))
            }
        }
        // The honest add makes generation 2 under epoch 2 first, in the same transaction.
        let second = try env.add(sampleBytes(200, seed: 9))
        let after = try env.vault.replay()
        let rekeyed = try after.lookupCase(env.caseID)
        #expect(rekeyed?.generation == 2 && rekeyed?.epoch == 2)
        #expect(after.documents[second.id]?.generation == 2)
        // A version-1 event signed now (no commitments) cannot follow version-2 events.
        let downgrade = try Event(version: 1, sequence: after.count, previousHash: after.headHash, time: 0, signer: env.lawyer,
                                  body: .documentExported(documentID: first.id, caseID: env.caseID))
        var replayed = after
        #expect(throws: LedgerViolation.self) { try replayed.apply(downgrade) }
        #expect(try env.export(first.id) == sampleBytes(100))
        #expect(try env.export(second.id) == sampleBytes(200, seed: 9))
    }

    @Test("a removed vault creator loses the right to create groups")
    func removedCreatorLosesVaultRights() throws {
        let env = try TestVault()
        let second = try UnlockedIdentity.generate(name: "second-custodian")
        try env.vault.addMember(second.publicIdentity, role: .custodian, toGroup: "wg", as: env.custodian)
        try env.vault.addMember(second.publicIdentity, role: .custodian, toGroup: "other", as: env.custodian)
        try env.vault.removeMember("custodian", fromGroup: "wg", as: second)
        try env.vault.removeMember(env.custodian.fingerprint.hex, fromGroup: "other", as: second)
        expectVaultError(.notPermitted, "may not create groups") { try env.vault.createGroup(named: "new", as: env.custodian) }
        try env.vault.createGroup(named: "new", as: second)
        #expect(env.findings().isEmpty)
    }

    @Test("a custodian who seals a different epoch key to one member is caught by that member before use, and verify --identity names it")
    func splitGroupIsCaught() throws {
        let env = try TestVault()
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let victim = try UnlockedIdentity.generate(name: "victim")
        let other = try GroupEpochKey.random()
        // The custodian's own client would refuse this; a modified one appends it.
        try env.vault.append(as: env.custodian) { _ in
            .memberAdded(groupID: group.id, member: victim.publicIdentity, role: .lawyer, epoch: 1,
                         wrap: try KeyWrap.sealEpochKey(other, groupID: group.id, epoch: 1, to: victim.publicIdentity.encryptionKey))
        }
        let document = try env.add(sampleBytes(100))
        expectVaultError(.integrity, "does not match the key committed to in ledger event", "victim") { _ = try env.export(document.id, as: victim) }
        expectVaultError(.integrity, "does not match the key committed") { _ = try env.add(sampleBytes(10), as: victim) }
        let findings = env.vault.verify(reader: victim).findings.map(\.description)
        #expect(findings.contains { $0.contains("group wg") && $0.contains("epoch 1") && $0.contains("victim") && $0.contains("committed") }, "\(findings)")
        #expect(env.vault.verify(reader: env.lawyer).findings.isEmpty)
        // In a rotation too: one seal holding another key.
        let now = try env.vault.replay()
        let current = try now.requireGroup(named: "wg")
        let (rotation, _) = try env.vault.makeRotation(of: current, readers: current.readers, keys: env.vault.keyRing(for: env.custodian, state: now), state: now)
        let forged = Rotation(epoch: rotation.epoch, commitment: rotation.commitment, previousKeyWrap: rotation.previousKeyWrap,
                              seals: rotation.seals.map { seal in
                                  seal.member == env.lawyer.fingerprint
                                      ? .init(member: seal.member, wrap: try! KeyWrap.sealEpochKey(other, groupID: current.id, epoch: 2, to: env.lawyer.publicIdentity.encryptionKey))
                                      : seal
                              })
        try env.vault.append(as: env.custodian) { _ in .epochRotated(groupID: current.id, sealedReason: [], rotation: forged) }
        expectVaultError(.integrity, "epoch 2 key of group wg", "does not match") { _ = try env.export(document.id, as: env.lawyer) }
        #expect(try env.export(document.id, as: env.secondLawyer) == sampleBytes(100))
    }

    @Test("a case wrap that opens to a key other than the one committed to is refused by every reader")
    func caseWrapCommitment() throws {
        let env = try TestVault()
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let epochKey = try env.vault.keyRing(for: env.lawyer, state: state).epochKey(in: group, to: "test")
        let caseID = try ObjectID.random(), real = try CaseKey.random(), claimed = try CaseKey.random()
        try env.vault.append(as: env.lawyer) { _ in
            .caseCreated(caseID: caseID, groupID: group.id, epoch: 1, generation: 1,
                         wrappedKey: try KeyWrap.wrapCaseKey(real, under: epochKey, groupID: group.id, caseID: caseID, generation: 1, epoch: 1),
                         sealedReference: try KeyWrap.sealField(Array("TWO-FACED".utf8), caseKey: real, caseID: caseID, objectID: caseID, version: 1, field: "reference"),
                         sealedTitle: try KeyWrap.sealField([], caseKey: real, caseID: caseID, objectID: caseID, version: 1, field: "title"),
                         commitment: try KeyCommitment.caseKey(claimed, groupID: group.id, caseID: caseID, generation: 1, epoch: 1, previous: KeyCommitment.none))
        }
        let listed = try env.vault.cases(as: env.secondLawyer).first { $0.id == caseID }
        #expect(listed?.reference == nil && listed?.problem?.contains("does not match the key committed to") == true)
        #expect(env.vault.verify(reader: env.lawyer).findings.contains { $0.description.contains("case \(caseID.hex)") && $0.description.contains("committed") })
    }

    /// What a malicious custodian would sign: a `document.reencrypt` of `document` whose blob holds
    /// `content`, with metadata of its own for that content, or (`keepingMetadata`) the original's.
    func forgeReencryption(_ env: TestVault, _ document: DocumentSummary, content: [UInt8], keepingMetadata: Bool) throws {
        let vault = env.vault
        _ = try vault.appendEvents(as: env.custodian) { state in
            let current = try #require(try state.document(document.id))
            let theCase = try #require(try state.lookupCase(current.caseID))
            let keys = vault.keyRing(for: env.custodian, state: state)
            let (_, original, record) = try keys.documentKeyAndMetadata(current, to: "forge")
            let salt = try SecureBytes.random(count: 32).unprotectedCopy()
            let metadata = keepingMetadata ? original : DocumentMetadata(
                fileName: original.fileName, title: original.title, kind: original.kind, tags: original.tags, size: UInt64(content.count),
                commitmentSalt: salt, plaintextCommitment: DocumentMetadata.commitment(salt: salt, plaintextSHA256: SHA256Stream.hash(content)))
            let newKey = try DocumentKey.random()
            let sink = try BlobEncryptingSink(documentID: current.documentID, version: current.version, key: newKey,
                                              plaintextSize: UInt64(content.count), store: vault.blobs)
            try content.withUnsafeBytes { try sink.write($0) }
            let blob = try sink.finish()
            let (caseKey, generation, rekey) = try vault.currentCaseKey(theCase, keys: keys)
            return (rekey.map { [$0] } ?? []) + [.documentReencrypted(Reencryption(
                documentID: current.documentID, caseID: theCase.id, generation: generation,
                wrappedKey: try KeyWrap.wrapDocumentKey(newKey, under: caseKey, caseID: theCase.id, documentID: current.documentID,
                                                        version: current.version, generation: generation),
                oldBlobHash: record.blobHash, blobHash: blob.hash, blobSize: blob.size,
                sealedMetadata: try KeyWrap.sealField(metadata.encoded(), caseKey: caseKey, caseID: theCase.id, objectID: current.documentID,
                                                      version: current.version, field: "metadata")))]
        }
    }

    @Test("R1: a custodian's re-encryption that replaces the content is refused: another size by every replay, the same size by every reader")
    func reencryptionMayNotChangeContent() throws {
        let testimony = Array("I saw officer X beat the prisoner in cell 4.\n".utf8)
        let forged = Array("I saw nothing. The prisoner fell down the stairs.".utf8.prefix(testimony.count - 1)) + [0x0A]
        #expect(testimony.count == forged.count)
        for keepingMetadata in [false, true] {
            let env = try TestVault()
            let document = try env.add(testimony, name: "statement.txt")
            try env.vault.rotateGroup("wg", as: env.custodian)  // routine; the document's key is now of an older epoch
            let before = try env.vault.replay().count
            expectVaultError(.notPermitted, "re-encryption may change only keys") {
                try forgeReencryption(env, document, content: forged + forged, keepingMetadata: false)
            }
            #expect(try env.vault.replay().count == before, "refused by the replay rules: nothing signed")
            // The same size: keyless replay cannot tell; every reader can.
            try forgeReencryption(env, document, content: forged, keepingMetadata: keepingMetadata)
            _ = try env.vault.removeOrphans(minimumAge: 0)  // the original blob goes, as `clean` would remove it
            let why = keepingMetadata ? "plaintext commitment" : "changed its plaintext commitment"
            expectVaultError(.integrity, why) { _ = try env.export(document.id, as: env.secondLawyer) }
            #expect(try env.folder.contents().allSatisfy { !$0.hasPrefix("export-") }, "no exported file is left")
            let findings = env.vault.verify(reader: env.lawyer).findings.map(\.description)
            #expect(findings.contains { $0.contains(document.id.hex) && $0.contains("plaintext commitment") }, "\(findings)")
            if !keepingMetadata {
                let shown = try env.vault.document(document.id.hex, as: env.lawyer)
                #expect(shown.metadata == nil && shown.problem?.contains("re-encryption") == true, "the forged metadata is not shown as the author's")
            }
        }
    }

    @Test("re-encryption: same plaintext, new key and blob, superseded blob removed by clean; re-running is a no-op")
    func reencryption() throws {
        let env = try TestVault()
        let documents = try (0..<3).map { try env.add(sampleBytes(70_000 + $0 * 1000, seed: UInt64($0)), name: "d\($0).bin") }
        try env.vault.removeMember("second-lawyer", fromGroup: "wg", as: env.custodian)
        expectVaultError(.notPermitted, "not a custodian") { _ = try env.vault.reencrypt(group: "wg", as: env.lawyer) }
        let summary = try env.vault.reencrypt(group: "wg", as: env.custodian)
        #expect(summary.reencrypted == 3 && summary.remaining == 0 && summary.superseded == 3)
        #expect(try env.vault.reencrypt(group: "wg", as: env.custodian).reencrypted == 0)
        let removed = try env.vault.removeOrphans()
        #expect(removed.count == 3)
        for (index, document) in documents.enumerated() {
            #expect(!FileManager.default.fileExists(atPath: env.blobPath(document)))
            #expect(try env.export(document.id) == sampleBytes(70_000 + index * 1000, seed: UInt64(index)))
        }
        // No key the removed lawyer held opens any document key now in the vault.
        let state = try env.vault.replay()
        let held = try everyKeyHeld(by: env.secondLawyer, in: try state.requireGroup(named: "wg").id, env: env)
        for document in documents {
            let current = try #require(state.documents[document.id])
            #expect(try state.lookupCase(current.caseID)?.generation(current.generation)?.epoch == 2)
            #expect(held.keys.allSatisfy { $0 < 2 })
        }
        let metadata = try documents.map { try env.vault.document($0.id.hex, as: env.lawyer).metadata?.plaintextCommitment }
        #expect(metadata == documents.map(\.metadata?.plaintextCommitment))
        #expect(env.findings().isEmpty)
        #expect(env.vault.verify(reader: env.lawyer).findings.isEmpty)
    }

    @Test("an add whose transaction starts after a rotation wraps its keys under the new generation")
    func addDuringRotation() throws {
        let env = try TestVault()
        _ = try env.add(sampleBytes(10))
        let other = try Vault.open(at: env.path)
        let path = env.folder.file("big.bin")
        try Data(sampleBytes(3 << 20)).write(to: URL(fileURLWithPath: path))
        nonisolated(unsafe) var rotated = false
        let added = try env.vault.addDocuments([NewDocument(path: path, kind: .video)], toCase: env.caseID.hex, as: env.lawyer) { _, _, _ in
            if !rotated { rotated = true; _ = try? other.rotateGroup("wg", as: env.custodian) }
        }[0]
        #expect(rotated)
        let state = try env.vault.replay()
        #expect(state.groups.values.first { $0.name == "wg" }?.epoch == 2)
        #expect(state.documents[added.id]?.generation == 2)
        #expect(try env.export(added.id) == sampleBytes(3 << 20))
        #expect(env.findings().isEmpty)
    }

    @Test("MEMBER resolution: exact names, fingerprints and 8-character prefixes; ambiguity lists candidates")
    func memberResolution() throws {
        let env = try TestVault()
        let state = try env.vault.replay()
        let members = Array(try state.requireGroup(named: "wg").members.keys)
        #expect(try state.resolveMember("lawyer", among: members, what: "member") == env.lawyer.fingerprint)
        #expect(try state.resolveMember(String(env.lawyer.fingerprint.hex.prefix(8)), among: members, what: "member") == env.lawyer.fingerprint)
        #expect(try state.resolveMember(String(env.lawyer.fingerprint.readable.prefix(9)), among: members, what: "member") == env.lawyer.fingerprint)
        expectVaultError(.notFound) { _ = try state.resolveMember(String(env.lawyer.fingerprint.hex.prefix(7)), among: members, what: "member") }
        expectVaultError(.notFound) { _ = try state.resolveMember("outsider", among: members, what: "member") }
        // A name that is also another member's fingerprint prefix is ambiguous, never silently one of them.
        let prefix = String(env.lawyer.fingerprint.hex.prefix(8))
        let trick = try UnlockedIdentity.generate(name: prefix.uppercased())
        // evault refuses to admit such a name (or one with brackets) ...
        expectVaultError(.invalidInput, "reads as the fingerprint") {
            try env.vault.addMember(trick.publicIdentity, role: .lawyer, toGroup: "wg", as: env.custodian)
        }
        let bracketed = try UnlockedIdentity.generate(name: "lawyer [\(env.lawyer.fingerprint.readable)]")
        expectVaultError(.invalidInput, "'[', ']' or '~'") {
            try env.vault.addMember(bracketed.publicIdentity, role: .lawyer, toGroup: "wg", as: env.custodian)
        }
        // ... but a modified client can sign it: resolution then refuses to guess, whatever the letter case.
        let group = try state.requireGroup(named: "wg")
        let epochKey = try env.vault.keyRing(for: env.custodian, state: state).epochKey(in: group, to: "test")
        try env.vault.append(as: env.custodian) { _ in
            .memberAdded(groupID: group.id, member: trick.publicIdentity, role: .lawyer, epoch: 1,
                         wrap: try KeyWrap.sealEpochKey(epochKey, groupID: group.id, epoch: 1, to: trick.publicIdentity.encryptionKey))
        }
        let now = try env.vault.replay()
        let all = Array(try now.requireGroup(named: "wg").members.keys)
        for text in [prefix, prefix.uppercased()] {
            expectVaultError(.invalidInput, "matches 2 candidates", env.lawyer.fingerprint.hex) { _ = try now.resolveMember(text, among: all, what: "member") }
        }
        #expect(try now.resolveMember(env.lawyer.fingerprint.hex, among: all, what: "member") == env.lawyer.fingerprint)
    }
}

@Suite("Several cases in one transaction")
struct BatchCaseTests {
    @Test("createCases opens all or none; a reference used before, or twice in the batch, refuses the whole batch")
    func batch() throws {
        let env = try TestVault()
        let made = try env.vault.createCases(inGroup: "wg", [("B-1", "one"), ("B-2", "")], as: env.lawyer)
        #expect(made.map(\.reference) == ["B-1", "B-2"] && made[0].title == "one")
        let before = try env.vault.replay().count
        expectVaultError(.alreadyExists, "already exists") { _ = try env.vault.createCases(inGroup: "wg", [("B-3", ""), ("CASE-1", "")], as: env.lawyer) }
        expectVaultError(.alreadyExists, "already exists") { _ = try env.vault.createCases(inGroup: "wg", [("B-4", ""), ("B-4", "")], as: env.lawyer) }
        #expect(try env.vault.replay().count == before)
        #expect(try env.vault.cases(inGroup: "wg", as: env.secondLawyer).count == 3)
    }
}

@Suite("epoch.confirm")
struct EpochConfirmTests {
    @Test("a reader confirms the committed key once; an auditor, a second confirmation and a split key cannot confirm")
    func confirm() throws {
        let env = try TestVault()
        #expect(try env.vault.confirmEpoch(ofGroup: "wg", as: env.lawyer) == 1)
        expectVaultError(.alreadyExists, "already confirmed") { _ = try env.vault.confirmEpoch(ofGroup: "wg", as: env.lawyer) }
        expectVaultError(.notPermitted, "auditor") { _ = try env.vault.confirmEpoch(ofGroup: "wg", as: env.auditor) }
        try env.vault.rotateGroup("wg", as: env.custodian)
        #expect(try env.vault.group("wg").confirmedBy.isEmpty)
        #expect(try env.vault.confirmEpoch(ofGroup: "wg", as: env.secondLawyer) == 2)
        #expect(try env.vault.group("wg").confirmedBy == ["second-lawyer"])
        // A confirmation naming another commitment is refused by replay.
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        expectVaultError(.notPermitted, "does not name the commitment") {
            try env.vault.append(as: env.lawyer) { _ in .epochConfirmed(groupID: group.id, epoch: 2, commitment: try Random.bytes(32)) }
        }
        // A member sealed another key cannot confirm: the check fails first.
        let victim = try UnlockedIdentity.generate(name: "victim")
        try env.vault.append(as: env.custodian) { _ in
            .memberAdded(groupID: group.id, member: victim.publicIdentity, role: .lawyer, epoch: 2,
                         wrap: try KeyWrap.sealEpochKey(try GroupEpochKey.random(), groupID: group.id, epoch: 2, to: victim.publicIdentity.encryptionKey))
        }
        expectVaultError(.integrity, "does not match the key committed") { _ = try env.vault.confirmEpoch(ofGroup: "wg", as: victim) }
        #expect(env.findings().isEmpty)
    }
}
