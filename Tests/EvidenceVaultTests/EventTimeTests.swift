import Foundation
import Testing
@testable import EvidenceVault

/// THREATS.md 47: times are evidence; suspicious ones are flagged, never refused.
@Suite("Event times")
struct EventTimeTests {
    @Test("events dated far before their predecessor, before genesis, or in the future are flagged in log and verify; verify stays clean")
    func suspiciousTimesAreFlagged() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(100))
        let export: (LedgerState) throws -> EventBody = { _ in .documentExported(documentID: document.id, caseID: env.caseID) }
        let (backdated, _) = try env.vault.append(as: env.lawyer, now: Date(timeIntervalSince1970: 1_262_304_000), export)  // 2010
        let (future, _) = try env.vault.append(as: env.lawyer, now: Date(timeIntervalSince1970: 4_102_444_800), export)   // 2100
        let (normal, _) = try env.vault.append(as: env.lawyer, now: Date(), export)
        let log = try env.vault.log()
        let flagged = Dictionary(uniqueKeysWithValues: log.compactMap { entry in entry.timeFlag.map { (entry.sequence, $0) } })
        #expect(flagged[backdated.sequence]?.contains("before") == true)
        #expect(flagged[future.sequence]?.contains("after this machine's clock") == true)
        // The honest event after the 2100 one is, by its claim, decades before its predecessor: flagged too.
        #expect(flagged[normal.sequence]?.contains("before the event preceding it") == true)
        #expect(Set(flagged.keys) == [backdated.sequence, future.sequence, normal.sequence], "\(flagged)")
        let report = env.vault.verify()
        #expect(report.isClean, "times are flagged, not refused")
        #expect(Set(report.timeFlags.map(\.object)).isSuperset(of: ["event \(backdated.sequence)", "event \(future.sequence)"]))
    }

    @Test("the tolerance: drift within an hour is not flagged")
    func withinTolerance() throws {
        let env = try TestVault()
        let document = try env.add(sampleBytes(100))
        let (event, _) = try env.vault.append(as: env.lawyer, now: Date().addingTimeInterval(-Double(EventTimes.tolerance) + 60)) { _ in
            .documentExported(documentID: document.id, caseID: env.caseID)
        }
        #expect(try env.vault.log().first { $0.sequence == event.sequence }?.timeFlag == nil)
    }
}
