import CLua

/// Turns `clua_ticks()` readings (the CPU's counter: a few nanoseconds to read, where
/// two clock_gettime calls per handler call cost a tenth of a trivial handler) into time,
/// by the ratio of ticks to monotonic time since the first state was made.
enum TickClock {
    /// Ticks and time read together, once; `start()` makes sure that happens early.
    static let origin = (ticks: clua_ticks(), time: ContinuousClock.now)

    static func start() {
        _ = origin
    }

    static func duration(ofTicks ticks: UInt64) -> Duration {
        let elapsedTicks = clua_ticks() &- origin.ticks
        let elapsed = ContinuousClock.now - origin.time
        guard elapsedTicks > 0, ticks > 0 else { return .zero }
        return elapsed * (Double(ticks) / Double(elapsedTicks))
    }
}
