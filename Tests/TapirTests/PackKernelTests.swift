import Devices
import Foundation
import Glibc
import XCTest

/// The bundled packs under `tapir run` on a tap in a namespace the test makes, with the
/// Linux kernel as the peer (arping, ping, ping -6, nc -u, a UDP socket).
final class PackKernelTests: XCTestCase {
    func startPack(_ arguments: [String], device: String, in sandbox: Sandbox) throws -> ChildProcess {
        try TapirCommand.start(arguments, device: device, in: sandbox, ipv6: true)
    }

    func stop(_ process: ChildProcess, file: StaticString = #filePath, line: UInt = #line) {
        let output = TapirCommand.stop(process)
        XCTAssertEqual(output.status, 0, output.stderr, file: file, line: line)
    }

    func assertPings(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) throws {
        let ping = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"])
        XCTAssertTrue(ping.stdout.contains("3 received"), ping.stdout + ping.stderr, file: file, line: line)
        let ping6 = try sandbox.run(["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2", "2001:2::2"])
        XCTAssertTrue(ping6.stdout.contains("3 received"), ping6.stdout + ping6.stderr, file: file, line: line)
    }

    /// Three replies, in the words of either arping (iputils or Thomas Habets').
    func assertArping(_ sandbox: Sandbox, device: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let arping = try sandbox.run(["arping", "-c", "3", "-w", "5", "-I", device, "198.18.0.2"])
        let text = arping.stdout
        XCTAssertTrue(text.contains("Received 3 response") || text.contains("3 packets received"),
                      text + arping.stderr, file: file, line: line)
    }

    func assertUDPEcho(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) throws {
        let echo = try sandbox.run(["sh", "-c", "echo hello-pack | nc -u -w1 198.18.0.2 7"])
        XCTAssertEqual(echo.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "hello-pack", echo.stderr,
                       file: file, line: line)
    }

    func testArpResponderAnswersArping() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startPack([TapirCommand.lua("packs/arp-responder")], device: "tapa0", in: sandbox)
        try assertArping(sandbox, device: "tapa0")
        stop(tapir)
    }

    func testIcmpEchoAnswersPingAndPing6() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startPack([TapirCommand.lua("packs/icmp-echo")], device: "tapi0", in: sandbox)
        try assertPings(sandbox)
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
        stop(tapir)
    }

    func testUdpEchoRoundTrip() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startPack([TapirCommand.lua("packs/udp-echo")], device: "tapu0", in: sandbox)
        try assertUDPEcho(sandbox)
        stop(tapir)
    }

    func testVirtualHostBehavesLikeAHost() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startPack([TapirCommand.lua("packs/virtual-host")], device: "tapv0", in: sandbox)
        try assertArping(sandbox, device: "tapv0")
        try assertPings(sandbox)
        try assertUDPEcho(sandbox)
        let refused = try sandbox.run(["python3", "-c", """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(2)
            s.connect(("198.18.0.2", 9999))
            s.send(b"anyone?")
            try:
                s.recv(100)
                print("answered")
            except ConnectionRefusedError:
                print("connection refused")
            except socket.timeout:
                print("no answer")
            """])
        XCTAssertEqual(refused.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "connection refused",
                       refused.stderr)
        let tcp = try sandbox.run(["sh", "-c", "nc -z -w2 198.18.0.2 80; echo status=$?"])
        XCTAssertTrue(tcp.stdout.contains("status=1"), tcp.stdout + tcp.stderr)
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
        stop(tapir)
    }
}
