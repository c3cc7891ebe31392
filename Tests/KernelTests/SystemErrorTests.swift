import Foundation
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

    /// Starting a process fails with posix_spawn's own errno, named as the call on the program
    /// (it read "cannot start PATH: ..." before).
    func testSpawningAFileThatIsNoProgramSaysSo() throws {
        let path = NSTemporaryDirectory() + "tapir-not-a-program-\(getpid())"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("not a program\n".utf8),
                                                    attributes: [.posixPermissions: 0o755]))
        defer { unlink(path) }
        XCTAssertThrowsError(try Syscalls.spawn(path: path, arguments: [path], stdout: 1, stderr: 2)) { error in
            XCTAssertEqual(error as? SystemError, SystemError(operation: "posix_spawn \(path)", errno: .execFormatError))
            XCTAssertEqual("\(error)", "posix_spawn \(path) failed: Exec format error (errno 8)")
        }
    }

    func testReapGivesTheExitStatusOrOneTwentyEightPlusTheSignal() throws {
        let exited = try Syscalls.spawn(path: "/bin/sh", arguments: ["sh", "-c", "exit 3"], stdout: 1, stderr: 2)
        XCTAssertEqual(Syscalls.reap(exited, blocking: true), 3)
        // Reaped already: not ours to wait for any more.
        XCTAssertEqual(Syscalls.reap(exited, blocking: false), -1)

        let sleeping = try Syscalls.spawn(path: "/bin/sleep", arguments: ["sleep", "10"], stdout: 1, stderr: 2)
        XCTAssertNil(Syscalls.reap(sleeping, blocking: false), "still running")
        XCTAssertTrue(Syscalls.kill(sleeping, SIGKILL))
        XCTAssertEqual(Syscalls.reap(sleeping, blocking: true), 128 + SIGKILL)
        XCTAssertFalse(Syscalls.isAlive(sleeping))
    }

    func testPipeReadsNothingThenWhatWasWrittenThenEndOfFile() throws {
        let pipe = try Syscalls.pipe()
        defer { Syscalls.close(pipe.read) }
        try Syscalls.setNonBlocking(pipe.read)
        var buffer = [UInt8](repeating: 0, count: 16)
        XCTAssertNil(try buffer.withUnsafeMutableBytes { try Syscalls.readNonBlocking(pipe.read, into: $0) })
        try Syscalls.writeAll(pipe.write, [1, 2, 3])
        Syscalls.close(pipe.write)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try Syscalls.readNonBlocking(pipe.read, into: $0) }, 3)
        XCTAssertEqual(Array(buffer.prefix(3)), [1, 2, 3])
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try Syscalls.readNonBlocking(pipe.read, into: $0) }, 0)
    }
}
