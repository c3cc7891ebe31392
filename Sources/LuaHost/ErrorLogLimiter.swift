/// Lets through one error log line per interval: the first error of a burst is logged,
/// the rest are counted and mentioned with the next line that gets through.
struct ErrorLogLimiter {
    let interval: Duration
    private var lastLogged: ContinuousClock.Instant?
    private var suppressed = 0

    init(interval: Duration) {
        self.interval = interval
    }

    /// Whether to log an error happening at `now`, and how many were held back before it.
    mutating func admit(at now: ContinuousClock.Instant) -> (log: Bool, suppressedBefore: Int) {
        if let lastLogged, now - lastLogged < interval {
            suppressed += 1
            return (false, 0)
        }
        lastLogged = now
        defer { suppressed = 0 }
        return (true, suppressed)
    }
}
