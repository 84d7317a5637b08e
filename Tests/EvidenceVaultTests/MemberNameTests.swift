import Foundation
import Testing
@testable import EvidenceVault
import VaultCrypto

/// THREATS.md 43: three different people must not all display as "amina".
@Suite("One name per person")
struct MemberNameTests {
    @Test("names that look alike compare equal: case, width, invisible characters, bidi controls, Cyrillic and Greek look-alikes")
    func lookAlikesCollide() {
        for variant in ["Amina", "AMINA", "ami\u{200B}na", "\u{0430}mina", "ａｍｉｎａ", " amina ", "ami\u{202E}na", "am\u{0456}na", "amin\u{03B1}",
                        "Āmina", "amina\u{0332}", "a\u{0301}mina"] {
            #expect(MemberName.collide(variant, "amina"), "\(variant.unicodeScalars.map(\.value))")
        }
        for different in ["amira", "amina b", "aminah", "mina"] {
            #expect(!MemberName.collide(different, "amina"), "\(different)")
        }
        #expect(MemberName.collide("Amina  Diallo", "amina diallo"))
        // Look-alikes a review found: Cyrillic ghe for r, capital I and digit 1 for l, Cherokee L.
        #expect(MemberName.collide("audito\u{0433}", "auditor"))
        #expect(MemberName.collide("Iawyer", "lawyer") && MemberName.collide("1awyer", "lawyer") && MemberName.collide("LAWYER", "lawyer"))
        #expect(MemberName.collide("\u{13DE}awyer", "lawyer"))
        #expect(MemberName.collide("AMlNA", "AMINA"), "a lowercase l among capitals looks like I")
        // Found by a second review: Greek capital Iota, Arabic-Indic one, Cherokee and small-capital G.
        #expect(MemberName.collide("\u{0399}awyer1", "lawyer1") && MemberName.collide("lawyer\u{0661}", "lawyer1"))
        #expect(MemberName.collide("\u{13C0}1", "G1") && MemberName.collide("\u{0262}1", "G1") && MemberName.collide("G\u{0661}", "G1"))
    }

    @Test("a custodian admitting a name that collides with a current member's is refused, naming that member")
    func collidingAdmissionIsRefused() throws {
        let env = try TestVault()
        for name in ["LAWYER", "l\u{0430}wyer", "law\u{200B}yer"] {
            let impostor = try UnlockedIdentity.generate(name: name)
            expectVaultError(.alreadyExists, "cannot be told apart", "lawyer", env.lawyer.fingerprint.readable) {
                try env.vault.addMember(impostor.publicIdentity, role: .lawyer, toGroup: "wg", as: env.custodian)
            }
        }
        // The same person may join another group; a distinct name is admitted.
        try env.vault.addMember(env.lawyer.publicIdentity, role: .lawyer, toGroup: "other", as: env.custodian)
        try env.vault.addMember(try UnlockedIdentity.generate(name: "lawyer-three").publicIdentity, role: .lawyer, toGroup: "wg", as: env.custodian)
    }

    @Test("a group whose name cannot be told apart from an existing group's is refused")
    func collidingGroupNamesAreRefused() throws {
        let env = try TestVault()
        for name in ["WG", "wg ", "ｗｇ", "w\u{200B}g"] {
            expectVaultError(.alreadyExists, "cannot be told apart from the existing group") { try env.vault.createGroup(named: name, as: env.custodian) }
        }
        #expect(throws: Never.self) { try env.vault.createGroup(named: "wg-2", as: env.custodian) }
    }

    @Test("names that already collide in a ledger are shown with a fingerprint suffix, everywhere, and never refused on replay")
    func existingCollisionsAreShownApart() throws {
        let env = try TestVault()
        let twin = try UnlockedIdentity.generate(name: "Lawyer")
        // Written as an older client would have, without the check.
        let state = try env.vault.replay()
        let group = try state.requireGroup(named: "wg")
        let epochKey = try env.vault.keyRing(for: env.custodian, state: state).epochKey(in: group, to: "test")
        let wrap = try KeyWrap.sealEpochKey(epochKey, groupID: group.id, epoch: group.epoch, to: twin.publicIdentity.encryptionKey)
        try env.vault.append(as: env.custodian) { _ in .memberAdded(groupID: group.id, member: twin.publicIdentity, role: .lawyer, epoch: 1, wrap: wrap) }
        let replayed = try env.vault.replay()
        let first = replayed.displayName(of: env.lawyer.fingerprint), second = replayed.displayName(of: twin.fingerprint)
        #expect(first != second)
        #expect(first.hasPrefix("lawyer ~") && second.hasPrefix("Lawyer ~"))
        let shown = try env.vault.group("wg").members.map(\.name)
        #expect(shown.contains(first) && shown.contains(second))
        #expect(try env.vault.log().filter { $0.actor == env.custodian.fingerprint }.allSatisfy { $0.actorName == "custodian" })
        #expect(env.findings().isEmpty)
    }

    @Test("a fingerprint admitted again under another name keeps the name it was first admitted with")
    func oneNamePerFingerprint() throws {
        let env = try TestVault()
        // The same keys, self-signed again under another name (the owner's own .pub, renamed).
        let renamed = try PublicIdentity(name: "someone-else", createdAt: 0, signingKeyPair: env.lawyer.signing,
                                         encryptionKey: env.lawyer.encryption.publicKey)
        #expect(renamed.fingerprint == env.lawyer.fingerprint)
        try env.vault.addMember(renamed, role: .lawyer, toGroup: "other", as: env.custodian)
        let members = try env.vault.groups().flatMap(\.members).filter { $0.fingerprint == env.lawyer.fingerprint }
        #expect(members.count == 2 && Set(members.map(\.name)) == ["lawyer"])
    }
}
