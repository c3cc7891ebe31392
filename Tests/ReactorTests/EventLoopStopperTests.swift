import Foundation
import XCTest
import Reactor

final class EventLoopStopperTests: XCTestCase {
    func testAnotherThreadCanStopAWaitingLoop() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        let stopper = try loop.makeStopper()
        var late = false
        loop.schedule(after: .seconds(5)) { late = true; loop.stop() }  // guard
        Thread.detachNewThread {
            usleep(20_000)
            stopper.stop()
        }
        let start = loop.now
        try loop.run()
        XCTAssertFalse(late, "the stopper did not wake the loop")
        XCTAssertLessThan(loop.now - start, .seconds(2))
    }

    func testAStopperOutlivesItsLoopAndItsFdClosesWithTheLastOne() throws {
        let baseline = openFDCount()
        var loop: EventLoop? = try EventLoop()
        var stopper = try loop?.makeStopper()
        loop = nil
        XCTAssertEqual(openFDCount(), baseline + 1, "only the stopper's eventfd is left")
        stopper?.stop()  // nobody reads it, and nothing else can have its fd number
        stopper = nil
        XCTAssertEqual(openFDCount(), baseline)
    }

    private func openFDCount() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
    }
}
