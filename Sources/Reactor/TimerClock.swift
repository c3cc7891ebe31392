import Kernel

/// A point in time on a timer clock, in nanoseconds from that clock's origin
/// (boot for `MonotonicClock`; whatever the owner chooses for a `ManualClock`, e.g.
/// a capture's first timestamp).
public struct TimerInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static let zero = TimerInstant(nanoseconds: 0)

    public static func < (lhs: TimerInstant, rhs: TimerInstant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    /// `self` moved by `duration`, saturating at the ends of the clock (a negative
    /// duration moves back, never below zero).
    public static func + (lhs: TimerInstant, rhs: Duration) -> TimerInstant {
        let delta = rhs.nanosecondsSaturating
        if delta >= 0 {
            let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(UInt64(delta))
            return TimerInstant(nanoseconds: overflow ? .max : sum)
        }
        let back = delta.magnitude
        return TimerInstant(nanoseconds: lhs.nanoseconds > back ? lhs.nanoseconds - back : 0)
    }

    /// The time from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: TimerInstant, rhs: TimerInstant) -> Duration {
        if lhs >= rhs {
            return .nanoseconds(Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
        }
        return .nanoseconds(-Int64(clamping: rhs.nanoseconds - lhs.nanoseconds))
    }

    public var description: String {
        "\(nanoseconds / 1_000_000_000).\(String(nanoseconds % 1_000_000_000).leftPadded(to: 9))s"
    }
}

/// Where a `TimerQueue` reads the current time.
public protocol TimerClock {
    var now: TimerInstant { get }
}

/// CLOCK_MONOTONIC: the clock the event loop's timerfd runs on.
public struct MonotonicClock: TimerClock, Sendable {
    public init() {}

    public var now: TimerInstant {
        TimerInstant(nanoseconds: Syscalls.monotonicNow())
    }
}

/// A clock that only moves when told to: `TimerQueue<ManualClock>.advance(to:)` sets
/// it while it fires what is due (replaying a capture on the capture's own clock).
public struct ManualClock: TimerClock, Sendable {
    public internal(set) var now: TimerInstant

    public init(now: TimerInstant = .zero) {
        self.now = now
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to Int64 (about 292 years either way).
    var nanosecondsSaturating: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
