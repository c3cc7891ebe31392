import XCTest
import Reactor

/// Code written against `TimerScheduler` runs the same on the loop and on a manual clock.
final class TimerSchedulerTests: XCTestCase {
    /// Something like `tapir.after` / `tapir.every`, knowing only the protocol.
    private func scheduleHeartbeat(on scheduler: TimerScheduler, log: @escaping (String) -> Void) {
        // Far enough apart that a busy machine keeps the order on the real loop.
        scheduler.schedule(after: .milliseconds(100)) { log("after") }
        let beat = scheduler.schedule(after: .milliseconds(40), repeating: .milliseconds(40)) { log("beat") }
        scheduler.schedule(after: .milliseconds(130)) { scheduler.cancel(beat) }
    }

    func testManualClockSchedulerRunsTheSameSequence() {
        let queue = TimerQueue(clock: ManualClock())
        var log: [String] = []
        scheduleHeartbeat(on: queue) { log.append($0) }
        queue.advance(by: .seconds(1))
        XCTAssertEqual(log, ["beat", "beat", "after", "beat"])
        XCTAssertEqual(queue.count, 0)
    }

    func testEventLoopSchedulerRunsTheSameSequence() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var log: [String] = []
        scheduleHeartbeat(on: loop) { log.append($0) }
        loop.schedule(after: .milliseconds(300)) { loop.stop() }
        try runLoop(loop)
        XCTAssertEqual(log, ["beat", "beat", "after", "beat"])
    }
}
