import Testing
@testable import EvidenceVault
import VaultCrypto

/// The vectors of Docs/FORMAT.md §6.5-§6.6. The expected values were computed
/// independently of libsodium, with Python's `hashlib.blake2b` (keyed, and with
/// salt and personalisation for `crypto_kdf_derive_from_key`), from the inputs below.
@Suite("Key commitment and prev-chain vectors (FORMAT.md §6.5-§6.6)")
struct KeyCommitmentVectorTests {
    static let groupID = try! ObjectID(rawValue: (0..<16).map { 0x10 + UInt8($0) })
    static let caseID = try! ObjectID(rawValue: (0..<16).map { 0x40 + UInt8($0) })
    static func key(_ start: UInt8) throws -> SymmetricKey { try SymmetricKey(bytes: SecureBytes(copying: (0..<32).map { start &+ UInt8($0) })) }

    @Test("epoch commitments C_1 and C_2 (chained), a case commitment, and the prev-chain wrapping key")
    func vectors() throws {
        let k1 = GroupEpochKey(try Self.key(0x00)), k2 = GroupEpochKey(try Self.key(0xA0))
        let c1 = try KeyCommitment.epoch(k1, groupID: Self.groupID, epoch: 1, previous: KeyCommitment.none)
        #expect(Hex.encode(c1) == "18784218844d87a0709accf56c9feb09791f558c5d917a53d921268db4cae762")
        let c2 = try KeyCommitment.epoch(k2, groupID: Self.groupID, epoch: 2, previous: c1)
        #expect(Hex.encode(c2) == "0fd147d4e27bf85cba594dad929156da510150a147dedb98fd2e5d3a5aa35151")
        let cc1 = try KeyCommitment.caseKey(CaseKey(try Self.key(0x70)), groupID: Self.groupID, caseID: Self.caseID, generation: 1, epoch: 1,
                                            previous: KeyCommitment.none)
        #expect(Hex.encode(cc1) == "5bd92cc239d2b7de58229d59ee0f9793ec12c5f87dbf809c4da6333e6d3dfc9a")
        let wrapping = try KeyWrap.previousKeyWrappingKey(k2)
        #expect(wrapping.bytes.withUnsafeBytes { Hex.encode(Array($0)) } == "85789222a3bdfc6fc1023c48cd996e2643f136c63d1627d2bd62e74f61600b78")
        // The commitment binds: another key, epoch, group or predecessor gives another value.
        #expect(try KeyCommitment.epoch(k2, groupID: Self.groupID, epoch: 1, previous: KeyCommitment.none) != c1)
        #expect(try KeyCommitment.epoch(k1, groupID: Self.groupID, epoch: 2, previous: KeyCommitment.none) != c1)
        #expect(try KeyCommitment.epoch(k2, groupID: Self.groupID, epoch: 2, previous: KeyCommitment.none) != c2)
        // The prev wrap opens only under the next key, for the epoch it names.
        let box = try KeyWrap.wrapPreviousKey(k1, under: k2, groupID: Self.groupID, previousEpoch: 1)
        #expect(box.count == 72)
        let opened = try KeyWrap.unwrapPreviousKey(box, under: k2, groupID: Self.groupID, previousEpoch: 1)
        #expect(try KeyCommitment.epoch(opened, groupID: Self.groupID, epoch: 1, previous: KeyCommitment.none) == c1)
        #expect(throws: (any Error).self) { _ = try KeyWrap.unwrapPreviousKey(box, under: k1, groupID: Self.groupID, previousEpoch: 1) }
        #expect(throws: (any Error).self) { _ = try KeyWrap.unwrapPreviousKey(box, under: k2, groupID: Self.groupID, previousEpoch: 2) }
    }
}
