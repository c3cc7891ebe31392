import XCTest
import Reactor

extension XCTestCase {
    /// Runs `loop` until a callback stops it; fails the test if that takes longer than
    /// `timeout` (the loop is then stopped by a guard timer). Returns whether it ended in time.
    @discardableResult
    func runLoop(_ loop: EventLoop, timeout: Duration = .seconds(5),
                 file: StaticString = #filePath, line: UInt = #line) throws -> Bool {
        var timedOut = false
        let guardTimer = loop.schedule(after: timeout) {
            timedOut = true
            loop.stop()
        }
        try loop.run()
        loop.cancel(guardTimer)
        if timedOut { XCTFail("the event loop was not stopped within \(timeout)", file: file, line: line) }
        return !timedOut
    }

    /// Runs `loop` for `duration` exactly (unless a callback stops it earlier).
    func runLoop(_ loop: EventLoop, for duration: Duration) throws {
        let stopper = loop.schedule(after: duration) { loop.stop() }
        try loop.run()
        loop.cancel(stopper)
    }
}
