import Devices
import Foundation
import Glibc
import Kernel
import XCTest

final class ChildProcessTests: XCTestCase {
    func testCapturesOutputAndStatus() throws {
        let output = try ChildProcess.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
        XCTAssertEqual(output.stdout, "out\n")
        XCTAssertEqual(output.stderr, "err\n")
        XCTAssertEqual(output.status, 3)
        XCTAssertFalse(output.succeeded)
        XCTAssertFalse(output.timedOut)
    }

    func testChildStartsWithEmptySignalMaskAndDefaultDispositions() throws {
        // The host blocks these in every thread; a child must not inherit that.
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signal in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&blocked, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        let previousHandler = Glibc.signal(SIGUSR2, SIG_IGN)
        defer {
            pthread_sigmask(SIG_SETMASK, &previous, nil)
            Glibc.signal(SIGUSR2, previousHandler)
        }
        let output = try ChildProcess.run(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        XCTAssertTrue(output.succeeded, output.stderr)
        XCTAssertTrue(output.stdout.contains("SigBlk:\t0000000000000000"), output.stdout)
        // glibc's posix_spawn leaves its internal signals 32 and 33 ignored; the standard
        // signals (1...31) must all be at their default.
        let ignored = output.stdout.split(separator: "\n").first { $0.hasPrefix("SigIgn:") }
            .flatMap { UInt64($0.dropFirst("SigIgn:".count).trimmingPrefix("\t"), radix: 16) }
        XCTAssertEqual(ignored.map { $0 & 0x7fff_ffff }, 0, output.stdout)
    }

    func testTimeoutKills() throws {
        let started = ContinuousClock.now
        let output = try ChildProcess.run(["sleep", "10"], timeout: .milliseconds(200))
        XCTAssertTrue(output.timedOut)
        XCTAssertEqual(output.status, 128 + SIGKILL)
        XCTAssertLessThan(started.duration(to: .now), .seconds(5))
    }

    func testMissingProgramIsAClearError() {
        XCTAssertThrowsError(try ChildProcess.spawn(["tapir-no-such-program"])) { error in
            guard case .programNotFound(let program, _)? = error as? DeviceError else {
                return XCTFail("\(error)")
            }
            XCTAssertEqual(program, "tapir-no-such-program")
        }
        let message = "\(DeviceError.programNotFound(program: "ip", hint: "install iproute2 (apt-get install iproute2)"))"
        XCTAssertTrue(message.contains("install iproute2"), message)
    }

    /// An empty command is its own error (it was a made-up EINVAL, "cannot start (empty
    /// command): Invalid argument (errno 22)").
    func testEmptyCommandIsItsOwnError() {
        XCTAssertThrowsError(try ChildProcess.spawn([])) { error in
            XCTAssertEqual(error as? DeviceError, .emptyCommand)
            XCTAssertEqual("\(error)", "no program to run: the command is empty")
        }
    }

    /// A program that cannot start is the system call's error, posix_spawn's errno and all
    /// (it read "cannot start PATH: Exec format error (errno 8)").
    func testProgramThatCannotStartIsTheSystemError() throws {
        let path = NSTemporaryDirectory() + "tapir-child-not-a-program-\(getpid())"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("not a program\n".utf8),
                                                    attributes: [.posixPermissions: 0o755]))
        defer { unlink(path) }
        XCTAssertThrowsError(try ChildProcess.spawn([path])) { error in
            XCTAssertEqual(error as? DeviceError,
                           .system(SystemError(operation: "posix_spawn \(path)", errno: .execFormatError)))
            XCTAssertEqual("\(error)", "posix_spawn \(path) failed: Exec format error (errno 8)")
        }
    }

    func testHasExitedWhileRunning() throws {
        let child = try ChildProcess.spawn(["sleep", "0.2"])
        XCTAssertFalse(child.hasExited)
        let deadline = ContinuousClock.now + .seconds(5)
        while !child.hasExited, ContinuousClock.now < deadline { usleep(10_000) }
        XCTAssertTrue(child.hasExited)
        XCTAssertTrue(child.wait().succeeded)
    }
}
