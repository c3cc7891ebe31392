import XCTest
@testable import LuaHost

final class ErrorLogLimiterTests: XCTestCase {
    func testOneLinePerIntervalWithCountOfHeldBack() {
        var limiter = ErrorLogLimiter(interval: .seconds(10))
        let start = ContinuousClock.now
        XCTAssertTrue(limiter.admit(at: start) == (true, 0))
        for second in 1...9 {
            XCTAssertFalse(limiter.admit(at: start + .seconds(second)).log)
        }
        XCTAssertTrue(limiter.admit(at: start + .seconds(10)) == (true, 9))
        XCTAssertTrue(limiter.admit(at: start + .seconds(30)) == (true, 0))
    }
}
