import Devices
import Foundation
import Glibc
import XCTest

/// `tapir run` on real tap and tun devices in a namespace the test makes, with the Linux
/// kernel as the peer (ping, nc), and the kernel's own error counters read afterwards.
final class RunKernelTests: XCTestCase {
    func startTapir(_ arguments: [String], device: String, in sandbox: Sandbox) throws -> ChildProcess {
        let process = try sandbox.start([TapirCommand.path, "run"] + arguments + ["--dev", device])
        try TapirCommand.waitForDevice(device, in: sandbox, process: process)
        try sandbox.ip(["addr", "add", "198.18.0.1/24", "dev", device])
        if !arguments.contains("--tun") {
            try sandbox.ip(["-6", "addr", "add", "2001:2::1/64", "dev", device, "nodad"])
        }
        try sandbox.ip(["link", "set", device, "up"])
        return process
    }

    func assertNoKernelErrors(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) throws {
        let counters = try TapirCommand.errorCounters(in: sandbox)
        XCTAssertFalse(counters.isEmpty, file: file, line: line)
        for (name, value) in counters {
            XCTAssertEqual(value, 0, "\(name)", file: file, line: line)
        }
    }

    func testTheExampleResponderAnswersARPPingAndUDPEchoOnATap() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startTapir([TapirCommand.lua("examples/responder.lua")], device: "tapt0", in: sandbox)

        let ping = try sandbox.run(["ping", "-c", "5", "-i", "0.2", "-W", "2", "198.18.0.2"])
        XCTAssertTrue(ping.stdout.contains("5 received"), ping.stdout + ping.stderr)
        let neighbour = try sandbox.ip(["neigh", "show", "198.18.0.2", "dev", "tapt0"]).stdout
        XCTAssertTrue(neighbour.contains("02:54:41:50:49:52"), neighbour)
        let echo = try sandbox.run(["sh", "-c", "echo hello-tapir | nc -u -w1 198.18.0.2 7"])
        XCTAssertEqual(echo.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "hello-tapir", echo.stderr)
        try assertNoKernelErrors(sandbox)

        let output = TapirCommand.stop(tapir)
        XCTAssertEqual(output.status, 0, output.stderr)
    }

    func testUDPEchoOverATunDevice() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startTapir([TapirCommand.lua("examples/responder.lua"), "--tun"], device: "tunt0",
                                   in: sandbox)
        let echo = try sandbox.run(["sh", "-c", "echo over-tun | nc -u -w1 198.18.0.2 7"])
        XCTAssertEqual(echo.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "over-tun", echo.stderr)
        let ping = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"])
        XCTAssertTrue(ping.stdout.contains("3 received"), ping.stdout + ping.stderr)
        try assertNoKernelErrors(sandbox)
        XCTAssertEqual(TapirCommand.stop(tapir).status, 0)
    }

    func testAMissingScriptIsAClearErrorWithANonZeroStatus() throws {
        let output = try ChildProcess.run([TapirCommand.path, "replay", "/nonexistent.pcap", "/nonexistent.lua"])
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("/nonexistent.pcap"), output.stderr)
    }
}
