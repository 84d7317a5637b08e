import Foundation
@testable import EvidenceVault
import VaultCrypto

/// Valid inputs for each target, made by evault's own encoders: what the seed
/// corpus in Tests/FuzzCorpusTests/Corpus was written from (Docs/FUZZING.md).
public enum SeedInputs {
    /// Fresh valid samples per target (random keys and ids, so different each call).
    public static func make() throws -> [FuzzTarget: [[UInt8]]] {
        let creator = try UnlockedIdentity.generate(name: "custodian")
        let lawyer = try UnlockedIdentity.generate(name: "Amal Ḥaddād")
        let zero = [UInt8](repeating: 0, count: 32)
        let groupID = try ObjectID.random(), caseID = try ObjectID.random(), documentID = try ObjectID.random()
        let bodies: [EventBody] = [
            .genesis(vaultID: try .random(), creator: creator.publicIdentity),
            .groupCreated(groupID: groupID, name: "Istanbul team", epoch: 1, custodianWrap: try Random.bytes(120), commitment: try Random.bytes(32)),
            .memberAdded(groupID: groupID, member: lawyer.publicIdentity, role: .lawyer, epoch: 1, wrap: try Random.bytes(120)),
            .caseCreated(caseID: caseID, groupID: groupID, epoch: 1, generation: 1, wrappedKey: try Random.bytes(72),
                         sealedReference: try Random.bytes(60), sealedTitle: try Random.bytes(80), commitment: try Random.bytes(32)),
            .documentAdded(DocumentRecord(documentID: documentID, caseID: caseID, version: 1, generation: 1,
                                          wrappedKey: try Random.bytes(72), blobHash: try Random.bytes(32), blobSize: 4242,
                                          sealedMetadata: try Random.bytes(200))),
            .documentExported(documentID: documentID, caseID: caseID),
            .epochRotated(groupID: groupID, sealedReason: try Random.bytes(60),
                          rotation: Rotation(epoch: 2, commitment: try Random.bytes(32), previousKeyWrap: try Random.bytes(72),
                                             seals: [.init(member: creator.fingerprint, wrap: try Random.bytes(106)),
                                                     .init(member: lawyer.fingerprint, wrap: try Random.bytes(106))])),
            .memberRemoved(groupID: groupID, member: lawyer.fingerprint, sealedReason: [],
                           rotation: Rotation(epoch: 3, commitment: try Random.bytes(32), previousKeyWrap: try Random.bytes(72),
                                              seals: [.init(member: creator.fingerprint, wrap: try Random.bytes(106))])),
            .memberRemoved(groupID: groupID, member: lawyer.fingerprint, sealedReason: try Random.bytes(50), rotation: nil),
            .caseRekeyed(caseID: caseID, groupID: groupID, epoch: 3, generation: 2, wrappedKey: try Random.bytes(72), commitment: try Random.bytes(32)),
            .documentReencrypted(Reencryption(documentID: documentID, caseID: caseID, generation: 2, wrappedKey: try Random.bytes(72),
                                              oldBlobHash: try Random.bytes(32), blobHash: try Random.bytes(32), blobSize: 4242,
                                              sealedMetadata: try Random.bytes(200))),
            .epochConfirmed(groupID: groupID, epoch: 3, commitment: try Random.bytes(32)),
        ]
        var previous = zero
        var events: [[UInt8]] = []
        for (sequence, body) in bodies.enumerated() {
            let event = try Event(sequence: UInt64(sequence), previousHash: previous, time: 1_780_000_000 + UInt64(sequence),
                                  signer: creator, body: body)
            events.append(event.encoded)
            previous = event.hash
        }
        let header = try BlobHeader(documentID: documentID, documentVersion: 1, chunkLength: BlobHeader.defaultChunkLength,
                                    streamHeader: try Random.bytes(SecretStream.headerLength), key: try DocumentKey.random())
        let metadata = [
            DocumentMetadata(fileName: "testimony-07.m4a", title: "Testimony, second hearing", kind: .audio,
                             tags: ["hearing", "medical"], size: 1_048_576,
                             commitmentSalt: try Random.bytes(32), plaintextCommitment: try Random.bytes(32)),
            DocumentMetadata(fileName: "تقرير.pdf", title: "", kind: .photo, tags: [], size: 0,
                             commitmentSalt: try Random.bytes(32), plaintextCommitment: try Random.bytes(32)),
        ]
        let identityFile = try lawyer.sealed(passphrase: SecureBytes(copying: Array("seed corpus".utf8)),
                                             parameters: .interactive)
        return [
            .publicIdentity: [creator.publicIdentity.encoded(), lawyer.publicIdentity.encoded()],
            .identityFile: [identityFile],
            .event: events,
            .blobHeader: [header.encoded()],
            .documentMetadata: metadata.map { $0.encoded() },
        ]
    }
}
