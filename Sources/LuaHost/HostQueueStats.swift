import Reactor

/// A multi-queue host's part in the stats board (QueueStatsBoard): its counters are
/// published at most `statsPublishDelay` after a read burst changed them (one timer,
/// not a lock per burst) and when it stops, so another queue's tapir.stats() is at most
/// that much behind this one's traffic. An idle queue publishes nothing and never wakes.
extension TapirHost {
    static let statsPublishDelay: Duration = .milliseconds(50)

    func countersChanged() {
        guard statsPublishTimer == nil, !isStopped else { return }
        statsPublishTimer = timers.schedule(after: Self.statsPublishDelay, repeating: nil) { [weak self] in
            guard let self else { return }
            self.statsPublishTimer = nil
            self.publishStats()
        }
    }

    /// Puts this queue's counters on the board now.
    public func publishStats() {
        guard let queuePlace else { return }
        queuePlace.board.publish(ownStats, queue: queuePlace.index)
    }
}
