import Glibc
import Kernel
import SystemPackage
import XCTest
@testable import Reactor

final class EventLoopTests: XCTestCase {
    // MARK: fds

    func testReadablePipeTriggersItsCallback() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        defer { try? readEnd.close(); try? writeEnd.close() }
        var received: [UInt8] = []
        var seen: [EventSet] = []
        try loop.register(readEnd) { events in
            seen.append(events)
            var buffer = [UInt8](repeating: 0, count: 16)
            let count = (try? buffer.withUnsafeMutableBytes { try readEnd.read(into: $0) }) ?? 0
            received += buffer.prefix(count)
            loop.stop()
        }
        loop.schedule(after: .milliseconds(5)) { _ = try? writeEnd.writeAll([1, 2, 3]) }
        try runLoop(loop)
        XCTAssertEqual(received, [1, 2, 3])
        XCTAssertEqual(seen, [.readable])
    }

    /// A refused registration is the kernel boundary's SystemError, the call and fd named
    /// and the errno's number given (it read "... failed: Operation not permitted").
    func testRegisteringARegularFileIsRefusedWithTheSystemError() throws {
        let loop = try EventLoop()
        defer { loop.close() }
        let file = try FileDescriptor.open("/proc/self/status", .readOnly)
        defer { try? file.close() }
        XCTAssertThrowsError(try loop.register(file) { _ in }) { error in
            XCTAssertEqual(error as? SystemError,
                           SystemError(operation: "epoll_ctl(ADD) of fd \(file.rawValue)", errno: .notPermitted))
            XCTAssertEqual("\(error)", "epoll_ctl(ADD) of fd \(file.rawValue) failed: Operation not permitted (errno 1)")
        }
    }

    func testHangupIsReportedWhenTheWriteEndCloses() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        defer { try? readEnd.close() }
        var seen: [EventSet] = []
        try loop.register(readEnd) { events in
            seen.append(events)
            loop.deregister(readEnd)
            loop.stop()
        }
        loop.schedule(after: .milliseconds(5)) { try? writeEnd.close() }
        try runLoop(loop)
        XCTAssertEqual(seen.count, 1)
        XCTAssertTrue(seen.first?.contains(.hangup) ?? false, "got \(seen)")
        XCTAssertFalse(seen.first?.contains(.readable) ?? true, "nothing was written, got \(seen)")
    }

    func testDeregisteredFdIsNoLongerReported() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        defer { try? readEnd.close(); try? writeEnd.close() }
        var calls = 0
        try loop.register(readEnd) { _ in calls += 1 }
        XCTAssertTrue(loop.deregister(readEnd))
        XCTAssertFalse(loop.deregister(readEnd))
        _ = try writeEnd.writeAll([7])
        try runLoop(loop, for: .milliseconds(30))
        XCTAssertEqual(calls, 0)
    }

    func testACallbackCanDeregisterAnotherFdReadyInTheSameTurn() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let (readA, writeA) = try FileDescriptor.pipe()
        let (readB, writeB) = try FileDescriptor.pipe()
        defer { for fd in [readA, writeA, readB, writeB] { try? fd.close() } }
        var calls = 0
        try loop.register(readA) { _ in calls += 1; loop.deregister(readB); loop.deregister(readA) }
        try loop.register(readB) { _ in calls += 1; loop.deregister(readA); loop.deregister(readB) }
        _ = try writeA.writeAll([1])
        _ = try writeB.writeAll([1])
        try runLoop(loop, for: .milliseconds(30))
        XCTAssertEqual(calls, 1, "whichever ran first removed the other")
    }

    // MARK: stop

    func testStopFromACallbackEndsRunAndRunCanStartAgain() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var fired: [String] = []
        loop.schedule(after: .milliseconds(5)) { fired.append("stop"); loop.stop() }
        loop.schedule(after: .milliseconds(200)) { fired.append("late"); loop.stop() }
        let start = loop.now
        try runLoop(loop)
        XCTAssertEqual(fired, ["stop"])
        XCTAssertLessThan(loop.now - start, .milliseconds(150))
        XCTAssertFalse(loop.isRunning)
        try runLoop(loop)
        XCTAssertEqual(fired, ["stop", "late"])
    }

    func testAnIdleLoopSleepsInsteadOfSpinning() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var ticks = 0
        loop.schedule(after: .milliseconds(50), repeating: .milliseconds(50)) { ticks += 1 }
        let before = threadCPUTime()
        try runLoop(loop, for: .milliseconds(300))
        let used = threadCPUTime() - before
        XCTAssertGreaterThanOrEqual(ticks, 4)
        XCTAssertLessThan(used, .milliseconds(30), "the loop used \(used) of CPU in 300 ms of waiting")
    }

    func testCloseClosesTheLoopsOwnFds() throws {
        let before = openFDCount()
        let loop = try EventLoop()
        _ = try loop.watchFile(FilePath(NSTemporaryDirectory()).appending("tapir-no-such-file")) { _ in }
        _ = try loop.makeStopper()
        XCTAssertEqual(openFDCount(), before + 4, "epoll, timerfd, inotify, eventfd")
        loop.close()
        XCTAssertEqual(openFDCount(), before)
    }

    // MARK: timers

    func testTimersFireInOrderOnTheLoop() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var fired: [String] = []
        let start = ContinuousClock.now
        loop.schedule(after: .milliseconds(30)) { fired.append("30") }
        loop.schedule(after: .milliseconds(10)) { fired.append("10a") }
        let cancelled = loop.schedule(after: .milliseconds(20)) { fired.append("cancelled") }
        loop.schedule(after: .milliseconds(10)) { fired.append("10b") }
        var ticks = 0
        loop.schedule(after: .milliseconds(8), repeating: .milliseconds(8)) {
            ticks += 1
        }
        XCTAssertTrue(loop.cancel(cancelled))
        loop.schedule(after: .milliseconds(45)) { loop.stop() }
        try runLoop(loop)
        XCTAssertEqual(fired, ["10a", "10b", "30"])
        XCTAssertGreaterThanOrEqual(ticks, 4)
        // Five by 45 ms; a loop woken late (a busy machine) may run the tick due at 48 ms in
        // the pass that stops it, but never a tick before its time.
        let elapsed = ContinuousClock.now - start
        XCTAssertLessThanOrEqual(ticks, Int(elapsed / .milliseconds(8)), "\(elapsed)")
    }

    func testTimerScheduledEarlierFromACallbackRearmsTheTimer() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var fired: [String] = []
        loop.schedule(after: .seconds(10)) { fired.append("far"); loop.stop() }
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        defer { try? readEnd.close(); try? writeEnd.close() }
        try loop.register(readEnd) { _ in
            loop.deregister(readEnd)
            loop.schedule(after: .milliseconds(5)) { fired.append("near"); loop.stop() }
        }
        _ = try writeEnd.writeAll([1])
        try runLoop(loop, timeout: .seconds(2))
        XCTAssertEqual(fired, ["near"])
    }

    func testTenThousandOneShotTimersEachFireOnceInOrderAndOnTime() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let count = 10_000
        var generator = SystemRandomNumberGenerator()
        let start = loop.now + .milliseconds(100)  // scheduling 10,000 takes a while in debug builds
        // Whole milliseconds over 0.5 s, so many timers share a deadline.
        let deadlines = (0..<count).map { _ in
            start + .milliseconds(Int.random(in: 0..<500, using: &generator))
        }
        var order: [Int] = []
        order.reserveCapacity(count)
        var worstLateness = Duration.zero
        var early = 0
        for (index, deadline) in deadlines.enumerated() {
            loop.schedule(at: deadline) {
                let now = loop.now
                if now < deadline { early += 1 }
                worstLateness = max(worstLateness, now - deadline)
                order.append(index)
                if order.count == count { loop.stop() }
            }
        }
        try runLoop(loop, timeout: .seconds(10))
        XCTAssertEqual(order.count, count)
        XCTAssertEqual(Set(order).count, count, "each timer fired exactly once")
        let expected = (0..<count).sorted { (deadlines[$0], $0) < (deadlines[$1], $1) }
        XCTAssertEqual(order, expected, "deadline order, ties in creation order")
        XCTAssertEqual(early, 0)
        // 10 ms is the goal on an idle machine with a release build (FaultKernelTests holds
        // tapir to it). Here the bound is what a broken timer queue would miss by (a tick of
        // a second, a timer left for the next one to fire), not what a quiet machine does:
        // the suite runs on machines busy with other builds and suites (30 ms was seen with
        // both cores compiling), and under AddressSanitizer every callback is slower still.
        let slack: Duration = Self.underAddressSanitizer ? .milliseconds(500) : .milliseconds(200)
        XCTAssertLessThan(worstLateness, slack, "worst lateness \(worstLateness)")
        print("10,000 timers: worst lateness \(worstLateness)")
        XCTAssertEqual(loop.timerCount, 0)
    }

    // MARK: helpers

    /// Whether this test binary runs with AddressSanitizer (its runtime is linked in).
    static let underAddressSanitizer = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__asan_init") != nil

    private func threadCPUTime() -> Duration {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)  // the process: XCTest runs the test on this one thread
        let user = Duration.seconds(usage.ru_utime.tv_sec) + .microseconds(usage.ru_utime.tv_usec)
        let system = Duration.seconds(usage.ru_stime.tv_sec) + .microseconds(usage.ru_stime.tv_usec)
        return user + system
    }

    private func openFDCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}
