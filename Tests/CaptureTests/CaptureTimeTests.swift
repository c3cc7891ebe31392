import Capture
import Glibc
import XCTest

final class CaptureTimeTests: XCTestCase {
    func testNowIsTheWallClock() {
        var before = timespec()
        clock_gettime(CLOCK_REALTIME, &before)
        let now = CaptureTime.now
        var after = timespec()
        clock_gettime(CLOCK_REALTIME, &after)
        XCTAssertGreaterThanOrEqual(now, CaptureTime(seconds: Int64(before.tv_sec), nanoseconds: Int64(before.tv_nsec)))
        XCTAssertLessThanOrEqual(now, CaptureTime(seconds: Int64(after.tv_sec), nanoseconds: Int64(after.tv_nsec)))
    }

    func testSecondsAndMicrosecondsSplitTheNanoseconds() {
        let time = CaptureTime(seconds: 1_700_000_000, nanoseconds: 123_456_789)
        XCTAssertEqual(time.seconds, 1_700_000_000)
        XCTAssertEqual(time.microsecondsOfSecond, 123_456)
    }
}
