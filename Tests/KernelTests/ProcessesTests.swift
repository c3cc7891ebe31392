import Foundation
import Glibc
import Kernel
import SystemPackage
import XCTest

/// Starting, signalling and reaping children.
final class ProcessesTests: XCTestCase {
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
}
