import Foundation

/// Flags event times that deserve a look, without refusing them: laptops
/// that work offline have wrong clocks, so a time is a claim by its signer,
/// not a fact (THREATS.md 47; Docs/FORMAT.md §5.5).
///
/// An event is flagged when it is dated more than `tolerance` seconds
/// earlier than the event before it, earlier than the genesis event, or later
/// than this machine's clock.
public struct EventTimes: Sendable {
    /// One hour: more than ordinary clock drift, less than a deliberate back-dating.
    public static let tolerance: UInt64 = 3600

    private let now: UInt64
    private var genesis: UInt64?
    private var previous: UInt64?

    public init(now: Date = Date()) {
        self.now = UInt64(max(0, now.timeIntervalSince1970))
    }

    /// Why `event`'s time is suspicious, if it is; call once per event, in order.
    public mutating func flag(_ event: Event) -> String? {
        defer {
            if genesis == nil { genesis = event.time }
            previous = event.time
        }
        let time = event.time
        if time > now, time - now > Self.tolerance {
            return "dated \(Self.format(time)), \(Self.span(time - now)) after this machine's clock"
        }
        if let genesis, time < genesis, genesis - time > Self.tolerance {
            return "dated \(Self.format(time)), \(Self.span(genesis - time)) before the vault was created (event 0)"
        }
        if let previous, time < previous, previous - time > Self.tolerance {
            return "dated \(Self.format(time)), \(Self.span(previous - time)) before the event preceding it"
        }
        return nil
    }

    static func format(_ time: UInt64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(time)))
    }

    static func span(_ seconds: UInt64) -> String {
        if seconds >= 2 * 86_400 { return "\(seconds / 86_400) days" }
        if seconds >= 7200 { return "\(seconds / 3600) hours" }
        return "\(seconds / 60) minutes"
    }
}
