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

    /// What Linux answers and the virtual host must too: ping -R gets the record-route
    /// option back with the host's address in it (in, and out again); an ICMP timestamp
    /// request gets a timestamp reply; a reset's window is 0.
    func assertAnswersAsLinuxDoes(_ sandbox: Sandbox, file: StaticString = #filePath, line: UInt = #line) throws {
        let recorded = try sandbox.run(["ping", "-R", "-c", "1", "-W", "2", "198.18.0.2"])
        let route = recorded.stdout.components(separatedBy: "RR:").dropFirst().first ?? ""
        let addresses = route.split(whereSeparator: { $0.isWhitespace }).prefix(4).map(String.init)
        XCTAssertEqual(addresses, ["198.18.0.1", "198.18.0.2", "198.18.0.2", "198.18.0.1"],
                       recorded.stdout + recorded.stderr, file: file, line: line)
        let probe = try sandbox.run(["python3", "-c", """
            import socket, struct, time
            def checksum(data):
                total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
                while total > 0xffff: total = (total & 0xffff) + (total >> 16)
                return ~total & 0xffff
            icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            icmp.settimeout(2)
            body = struct.pack("!BBHHHIII", 13, 0, 0, 0x7a, 1, 4242, 0, 0)
            icmp.sendto(body[:2] + struct.pack("!H", checksum(body)) + body[4:], ("198.18.0.2", 0))
            while True:
                packet = icmp.recv(200)
                start = (packet[0] & 15) * 4
                kind, code, _, ident, seq, originate, receive, transmit = struct.unpack("!BBHHHIII", packet[start:start + 20])
                if kind == 14 and ident == 0x7a:
                    print("timestamp", originate, receive == transmit, 0 <= receive < 86400000)
                    break
            tcp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
            tcp.settimeout(2)
            probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probe.settimeout(2)
            try:
                probe.connect(("198.18.0.2", 81))
            except OSError:
                pass
            while True:
                packet = tcp.recv(200)
                start = (packet[0] & 15) * 4
                sport, dport, seq, ack, offset, flags, window = struct.unpack("!HHIIBBH", packet[start:start + 16])
                if sport == 81 and flags & 4:
                    print("reset window", window)
                    break
            """])
        XCTAssertTrue(probe.stdout.contains("timestamp 4242 True True"), probe.stdout + probe.stderr, file: file, line: line)
        XCTAssertTrue(probe.stdout.contains("reset window 0"), probe.stdout + probe.stderr, file: file, line: line)
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
        let echo6 = try sandbox.run(["sh", "-c", "echo hello-v6 | nc -6 -u -w1 2001:2::2 7"])
        XCTAssertEqual(echo6.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "hello-v6", echo6.stderr)
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
        try assertAnswersAsLinuxDoes(sandbox)
        try XCTAssertEqual(TapirCommand.errorCounters(in: sandbox).values.filter { $0 != 0 }.count, 0)
        stop(tapir)
    }

    /// As a NIC: with the kernel's neighbour entry for 198.18.0.2 pointing at another MAC
    /// (a flooded or bridged segment), the pings reach the tap but the virtual host answers
    /// none of them; with its own MAC it answers them all.
    func testVirtualHostIgnoresFramesToAnotherMAC() throws {
        try TapirCommand.requireRoot()
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startPack([TapirCommand.lua("packs/virtual-host")], device: "tapf0", in: sandbox)
        try sandbox.ip(["neigh", "replace", "198.18.0.2", "lladdr", "02:99:00:00:00:09", "nud", "permanent", "dev", "tapf0"])
        let foreign = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "1", "198.18.0.2"])
        XCTAssertTrue(foreign.stdout.contains("3 packets transmitted, 0 received"), foreign.stdout + foreign.stderr)
        try sandbox.ip(["neigh", "replace", "198.18.0.2", "lladdr", "02:54:41:50:49:52", "nud", "permanent", "dev", "tapf0"])
        let own = try sandbox.run(["ping", "-c", "3", "-i", "0.2", "-W", "2", "198.18.0.2"])
        XCTAssertTrue(own.stdout.contains("3 received"), own.stdout + own.stderr)
        stop(tapir)
    }

    /// `tapir pack new NAME`, then `tapir run ./NAME`: the kernel reaches it at once (ARP,
    /// neighbour discovery and ping through tapir.neighbours) and gets the greeting on UDP.
    func testANewPackAnswersPingAtOnce() throws {
        try TapirCommand.requireRoot()
        let directory = NSTemporaryDirectory() + "tapir-new-pack-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try ChildProcess.run([TapirCommand.path, "pack", "new", "hello", "--into", directory],
                                        timeout: .seconds(30))
        XCTAssertEqual(made.status, 0, made.stderr)
        let sandbox = try Sandbox(prefix: "tapir-test")
        defer { sandbox.remove() }
        let tapir = try startPack([directory + "/hello"], device: "tapn0", in: sandbox)
        try assertPings(sandbox)
        let greeting = try sandbox.run(["sh", "-c", "echo hi | nc -u -w1 198.18.0.2 9000"])
        XCTAssertEqual(greeting.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "hello from hello", greeting.stderr)
        stop(tapir)
    }
}
