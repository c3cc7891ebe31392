import Foundation
import Glibc
import SystemPackage
import XCTest
@testable import Reactor

/// Blocks the handled signals for each test and puts the mask and SIGPIPE back after.
/// Every signal a test sends is read through the loop before the mask is restored.
final class SignalTests: XCTestCase {
    private var saved: SignalMask.SavedState?

    override func setUpWithError() throws {
        saved = try SignalMask.blockTerminationSignals()
    }

    override func tearDownWithError() throws {
        // A signal left pending (a test that failed half-way, SIGCHLD of a spawned
        // child) would otherwise take its default action the moment it is unblocked.
        var handled = SignalSet(SignalMask.handledSignals).raw
        var noWait = timespec()
        while sigtimedwait(&handled, nil, &noWait) > 0 {}
        if let saved { try SignalMask.restore(saved) }
    }

    func testBlockTerminationSignalsBlocksThemAndIgnoresSIGPIPE() throws {
        let mask = try SignalMask.current()
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGCHLD] {
            XCTAssertTrue(mask.contains(signal), "signal \(signal) should be blocked")
        }
        XCTAssertEqual(saved?.mask.contains(SIGHUP), false, "XCTest starts with SIGHUP unblocked")
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        try readEnd.close()
        XCTAssertThrowsError(try writeEnd.writeAll([1])) { error in
            XCTAssertEqual(error as? Errno, .brokenPipe, "SIGPIPE ignored: the write fails instead")
        }
        try writeEnd.close()
    }

    func testRaisedSIGHUPReachesItsCallback() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var received: [String] = []
        try loop.onSignal(SIGHUP) { received.append("HUP"); loop.stop() }
        try loop.onSignal(SIGTERM) { received.append("TERM"); loop.stop() }
        loop.schedule(after: .milliseconds(5)) { raise(SIGHUP) }
        try runLoop(loop)
        XCTAssertEqual(received, ["HUP"])
    }

    func testSIGTERMSentToTheProcessReachesItsCallback() throws {
        // kill() may hand a process signal to any thread that does not block it, so only
        // send it when every thread of this test process blocks SIGTERM.
        let unblocking = threadsNotBlocking(SIGTERM)
        try XCTSkipUnless(unblocking.isEmpty,
                          "threads \(unblocking) of the test process do not block SIGTERM")
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var received: [String] = []
        try loop.onSignal(SIGHUP) { received.append("HUP"); loop.stop() }
        try loop.onSignal(SIGTERM) { received.append("TERM"); loop.stop() }
        loop.schedule(after: .milliseconds(5)) { kill(getpid(), SIGTERM) }
        try runLoop(loop)
        XCTAssertEqual(received, ["TERM"])
    }

    func testEachDeliveryCallsTheCallbackAndHandlersCanBeRemoved() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        var hangups = 0
        var terms = 0
        try loop.onSignal(SIGHUP) {
            hangups += 1
            if hangups == 1 {
                loop.schedule(after: .milliseconds(2)) { raise(SIGHUP) }
            } else {
                loop.stop()
            }
        }
        try loop.onSignal(SIGTERM) { terms += 1 }
        try loop.removeSignalHandler(SIGTERM)
        loop.schedule(after: .milliseconds(5)) { raise(SIGHUP) }
        try runLoop(loop)
        XCTAssertEqual(hangups, 2)
        XCTAssertEqual(terms, 0)
    }

    func testASignalThatIsNotBlockedIsRefused() throws {
        let loop = try EventLoop()
        defer { loop.close() }  // callbacks capture the loop: close() breaks the cycle
        XCTAssertThrowsError(try loop.onSignal(SIGUSR1) {}) { error in
            XCTAssertEqual(error as? ReactorError, .signalNotBlocked(signal: SIGUSR1))
            XCTAssertTrue("\(error)".contains("SignalMask.blockTerminationSignals()"))
        }
    }

    func testPrepareChildGivesTheChildAnEmptyMaskAndDefaultSIGPIPE() throws {
        let plain = try childSignalStatus(prepared: false)
        XCTAssertNotEqual(plain.blocked & (1 << (UInt64(SIGHUP) - 1)), 0,
                          "without prepareChild the child inherits the block")
        XCTAssertNotEqual(plain.ignored & (1 << (UInt64(SIGPIPE) - 1)), 0,
                          "without prepareChild the child inherits the ignored SIGPIPE")
        let prepared = try childSignalStatus(prepared: true)
        XCTAssertEqual(prepared.blocked, 0)
        XCTAssertEqual(prepared.ignored & (1 << (UInt64(SIGPIPE) - 1)), 0)
    }

    // MARK: helpers

    /// Thread ids of this process whose mask lets `signal` through.
    private func threadsNotBlocking(_ signal: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { task in
            guard let status = try? String(contentsOfFile: "/proc/self/task/\(task)/status", encoding: .utf8),
                  let blocked = Self.hexField("SigBlk", in: status)
            else { return true }
            return blocked & (1 << (UInt64(signal) - 1)) == 0
        }
    }

    /// Spawns `cat /proc/self/status` and reads its SigBlk and SigIgn masks.
    private func childSignalStatus(prepared: Bool) throws -> (blocked: UInt64, ignored: UInt64) {
        let (readEnd, writeEnd) = try FileDescriptor.pipe()
        defer { try? readEnd.close() }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, writeEnd.rawValue, 1)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if prepared { try SignalMask.prepareChild(&attributes) }

        let arguments = ["/bin/cat", "/proc/self/status"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/bin/cat", &actions, &attributes, &argv, environ)
        try writeEnd.close()
        XCTAssertEqual(result, 0, "posix_spawn failed: \(result)")
        guard result == 0 else { return (0, 0) }

        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = try buffer.withUnsafeMutableBytes { try readEnd.read(into: $0) }
            if count == 0 { break }
            output += buffer.prefix(count)
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let text = String(decoding: output, as: UTF8.self)
        guard let blocked = Self.hexField("SigBlk", in: text),
              let ignored = Self.hexField("SigIgn", in: text)
        else {
            XCTFail("no SigBlk/SigIgn in the child's status: \(text)")
            return (0, 0)
        }
        return (blocked, ignored)
    }

    private static func hexField(_ name: String, in status: String) -> UInt64? {
        for line in status.split(separator: "\n") where line.hasPrefix(name + ":") {
            return UInt64(line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces), radix: 16)
        }
        return nil
    }
}
