import Foundation
import VaultCrypto

/// Checks the signatures of a run of consecutive events on several threads,
/// before they are applied in order (Ed25519 verification is most of a replay's
/// cost, and independent per event).
///
/// Each event is verified under the key its actor has at that point of the
/// ledger: an identity `state` already knows, or one admitted by an earlier
/// event of the same run (the genesis creator, a `member.add`). `apply` then
/// skips its own check only when the key it resolves for the signer is the very
/// key the signature verified under (`LedgerState.apply(_:preVerified:)`), so a
/// run whose admissions turn out invalid is checked again one by one; the
/// result is always what a sequential replay would decide.
enum SignatureBatch {
    /// Events per run.
    static let runLength = 1024

    /// For each event, the key its signature verified under, or nil (not verified here).
    /// - Parameter skip: events whose signature need not be checked (verified on this machine before).
    static func verify(_ events: [Event], against state: LedgerState, threads: Int,
                       skip: (Event) -> Bool = { _ in false }) -> [SigningPublicKey?] {
        verify(events, identities: state.identities, threads: threads, skip: skip)
    }

    /// Runs in the background: the signatures of one run are checked while the
    /// caller applies the run before it (`verify`, keyless). Keys are resolved
    /// against `identities` as they are when the run is started, so an identity
    /// admitted by the run still being applied is not known yet: its events are
    /// left to `apply` to check one by one, and the result is the same.
    final class Pending: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var keys: [SigningPublicKey?] = []

        init(_ events: [Event], identities: [Fingerprint: PublicIdentity], threads: Int) {
            let thread = Thread { [self] in
                keys = SignatureBatch.verify(events, identities: identities, threads: threads)
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }

        /// The keys each event verified under (nil: not verified here), once the checks are done.
        func wait() -> [SigningPublicKey?] {
            done.wait()
            done.signal()  // a second wait returns at once
            return keys
        }
    }

    static func verify(_ events: [Event], identities: [Fingerprint: PublicIdentity], threads: Int,
                       skip: (Event) -> Bool = { _ in false }) -> [SigningPublicKey?] {
        var introduced: [Fingerprint: SigningPublicKey] = [:]
        var keys: [SigningPublicKey?] = []
        keys.reserveCapacity(events.count)
        for event in events {
            let key: SigningPublicKey?
            if case .genesis(_, let creator) = event.body {
                key = creator.signingKey
            } else {
                key = identities[event.actor]?.signingKey ?? introduced[event.actor]
            }
            keys.append(skip(event) ? nil : key)
            switch event.body {
            case .genesis(_, let creator): introduced[creator.fingerprint] = creator.signingKey
            case .memberAdded(_, let member, _, _, _) where identities[member.fingerprint] == nil && introduced[member.fingerprint] == nil:
                introduced[member.fingerprint] = member.signingKey
            default: break
            }
        }
        let results = UnsafeMutableBufferPointer<Bool>.allocate(capacity: events.count)
        results.initialize(repeating: false)
        defer { results.deallocate() }
        let workers = max(1, min(threads, events.count))
        let keysToCheck = keys
        let base = UnsafeSendable(results)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < events.count {
                if let key = keysToCheck[index] { base.value[index] = events[index].hasValidSignature(by: key) }
                index += workers
            }
        }
        return keys.indices.map { results[$0] ? keys[$0] : nil }
    }
}

/// A buffer each worker writes disjoint elements of.
private struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
