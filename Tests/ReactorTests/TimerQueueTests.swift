import XCTest
@testable import Reactor

final class TimerQueueTests: XCTestCase {
    private func instant(ms: UInt64) -> TimerInstant {
        TimerInstant(nanoseconds: ms * 1_000_000)
    }

    func testOneShotTimersFireInDeadlineOrder() {
        let queue = TimerQueue(clock: ManualClock())
        var fired: [String] = []
        queue.schedule(after: .milliseconds(30)) { fired.append("c") }
        queue.schedule(after: .milliseconds(10)) { fired.append("a") }
        queue.schedule(after: .milliseconds(20)) { fired.append("b") }
        XCTAssertEqual(queue.nextDeadline, instant(ms: 10))
        XCTAssertEqual(queue.advance(to: instant(ms: 15)), 1)
        XCTAssertEqual(fired, ["a"])
        XCTAssertEqual(queue.advance(to: instant(ms: 100)), 2)
        XCTAssertEqual(fired, ["a", "b", "c"])
        XCTAssertEqual(queue.count, 0)
        XCTAssertNil(queue.nextDeadline)
    }

    func testTiesFireInCreationOrder() {
        let queue = TimerQueue(clock: ManualClock())
        var fired: [Int] = []
        for index in 0..<50 {
            queue.schedule(at: instant(ms: UInt64(index % 5))) { fired.append(index) }
        }
        queue.advance(to: instant(ms: 10))
        let expected = (0..<5).flatMap { deadline in (0..<50).filter { $0 % 5 == deadline } }
        XCTAssertEqual(fired, expected)
    }

    func testRepeatingTimerFiresEveryOccurrenceWhenTheManualClockJumps() {
        let queue = TimerQueue(clock: ManualClock())
        var times: [UInt64] = []
        queue.schedule(after: .milliseconds(10), repeating: .milliseconds(10)) {
            times.append(queue.clock.now.nanoseconds / 1_000_000)
        }
        queue.advance(to: instant(ms: 45))
        XCTAssertEqual(times, [10, 20, 30, 40])
        XCTAssertEqual(queue.clock.now, instant(ms: 45))
        XCTAssertEqual(queue.nextDeadline, instant(ms: 50))
    }

    func testRepeatingAndOneShotInterleaveInOrder() {
        let queue = TimerQueue(clock: ManualClock())
        var fired: [String] = []
        queue.schedule(after: .milliseconds(10), repeating: .milliseconds(10)) { fired.append("r") }
        queue.schedule(after: .milliseconds(25)) { fired.append("o") }
        queue.advance(by: .milliseconds(40))
        XCTAssertEqual(fired, ["r", "r", "o", "r", "r"])
    }

    func testCancelledTimersNeverFire() {
        let queue = TimerQueue(clock: ManualClock())
        var fired: [Int] = []
        var ids: [TimerID] = []
        for index in 0..<200 {
            ids.append(queue.schedule(after: .milliseconds(index + 1)) { fired.append(index) })
        }
        for index in stride(from: 0, to: 200, by: 2) {
            XCTAssertTrue(queue.cancel(ids[index]))
        }
        XCTAssertFalse(queue.cancel(ids[0]), "a second cancel reports nothing to cancel")
        XCTAssertEqual(queue.count, 100)
        XCTAssertEqual(queue.nextDeadline, instant(ms: 2))
        queue.advance(to: instant(ms: 1000))
        XCTAssertEqual(fired, Array(stride(from: 1, to: 200, by: 2)))
        XCTAssertFalse(queue.cancel(ids[1]), "a one-shot timer that fired cannot be cancelled")
    }

    func testRepeatingTimerCanCancelItselfFromItsCallback() {
        let queue = TimerQueue(clock: ManualClock())
        var count = 0
        var id: TimerID?
        id = queue.schedule(after: .milliseconds(1), repeating: .milliseconds(1)) {
            count += 1
            if count == 3, let id { queue.cancel(id) }
        }
        queue.advance(to: instant(ms: 100))
        XCTAssertEqual(count, 3)
        XCTAssertEqual(queue.count, 0)
    }

    func testTimerScheduledFromACallbackIsPlacedFromThatTimersDeadline() {
        let queue = TimerQueue(clock: ManualClock())
        var fired: [(String, UInt64)] = []
        queue.schedule(after: .milliseconds(10)) {
            fired.append(("first", queue.clock.now.nanoseconds))
            queue.schedule(after: .milliseconds(5)) {
                fired.append(("second", queue.clock.now.nanoseconds))
            }
        }
        queue.schedule(after: .milliseconds(12)) { fired.append(("between", queue.clock.now.nanoseconds)) }
        queue.advance(to: instant(ms: 100))
        XCTAssertEqual(fired.map(\.0), ["first", "between", "second"])
        XCTAssertEqual(fired.map(\.1), [10_000_000, 12_000_000, 15_000_000])
    }

    func testAdvancingBackwardsDoesNothing() {
        let queue = TimerQueue(clock: ManualClock(now: instant(ms: 50)))
        var fired = 0
        queue.schedule(after: .milliseconds(10)) { fired += 1 }
        XCTAssertEqual(queue.advance(to: instant(ms: 20)), 0)
        XCTAssertEqual(queue.clock.now, instant(ms: 50))
        queue.advance(to: instant(ms: 60))
        XCTAssertEqual(fired, 1)
    }

    func testShortRepeatingIntervalsAreRaisedToTheMinimum() {
        let queue = TimerQueue(clock: ManualClock())
        var count = 0
        queue.schedule(after: .zero, repeating: .zero) { count += 1 }
        queue.advance(to: instant(ms: 10))
        XCTAssertEqual(count, 11, "fires at 0, 1, ..., 10 ms, never in a tight loop")
    }

    func testManyCancellationsKeepOrder() {
        // Enough schedule/cancel churn to make the queue compact its heap.
        let queue = TimerQueue(clock: ManualClock())
        var fired: [Int] = []
        var kept: [(deadline: UInt64, index: Int)] = []
        var generator = SystemRandomNumberGenerator()
        for index in 0..<5_000 {
            let deadline = UInt64.random(in: 0..<1_000, using: &generator)
            let id = queue.schedule(at: instant(ms: deadline)) { fired.append(index) }
            if index % 7 == 0 {
                kept.append((deadline, index))
            } else {
                queue.cancel(id)
            }
        }
        XCTAssertEqual(queue.count, kept.count)
        queue.advance(to: instant(ms: 2_000))
        let expected = kept.sorted { ($0.deadline, $0.index) < ($1.deadline, $1.index) }.map(\.index)
        XCTAssertEqual(fired, expected)
    }

    func testFireDueOnTheMonotonicClockSkipsMissedOccurrences() {
        let queue = TimerQueue(clock: MonotonicClock())
        var count = 0
        queue.schedule(at: queue.clock.now + .milliseconds(-50), repeating: .milliseconds(10)) { count += 1 }
        XCTAssertEqual(queue.fireDue(), 1, "a late repeating timer fires once, not once per missed interval")
        XCTAssertEqual(count, 1)
        guard let next = queue.nextDeadline else { return XCTFail("the timer should repeat") }
        XCTAssertGreaterThan(next, queue.clock.now)
        XCTAssertLessThanOrEqual(next, queue.clock.now + .milliseconds(10))
    }
}
