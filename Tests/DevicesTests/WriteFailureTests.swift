import Devices
import Glibc
import XCTest

final class WriteFailureTests: XCTestCase {
    func testEachFailureSaysItsErrnoAndCause() {
        XCTAssertEqual(WriteFailure.io.explanation, "Input/output error (EIO: the link is down)")
        XCTAssertEqual(WriteFailure.noBuffers.explanation, "no buffer space (ENOBUFS: the kernel's queue is full)")
        XCTAssertEqual(WriteFailure.wouldBlock.explanation, "the device would block (EAGAIN)")
        XCTAssertTrue(WriteFailure.rejected.explanation.contains("EINVAL or EMSGSIZE"))
        XCTAssertEqual(WriteFailure.closed.explanation, "the device is closed")
        XCTAssertEqual(WriteFailure.other(EPERM).explanation, "Operation not permitted (errno \(EPERM))")
    }
}
