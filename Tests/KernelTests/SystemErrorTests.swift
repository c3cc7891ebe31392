import Glibc
import Kernel
import SystemPackage
import XCTest

/// The one error type of the kernel boundary, and the errnos it refuses to carry.
final class SystemErrorTests: XCTestCase {
    /// EBADF and EFAULT mean a bug in Tapir and trap at the wrapper (which a test cannot
    /// watch in-process); everything a device, a pipe or a process reports is carried.
    func testProgrammingErrorsAreEBADFAndEFAULTOnly() {
        XCTAssertTrue(Errno(rawValue: EBADF).isProgrammingError)
        XCTAssertTrue(Errno(rawValue: EFAULT).isProgrammingError)
        // What a device deleted under an open descriptor says, and the other everyday errnos.
        for code in [EBADFD, EIO, ENXIO, ENODEV, EPIPE, ESHUTDOWN, EAGAIN, EINTR, EPERM, EACCES,
                     ENOENT, EINVAL, ENOBUFS, EMSGSIZE, ECHILD, ESRCH, ENOEXEC] {
            XCTAssertFalse(Errno(rawValue: code).isProgrammingError, "errno \(code)")
        }
    }

    func testMessageNamesTheCallTheReasonAndTheNumber() {
        // The privilege drop's failures read this way after "tapir: cannot drop root to USER: "
        // (before, without the number).
        XCTAssertEqual("\(SystemError(operation: "setuid 1000", errno: .notPermitted))",
                       "setuid 1000 failed: Operation not permitted (errno 1)")
        XCTAssertEqual("\(SystemError(operation: "prctl(PR_SET_NO_NEW_PRIVS)", errno: .invalidArgument))",
                       "prctl(PR_SET_NO_NEW_PRIVS) failed: Invalid argument (errno 22)")
        XCTAssertEqual(Errno.ioError.explained, "Input/output error (errno 5)")
    }

    func testAFailedCallThrowsItsOperationAndErrno() throws {
        let inotify = try Syscalls.inotifyCreate()
        defer { Syscalls.close(inotify) }
        XCTAssertThrowsError(try Syscalls.inotifyAddWatch(inotify, directory: "/tapir-no-such-directory", mask: 0x8)) {
            XCTAssertEqual($0 as? SystemError,
                           SystemError(operation: "inotify_add_watch /tapir-no-such-directory",
                                       errno: .noSuchFileOrDirectory))
        }
    }
}
