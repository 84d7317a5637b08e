import Foundation

/// A pipeline over a fixed ring of reusable slots: `produce` fills slots on the
/// calling thread, and each consumer runs on a thread of its own, seeing every
/// filled slot in order. A slot is reused only once every consumer is done with
/// it, so consumers only read what the producer wrote and never each other's
/// work. Streaming a document has three jobs of similar size (encrypting or
/// decrypting, one SHA-256, the other SHA-256 or the write); with one thread
/// each, the scheduler keeps both cores busy whatever their relative speeds.
/// Memory is bounded by the slots; nothing is allocated per chunk.
///
/// The first error from any stage stops all of them and is rethrown; a
/// producer error takes precedence.
final class SlotPipeline<Slot: AnyObject>: @unchecked Sendable {
    /// One consumer's job: reads a filled slot.
    typealias Consumer = (Slot) throws -> Void

    private let slots: [Slot]
    private let freeSlots: DispatchSemaphore
    private let lock = NSLock()
    private var consumerError: Error?
    /// For each slot in flight (by index in `slots`), how many consumers still read it.
    private var readersLeft: [Int]

    init(slots: [Slot]) {
        precondition(!slots.isEmpty)
        self.slots = slots
        readersLeft = Array(repeating: 0, count: slots.count)
        // Created at 0 and signalled up: libdispatch traps if a semaphore is
        // released holding less than its initial value, which a stopped run can.
        freeSlots = DispatchSemaphore(value: 0)
        for _ in slots { freeSlots.signal() }
    }

    /// One consumer thread's queue of slot indices (nil ends it).
    private final class Queue: @unchecked Sendable {
        let filled = DispatchSemaphore(value: 0)
        var indices: [Int?] = []
    }

    /// Runs until `produce` returns false (after filling its last slot) or a stage throws.
    /// - Parameters:
    ///   - produce: fills a slot; returns whether more slots will follow.
    ///   - consumers: each processes every filled slot, in order, on its own thread.
    func run(produce: (Slot) throws -> Bool, consumers: [Consumer]) throws {
        precondition(!consumers.isEmpty)
        let finished = DispatchSemaphore(value: 0)
        let queues = consumers.map { _ in Queue() }
        for (consumer, queue) in zip(consumers, queues) {
            // Each consumer closure runs on exactly one other thread, strictly after
            // the producer handed over each slot (semaphore ordering), and `run` does
            // not return before every thread is done: the hand-over is the synchronisation.
            nonisolated(unsafe) let consume = consumer
            let thread = Thread { [self] in
                while true {
                    queue.filled.wait()
                    lock.lock()
                    let next = queue.indices.removeFirst()
                    let failed = consumerError != nil
                    lock.unlock()
                    guard let index = next else { break }
                    if !failed {
                        do { try consume(slots[index]) } catch {
                            lock.lock()
                            if consumerError == nil { consumerError = error }
                            lock.unlock()
                        }
                    }
                    lock.lock()
                    readersLeft[index] -= 1
                    let free = readersLeft[index] == 0
                    lock.unlock()
                    if free { freeSlots.signal() }
                }
                finished.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }

        var producerError: Error?
        var count = 0
        while true {
            freeSlots.wait()
            lock.lock()
            let failed = consumerError != nil
            lock.unlock()
            if failed { break }
            let index = count % slots.count
            count += 1
            let more: Bool
            do { more = try produce(slots[index]) } catch {
                producerError = error
                break
            }
            hand(index, to: queues)
            if !more { break }
        }
        hand(nil, to: queues)
        for _ in queues { finished.wait() }
        if let producerError { throw producerError }
        lock.lock()
        defer { lock.unlock() }
        if let consumerError { throw consumerError }
    }

    private func hand(_ index: Int?, to queues: [Queue]) {
        lock.lock()
        if let index { readersLeft[index] = queues.count }
        for queue in queues { queue.indices.append(index) }
        lock.unlock()
        for queue in queues { queue.filled.signal() }
    }
}
