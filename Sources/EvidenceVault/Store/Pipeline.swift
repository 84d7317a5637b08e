import Foundation

/// A two-stage pipeline over a fixed ring of reusable slots: `produce` runs on
/// the calling thread and `consume` on a second thread, so that two cores share
/// the work of streaming a document (read and encrypt on one, hash and write on
/// the other). Memory is bounded by the slots; nothing is allocated per chunk.
///
/// The first error from either stage stops both and is rethrown; a producer
/// error takes precedence.
final class TwoStagePipeline<Slot: AnyObject>: @unchecked Sendable {
    private let slots: [Slot]
    private let freeSlots: DispatchSemaphore
    private let filledSlots = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var handedOver: [Slot?] = []
    private var consumerError: Error?

    init(slots: [Slot]) {
        precondition(!slots.isEmpty)
        self.slots = slots
        // Created at 0 and signalled up: libdispatch traps if a semaphore is
        // released holding less than its initial value, which a stopped run can.
        freeSlots = DispatchSemaphore(value: 0)
        for _ in slots { freeSlots.signal() }
    }

    /// Runs until `produce` returns false (after filling its last slot) or a stage throws.
    /// - Parameters:
    ///   - produce: fills a slot; returns whether more slots will follow.
    ///   - consume: processes a filled slot, in order.
    func run(produce: (Slot) throws -> Bool, consume: @escaping (Slot) throws -> Void) throws {
        let finished = DispatchSemaphore(value: 0)
        // The consumer closure runs on exactly one other thread, strictly after the
        // producer handed over each slot (semaphore ordering), and `run` does not
        // return before that thread is done: the hand-over is the synchronisation.
        nonisolated(unsafe) let consume = consume
        let consumerThread = Thread { [self] in
            while true {
                filledSlots.wait()
                lock.lock()
                let next = handedOver.removeFirst()
                let failed = consumerError != nil
                lock.unlock()
                guard let slot = next else { break }
                if !failed {
                    do { try consume(slot) } catch {
                        lock.lock()
                        consumerError = error
                        lock.unlock()
                    }
                }
                freeSlots.signal()
            }
            finished.signal()
        }
        consumerThread.stackSize = 1 << 20
        consumerThread.start()

        var producerError: Error?
        var index = 0
        while true {
            freeSlots.wait()
            lock.lock()
            let failed = consumerError != nil
            lock.unlock()
            if failed { break }
            let slot = slots[index % slots.count]
            index += 1
            let more: Bool
            do { more = try produce(slot) } catch {
                producerError = error
                break
            }
            hand(slot)
            if !more { break }
        }
        hand(nil)
        finished.wait()
        if let producerError { throw producerError }
        lock.lock()
        defer { lock.unlock() }
        if let consumerError { throw consumerError }
    }

    private func hand(_ slot: Slot?) {
        lock.lock()
        handedOver.append(slot)
        lock.unlock()
        filledSlots.signal()
    }
}
