/// Names one scheduled timer, for `cancel`.
public struct TimerID: Hashable, Sendable {
    let value: UInt64
}

/// What schedules timers: the `EventLoop` (real time) and a `TimerQueue` itself (e.g. on
/// a `ManualClock` for replay). Code that only needs timers should take one of these.
public protocol TimerScheduler: AnyObject {
    /// Runs `callback` once at `deadline`, then every `interval` if one is given.
    @discardableResult
    func schedule(at deadline: TimerInstant, repeating interval: Duration?,
                  _ callback: @escaping () -> Void) -> TimerID
    /// Runs `callback` once `delay` from now, then every `interval` if one is given.
    @discardableResult
    func schedule(after delay: Duration, repeating interval: Duration?,
                  _ callback: @escaping () -> Void) -> TimerID
    /// Stops a timer; false when it had already fired (one-shot) or been cancelled.
    @discardableResult
    func cancel(_ timer: TimerID) -> Bool
}

extension TimerScheduler {
    /// A one-shot timer `delay` from now.
    @discardableResult
    public func schedule(after delay: Duration, _ callback: @escaping () -> Void) -> TimerID {
        schedule(after: delay, repeating: nil, callback)
    }

    /// A one-shot timer at `deadline`.
    @discardableResult
    public func schedule(at deadline: TimerInstant, _ callback: @escaping () -> Void) -> TimerID {
        schedule(at: deadline, repeating: nil, callback)
    }
}

/// Pending timers in deadline order: a binary min-heap keyed by (deadline, sequence),
/// where the sequence number grows with every scheduling, so timers with the same
/// deadline fire in the order they were scheduled.
///
/// Cancelling is lazy: the timer leaves `timers` at once and its heap entry is dropped
/// when it reaches the top (or when stale entries outnumber live ones).
///
/// Callbacks may schedule and cancel timers, including their own.
/// Not thread-safe: use it from one thread (the event loop's).
public final class TimerQueue<Clock: TimerClock>: TimerScheduler {
    /// Repeating intervals shorter than this are raised to it, so no timer can keep the
    /// queue busy forever.
    public static var minimumInterval: Duration { .milliseconds(1) }

    public private(set) var clock: Clock

    fileprivate struct Entry {
        var deadline: UInt64
        var sequence: UInt64
        var timer: UInt64

        func firesBefore(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private struct Timer {
        var callback: () -> Void
        var interval: UInt64?  // nanoseconds
        var sequence: UInt64   // of this timer's live heap entry
    }

    private var heap: [Entry] = []
    private var timers: [UInt64: Timer] = [:]
    private var nextSequence: UInt64 = 0
    private var nextTimer: UInt64 = 0

    public init(clock: Clock) {
        self.clock = clock
    }

    /// The number of timers still to fire (a repeating timer counts until cancelled).
    public var count: Int { timers.count }

    /// When the earliest pending timer is due, nil when none is pending.
    public var nextDeadline: TimerInstant? {
        dropStaleTop()
        return heap.first.map { TimerInstant(nanoseconds: $0.deadline) }
    }

    @discardableResult
    public func schedule(at deadline: TimerInstant, repeating interval: Duration? = nil,
                         _ callback: @escaping () -> Void) -> TimerID {
        let id = nextTimer
        nextTimer += 1
        let intervalNanoseconds = interval.map {
            UInt64(max($0, Self.minimumInterval).nanosecondsSaturating)
        }
        let sequence = push(deadline: deadline.nanoseconds, timer: id)
        timers[id] = Timer(callback: callback, interval: intervalNanoseconds, sequence: sequence)
        return TimerID(value: id)
    }

    @discardableResult
    public func schedule(after delay: Duration, repeating interval: Duration? = nil,
                         _ callback: @escaping () -> Void) -> TimerID {
        schedule(at: clock.now + max(delay, .zero), repeating: interval, callback)
    }

    @discardableResult
    public func cancel(_ timer: TimerID) -> Bool {
        guard timers.removeValue(forKey: timer.value) != nil else { return false }
        if heap.count > 64 && heap.count > 2 * timers.count { compact() }
        return true
    }

    /// Cancels every timer.
    public func cancelAll() {
        timers.removeAll()
        heap.removeAll()
    }

    /// Fires, in order, every timer due by the clock's current reading. A repeating
    /// timer that fell behind fires once and is next due one interval from now (missed
    /// occurrences are skipped, not caught up in a burst). Timers scheduled by the
    /// callbacks for later than that reading wait for the next call.
    /// Returns how many callbacks ran.
    @discardableResult
    public func fireDue() -> Int {
        let now = clock.now.nanoseconds
        var fired = 0
        while let entry = popDue(by: now) {
            fire(entry, rescheduleFrom: now)
            fired += 1
        }
        return fired
    }

    // MARK: heap

    private func push(deadline: UInt64, timer: UInt64) -> UInt64 {
        let sequence = nextSequence
        nextSequence += 1
        heap.append(Entry(deadline: deadline, sequence: sequence, timer: timer))
        siftUp(heap.count - 1)
        return sequence
    }

    /// Removes and returns the earliest live entry if it is due by `now`.
    fileprivate func popDue(by now: UInt64) -> Entry? {
        dropStaleTop()
        guard let top = heap.first, top.deadline <= now else { return nil }
        removeTop()
        return top
    }

    /// Runs the entry's callback; a repeating timer is put back first, so the callback
    /// can cancel it. `rescheduleFrom` is the time a late repeating timer restarts from.
    fileprivate func fire(_ entry: Entry, rescheduleFrom now: UInt64) {
        guard var timer = timers[entry.timer] else { return }
        if let interval = timer.interval {
            var next = entry.deadline &+ interval
            if next < entry.deadline { next = .max }  // saturate
            if next <= now { next = now &+ interval }
            timer.sequence = push(deadline: next, timer: entry.timer)
            timers[entry.timer] = timer
        } else {
            timers[entry.timer] = nil
        }
        timer.callback()
    }

    private func isLive(_ entry: Entry) -> Bool {
        timers[entry.timer]?.sequence == entry.sequence
    }

    private func dropStaleTop() {
        while let top = heap.first, !isLive(top) {
            removeTop()
        }
    }

    private func removeTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private func compact() {
        heap.removeAll { !isLive($0) }
        // Heapify bottom-up.
        var index = heap.count / 2
        while index > 0 {
            index -= 1
            siftDown(index)
        }
    }

    private func siftUp(_ start: Int) {
        var child = start
        let entry = heap[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard entry.firesBefore(heap[parent]) else { break }
            heap[child] = heap[parent]
            child = parent
        }
        heap[child] = entry
    }

    private func siftDown(_ start: Int) {
        var parent = start
        let entry = heap[parent]
        let count = heap.count
        while true {
            var child = 2 * parent + 1
            if child >= count { break }
            if child + 1 < count && heap[child + 1].firesBefore(heap[child]) { child += 1 }
            guard heap[child].firesBefore(entry) else { break }
            heap[parent] = heap[child]
            parent = child
        }
        heap[parent] = entry
    }
}

extension TimerQueue where Clock == ManualClock {
    /// Moves the clock forward to `instant`, firing everything due on the way in
    /// deadline order. While a callback runs, the clock reads that timer's deadline, so
    /// timers it schedules are placed relative to it, and a repeating timer fires every
    /// occurrence up to `instant`. An `instant` before the clock's time does nothing.
    /// Returns how many callbacks ran.
    @discardableResult
    public func advance(to instant: TimerInstant) -> Int {
        var fired = 0
        while let entry = popDue(by: instant.nanoseconds) {
            clock.now = max(clock.now, TimerInstant(nanoseconds: entry.deadline))
            fire(entry, rescheduleFrom: entry.deadline)
            fired += 1
        }
        clock.now = max(clock.now, instant)
        return fired
    }

    /// `advance(to:)` the clock's time plus `duration`.
    @discardableResult
    public func advance(by duration: Duration) -> Int {
        advance(to: clock.now + duration)
    }
}
