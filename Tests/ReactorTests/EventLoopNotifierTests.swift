import Foundation
import Glibc
import Reactor
import XCTest

final class EventLoopNotifierTests: XCTestCase {
    /// Another thread's notifies run the callback on the loop's thread, once per wakeup
    /// however many came before it.
    func testAnotherThreadsNotifyRunsTheCallbackOnTheLoopThread() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        var calls = 0
        var onLoopThread = true
        let notifier = try loop.makeNotifier {
            calls += 1
            onLoopThread = onLoopThread && loop.isOnLoopThread
            loop.stop()
        }
        var late = false
        loop.schedule(after: .seconds(5)) { late = true; loop.stop() }  // guard
        Thread.detachNewThread {
            usleep(20_000)
            notifier.notify()
            notifier.notify()
        }
        try loop.run()
        XCTAssertFalse(late, "the notifier did not wake the loop")
        XCTAssertTrue(onLoopThread)
        usleep(20_000)
        // Both notifies may have landed before the loop read the eventfd: one call or two.
        loop.schedule(after: .milliseconds(50)) { loop.stop() }
        try loop.run()
        XCTAssertTrue((1...2).contains(calls), "\(calls)")
    }

    func testEachNotifierCallsItsOwnCallbackAndClosesWithTheLoop() throws {
        let baseline = openFDCount()
        var loop: EventLoop? = try EventLoop()
        var said: [String] = []
        let first = try loop!.makeNotifier { said.append("first") }
        let second = try loop!.makeNotifier { said.append("second"); loop?.stop() }
        second.notify()
        try loop!.run()
        XCTAssertEqual(said, ["second"])
        loop!.close()
        loop = nil
        first.notify()  // the loop is gone: nothing happens, and the fd is still ours to write
        XCTAssertEqual(openFDCount(), baseline + 2, "only the notifiers' eventfds are left")
        _ = (first, second)
    }

    private func openFDCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}
