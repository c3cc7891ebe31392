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

    /// A frame shorter than the link's header never reaches the kernel: dev:write returns
    /// false, counts it, and the first one on each device says why (before, the tap's
    /// kernel side refused it with EINVAL, logged as a failing write once per burst).
    func testAFrameTooShortForTheLinkIsRefusedAndSaidOnce() throws {
        try TapirCommand.requireRoot()
        for (mode, device, said) in [("tap", "tapshort0", "shorter than an Ethernet header (14 bytes)"),
                                     ("tun", "tunshort0", "shorter than an IPv4 header (20 bytes)")] {
            let sandbox = try Sandbox(prefix: "tapir-test")
            defer { sandbox.remove() }
            let script = NSTemporaryDirectory() + "tapir-short-\(getpid())-\(mode).lua"
            defer { try? FileManager.default.removeItem(atPath: script) }
            try """
                local IP, MAC = "198.18.0.2", "02:54:41:50:49:52"
                tapir.on("arp", {op = 1, tpa = IP}, function(pkt, dev)
                  dev:write(pkt:reply{arp = {op = 2, sha = MAC}, eth = {src = MAC}})
                  return true
                end)
                tapir.on("udp", {dport = 7}, function(pkt, dev)
                  local written = dev:write(string.rep("x", 10))
                  local errors = tapir.stats().devices[dev.name].write_errors
                  dev:write(pkt:reply{payload = tostring(written) .. ":" .. errors})
                  return true
                end)
                """.write(toFile: script, atomically: true, encoding: .utf8)
            let tapir = try startTapir([script] + (mode == "tun" ? ["--tun"] : []), device: device, in: sandbox)
            for expected in ["false:1", "false:2"] {
                let echo = try sandbox.run(["sh", "-c", "printf q | nc -u -w1 198.18.0.2 7"])
                XCTAssertEqual(echo.stdout, expected, "\(mode): \(echo.stderr)")
            }
            let output = TapirCommand.stop(tapir)
            XCTAssertEqual(output.status, 0, output.stderr)
            XCTAssertEqual(output.stderr.components(separatedBy: "refused: shorter than").count - 1, 1, output.stderr)
            XCTAssertTrue(output.stderr.contains("dev:write of 10 bytes to \(device) (\(mode)) refused: \(said)"),
                          output.stderr)
            XCTAssertFalse(output.stderr.contains("write to \(device) failed"), output.stderr)
        }
    }

    func testAMissingScriptIsAClearErrorWithANonZeroStatus() throws {
        let output = try ChildProcess.run([TapirCommand.path, "replay", "/nonexistent.pcap", "/nonexistent.lua"])
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("/nonexistent.pcap"), output.stderr)
    }
}
