import Glibc
import XCTest
@testable import Devices

/// What a read's or a write's errno means for a device: EBADF and EFAULT are a bug in
/// Tapir (the device traps on them), not the device gone, which the kernel says with
/// EBADFD, EIO, ENXIO, ENODEV, EPIPE or ESHUTDOWN.
final class DeviceErrnoTests: XCTestCase {
    func testBadDescriptorAndBadAddressAreProgrammingErrorsNotAGoneDevice() {
        for code in [EBADF, EFAULT] {
            XCTAssertEqual(DeviceErrno.readAction(code), .programmingError, "errno \(code)")
            XCTAssertEqual(DeviceErrno.writeAction(code), .programmingError, "errno \(code)")
        }
    }

    func testTheDeviceGoneErrnos() {
        for code in [EBADFD, EIO, ENXIO, ENODEV, EPIPE, ESHUTDOWN] {
            XCTAssertEqual(DeviceErrno.readAction(code), .gone, "errno \(code)")
        }
        // A write's EIO is a device that is down, not gone.
        for code in [EBADFD, ENXIO, ENODEV, EPIPE, ESHUTDOWN] {
            XCTAssertEqual(DeviceErrno.writeAction(code), .gone, "errno \(code)")
        }
        XCTAssertEqual(DeviceErrno.writeAction(EIO), .failed(.io))
    }

    func testTheRestOfTheTable() {
        XCTAssertEqual(DeviceErrno.readAction(EINTR), .retry)
        XCTAssertEqual(DeviceErrno.readAction(EAGAIN), .wouldBlock)
        XCTAssertEqual(DeviceErrno.readAction(ENOMEM), .transient)
        XCTAssertEqual(DeviceErrno.writeAction(EINTR), .retry)
        XCTAssertEqual(DeviceErrno.writeAction(EAGAIN), .failed(.wouldBlock))
        XCTAssertEqual(DeviceErrno.writeAction(ENOBUFS), .failed(.noBuffers))
        XCTAssertEqual(DeviceErrno.writeAction(EMSGSIZE), .failed(.rejected))
        XCTAssertEqual(DeviceErrno.writeAction(ENOSPC), .failed(.other(ENOSPC)))
    }

    func testGoneReasonNamesTheDeviceTheReasonAndTheNumber() {
        XCTAssertEqual(DeviceErrno.goneReason(device: "tap0", code: EBADFD),
                       "device tap0 is gone (deleted, or its namespace removed): "
                           + "File descriptor in bad state (errno \(EBADFD))")
    }
}
